//! Times the phases of one invocation separately (for profiling; see docs/performance.md).
use std::time::Instant;
fn main() {
    let body = std::fs::read_to_string("target/bench/invocation-3mb.json").expect("run `just bench` first");
    let only_transform = std::env::args().any(|a| a == "--transform");
    let inv: eventlake_transform::Invocation<'static> = serde_json::from_slice(body.as_bytes()).unwrap();
    for _ in 0..if only_transform { 200 } else { 8 } {
        let t = Instant::now();
        let inv2: eventlake_transform::Invocation<'static> = serde_json::from_slice(body.as_bytes()).unwrap();
        let a = t.elapsed();
        let out = eventlake_transform::transform(if only_transform { &inv } else { &inv2 }).unwrap();
        if only_transform {
            continue;
        }
        let b = t.elapsed();
        let text = eventlake_transform::firehose::write_response(&out.response);
        let c = t.elapsed();
        let _r = serde_json::value::RawValue::from_string(text).unwrap();
        let d = t.elapsed();
        if !only_transform {
            println!(
                "parse {:?} transform {:?} write {:?} validate {:?}",
                a,
                b - a,
                c - b,
                d - c
            );
        }
    }
}
