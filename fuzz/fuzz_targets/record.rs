//! Any bytes as one record's data: never panics, and an `Ok` output is one compact JSON
//! object line whose payload parses and whose fields agree with the partition keys.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((out, info)) = eventlake_transform::enrich(data) else { return };
    assert_eq!(out.last(), Some(&b'\n'));
    let v: serde_json::Value = serde_json::from_slice(&out).expect("Ok output is JSON");
    let payload = v["payload"].as_str().expect("payload is a string");
    match serde_json::from_str::<serde_json::Value>(payload) {
        Ok(p) => assert!(p.is_object()),
        // Numbers beyond f64 are valid JSON that serde_json refuses; kept byte-exact.
        Err(e) => assert!(e.to_string().starts_with("number out of range"), "{e}"),
    }
    assert_eq!(v["event_type"].as_str(), Some(info.partition_keys.event_type.as_str()));
    assert!(v["created_datetime"].as_str().unwrap().starts_with(&info.partition_keys.created_date));
    // Deterministic.
    assert_eq!(eventlake_transform::enrich(data).unwrap().0, out);
});
