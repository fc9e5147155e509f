//! Any bytes as a whole invocation body, through the Lambda's own entry (`handle_body`):
//! never panics; the envelope reader agrees with serde_json; a readable envelope gets exactly
//! one answer per record, and the written response is the serde form of the response.
#![no_main]

use eventlake_transform::handler::{Config, Handler};
use eventlake_transform::{parse_invocation, transform, Invocation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut wire = Vec::new();
    let handled = Handler::new(Config::default()).handle_body(data, &mut wire, &mut std::io::sink());
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ours = parse_invocation(text).ok();
    assert_eq!(ours, serde_json::from_str::<Invocation<'_>>(text).ok());
    let Some(inv) = ours else {
        assert!(handled.is_err());
        return;
    };
    let out = transform(&inv).expect("small inputs always fit");
    assert_eq!(out.response.records.len(), inv.records.len());
    assert!(handled.is_ok());
    assert_eq!(serde_json::to_vec(&out.response).unwrap(), wire);
});
