//! Times the stages of one invocation separately, for profiling (docs/performance.md):
//! `cargo run --release -p eventlake-transform --example phases` after `just bench`.
/// The same allocator as the Lambda binary, so the numbers are the Lambda's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use base64::Engine;

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let body = std::fs::read_to_string("target/bench/invocation-3mb.json").expect("run `just bench` first");
    let inv: eventlake_transform::Invocation<'static> = serde_json::from_slice(body.as_bytes()).unwrap();
    let events: Vec<Vec<u8>> = inv
        .records
        .iter()
        .map(|r| {
            base64::engine::general_purpose::STANDARD
                .decode(r.data.as_bytes())
                .unwrap()
        })
        .collect();
    let bytes: usize = events.iter().map(Vec::len).sum();
    if std::env::args().any(|a| a == "--enrich-only") {
        let mut enricher = eventlake_transform::Enricher::new();
        let mut out = Vec::new();
        for _ in 0..300 {
            for e in &events {
                out.clear();
                let _ = std::hint::black_box(enricher.enrich(e, &mut out));
            }
        }
        return;
    }
    if std::env::args().any(|a| a == "--handler") {
        let config = eventlake_transform::handler::Config::default();
        let mut times = Vec::new();
        for _ in 0..30 {
            let t = Instant::now();
            let payload: eventlake_transform::Invocation<'static> = serde_json::from_slice(body.as_bytes()).unwrap();
            let a = t.elapsed();
            let event = lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default());
            let wire = eventlake_transform::handler::handle(&config, event, &mut std::io::sink()).unwrap();
            let b = t.elapsed();
            drop(wire);
            let c = t.elapsed();
            times.push((ms(a), ms(b - a), ms(c - b)));
        }
        times.sort_by(|x, y| (x.0 + x.1 + x.2).total_cmp(&(y.0 + y.1 + y.2)));
        println!(
            "median: parse {:.2} ms, handle {:.2} ms, drop {:.2} ms",
            times[15].0, times[15].1, times[15].2
        );
        return;
    }
    let mut best = [f64::MAX; 8];
    for _ in 0..20 {
        let t = Instant::now();
        let parsed: eventlake_transform::Invocation<'static> = serde_json::from_slice(body.as_bytes()).unwrap();
        let t_parse = t.elapsed();
        let t = Instant::now();
        let mut decoded = Vec::new();
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
        let mut enricher = eventlake_transform::Enricher::new();
        let mut out = Vec::new();
        let mut outs = 0;
        for e in &events {
            out.clear();
            let _ = enricher.enrich(e, &mut out);
            outs += out.len();
        }
        let t_enrich = t.elapsed();
        let t = Instant::now();
        let transformed = eventlake_transform::transform(&parsed).unwrap();
        let t_transform = t.elapsed();
        let t = Instant::now();
        let text = eventlake_transform::firehose::write_response(&transformed.response);
        let t_write = t.elapsed();
        let t = Instant::now();
        let _r = serde_json::value::RawValue::from_string(text).unwrap();
        let t_validate = t.elapsed();
        let t = Instant::now();
        let mut enc = String::new();
        for e in &events {
            enc.clear();
            base64_simd::STANDARD.encode_append(e, &mut enc);
        }
        let t_encode = t.elapsed();
        std::hint::black_box(outs);
        for (b, v) in best.iter_mut().zip([
            t_parse,
            t_decode,
            t_utf8,
            t_enrich,
            t_transform,
            t_write,
            t_validate,
            t_encode,
        ]) {
            *b = b.min(ms(v));
        }
    }
    let names = [
        "parse envelope",
        "base64 decode",
        "utf-8 check",
        "enrich (all records)",
        "transform (whole batch)",
        "write response",
        "validate response",
        "base64 encode",
    ];
    println!(
        "{} records, {:.2} MB of events; best of 20:",
        events.len(),
        bytes as f64 / 1e6
    );
    for (n, b) in names.iter().zip(best) {
        println!(
            "  {n:<26} {b:>7.2} ms  {:>8.0} MB/s of event bytes",
            bytes as f64 / 1e6 / (b / 1e3)
        );
    }
}
