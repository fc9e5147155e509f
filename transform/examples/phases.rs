//! Times the stages of one invocation separately, for profiling (docs/performance.md):
//! `cargo run --release -p eventlake-transform --example phases` after `just bench`.
//! `--handler` loops the whole handler (for `perf record`), `--envelope` the envelope reader,
//! `--records` the record path (`transform_into`), `--enrich-only` `enrich`.
/// The same allocator as the Lambda binary, so the numbers are the Lambda's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use eventlake_transform::handler::{Config, Handler};
use eventlake_transform::{parse_invocation, Enricher, Invocation, Transformer, RESPONSE_LIMIT_BYTES};

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let body = std::fs::read_to_string("target/bench/invocation-3mb.json").expect("run `just bench` first");
    let inv = parse_invocation(&body).unwrap();
    let events: Vec<Vec<u8>> = inv
        .records
        .iter()
        .map(|r| base64_simd::STANDARD.decode_to_vec(r.data.as_bytes()).unwrap())
        .collect();
    let bytes: usize = events.iter().map(Vec::len).sum();
    let mut handler = Handler::new(Config::default());
    let mut response = Vec::new();
    if std::env::args().any(|a| a == "--enrich-only") {
        let mut enricher = Enricher::new();
        let mut out = Vec::new();
        for _ in 0..300 {
            for e in &events {
                out.clear();
                let _ = std::hint::black_box(enricher.enrich(e, &mut out));
            }
        }
        return;
    }
    if std::env::args().any(|a| a == "--envelope") {
        for _ in 0..1000 {
            std::hint::black_box(parse_invocation(&body).unwrap());
        }
        return;
    }
    if std::env::args().any(|a| a == "--records") {
        let mut transformer = Transformer::new();
        for _ in 0..300 {
            transformer
                .transform_into(
                    &inv,
                    eventlake_transform::embedded_lake_days(),
                    RESPONSE_LIMIT_BYTES,
                    &mut response,
                )
                .unwrap();
        }
        return;
    }
    if std::env::args().any(|a| a == "--handler") {
        // An iteration count may follow (e.g. 3 under `valgrind --tool=callgrind`).
        let n = std::env::args().next_back().and_then(|a| a.parse().ok()).unwrap_or(300);
        for _ in 0..n {
            handler
                .handle_body(body.as_bytes(), &mut response, &mut std::io::sink())
                .unwrap();
        }
        return;
    }
    let mut best = [f64::MAX; 9];
    let mut enricher = Enricher::new();
    let mut transformer = Transformer::new();
    let (mut decoded, mut out, mut enc) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..20 {
        let t = Instant::now();
        let serde_parsed: Invocation<'static> = serde_json::from_slice(body.as_bytes()).unwrap();
        let t_serde = t.elapsed();
        drop(serde_parsed);
        let t = Instant::now();
        let parsed = parse_invocation(&body).unwrap();
        let t_parse = t.elapsed();
        let t = Instant::now();
        for r in &parsed.records {
            decoded.clear();
            base64_simd::STANDARD
                .decode_append(r.data.as_bytes(), &mut decoded)
                .unwrap();
        }
        let t_decode = t.elapsed();
        let t = Instant::now();
        for e in &events {
            std::hint::black_box(simdutf8::basic::from_utf8(e).unwrap());
        }
        let t_utf8 = t.elapsed();
        let t = Instant::now();
        let mut outs = 0;
        for e in &events {
            out.clear();
            let _ = enricher.enrich(e, &mut out);
            outs += out.len();
        }
        let t_enrich = t.elapsed();
        std::hint::black_box(outs);
        let t = Instant::now();
        for e in &events {
            enc.clear();
            base64_simd::STANDARD.encode_append(e, &mut enc);
        }
        let t_encode = t.elapsed();
        let t = Instant::now();
        transformer
            .transform_into(
                &parsed,
                eventlake_transform::embedded_lake_days(),
                RESPONSE_LIMIT_BYTES,
                &mut response,
            )
            .unwrap();
        let t_transform = t.elapsed();
        let t = Instant::now();
        let check: Result<Box<serde_json::value::RawValue>, _> = serde_json::from_slice(&response);
        let t_validate = t.elapsed();
        drop(check.unwrap());
        let t = Instant::now();
        handler
            .handle_body(body.as_bytes(), &mut response, &mut std::io::sink())
            .unwrap();
        let t_handler = t.elapsed();
        for (b, v) in best.iter_mut().zip([
            t_serde,
            t_parse,
            t_decode,
            t_utf8,
            t_enrich,
            t_encode,
            t_transform,
            t_validate,
            t_handler,
        ]) {
            *b = b.min(ms(v));
        }
    }
    let names = [
        "envelope, serde_json (owned)",
        "envelope, own reader",
        "base64 decode",
        "utf-8 check",
        "enrich (all records)",
        "base64 encode",
        "transform_into (records)",
        "serde_json RawValue check",
        "handle_body (whole)",
    ];
    println!(
        "{} records, {:.2} MB of events; best of 20:",
        events.len(),
        bytes as f64 / 1e6
    );
    for (n, b) in names.iter().zip(best) {
        println!(
            "  {n:<30} {b:>7.2} ms  {:>8.0} MB/s of event bytes",
            bytes as f64 / 1e6 / (b / 1e3)
        );
    }
}
