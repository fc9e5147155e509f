//! Any bytes as a whole invocation body: never panics; a readable envelope gets exactly one
//! answer per record, and the written response is the serde form of the response.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(inv) = eventlake_transform::parse_invocation(text) else { return };
    let out = eventlake_transform::transform(&inv).expect("small inputs always fit");
    assert_eq!(out.response.records.len(), inv.records.len());
    let written = eventlake_transform::firehose::write_response(&out.response);
    assert_eq!(written, serde_json::to_string(&out.response).unwrap());
});
