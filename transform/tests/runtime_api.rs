//! The real `eventlake-transform` binary against the real protocol: a small in-test HTTP
//! server speaks the Lambda Runtime API (`/next`, `/response`, `/error`) on loopback.

mod common;

use std::time::Duration;

use common::runtime_api::{spawn_lambda, start};
use eventlake_transform::{parse_invocation, transform};

#[test]
fn the_lambda_binary_answers_the_runtime_api() {
    let fixture = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/not-an-event/input.json")).unwrap();
    let events = vec![
        ("req-1".to_string(), fixture.clone()),
        ("req-2".to_string(), b"{\"not\":\"firehose\"}".to_vec()),
    ];
    let (addr, rx) = start(events);

    let mut child = spawn_lambda(env!("CARGO_BIN_EXE_eventlake-transform"), addr);

    let mut got = Vec::new();
    while got.len() < 3 {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(req) => got.push(req),
            Err(_) => {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "no answer from the binary; seen {got:?}\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();

    // 1. The fixture: the response is exactly what the in-process handler returns.
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/2018-06-01/runtime/invocation/req-1/response")
    );
    // Answered by the Firehose layer (lambda_runtime's own path sets no content type), with
    // the Runtime API's invocation id echoed.
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(got[0].header("lambda-runtime-invocation-id"), Some("inv-req-1"));
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    let text = String::from_utf8(fixture).unwrap();
    let expected = serde_json::to_value(transform(&parse_invocation(&text).unwrap()).unwrap().response).unwrap();
    assert_eq!(body, expected);

    // 2. An unreadable envelope is an invocation error: the layer passes it on to
    //    lambda_runtime's own path, which parses the body into the invocation type, names what
    //    is missing and reports it on /error.
    assert_eq!(
        (got[1].method.as_str(), got[1].path.as_str()),
        ("POST", "/2018-06-01/runtime/invocation/req-2/error")
    );
    let err = String::from_utf8_lossy(&got[1].body);
    assert!(err.contains("missing field `invocationId`"), "{err}");

    // 3. The runtime asked for the next event.
    assert!(got[2].path.ends_with("/runtime/invocation/next"));

    // stdout: JSON log lines and the EMF metrics documents, one per line.
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let emf: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert!(emf.len() >= 2, "totals and per-reason documents: {stdout}");
    assert_eq!(emf[0]["DeliveryStream"], "eventlake-dev-delivery");
    assert_eq!(emf[0]["RecordsIn"], 12);
    let rejected: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "Record rejected.").collect();
    assert_eq!(
        rejected.len(),
        10,
        "the first 10 rejections are logged one by one: {stdout}"
    );
    assert!(rejected
        .iter()
        .all(|l| l["record_id"].is_string() && l["reason"].is_string()));
    assert!(lines
        .iter()
        .any(|l| l["message"] == "More records rejected than logged individually."));
}
