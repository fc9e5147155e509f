//! Every fixture folder: the transform's response equals `expected.json`, record by record,
//! byte-exact for `Ok` data, and every `Ok` record fits the Glue table.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use eventlake_glue_schema::Table;
use eventlake_tests::{check_fits_table, fixtures, ok_records, render_ok, transform_at_fixture_time as transform};
use eventlake_transform::{parse_invocation, RecordResult};
use serde_json::Value;

#[test]
fn fixtures_match_expected_output() {
    let all = fixtures();
    assert!(all.len() >= 8, "fixture folders found: {}", all.len());
    for fx in all {
        let invocation = parse_invocation(&fx.input).unwrap_or_else(|e| panic!("{}: {e}", fx.name));
        let out = transform(&invocation).unwrap_or_else(|e| panic!("{}: {e}", fx.name));
        let expected = fx.expected["records"].as_array().expect("records");
        assert_eq!(
            out.response.records.len(),
            invocation.records.len(),
            "{}: one output per input",
            fx.name
        );
        assert_eq!(out.response.records.len(), expected.len(), "{}: record count", fx.name);
        for (i, ((got, want), input)) in out
            .response
            .records
            .iter()
            .zip(expected)
            .zip(&invocation.records)
            .enumerate()
        {
            let at = format!("{} record {i}", fx.name);
            assert_eq!(got.record_id, want["recordId"].as_str().unwrap(), "{at}: recordId");
            assert_eq!(got.record_id, input.record_id, "{at}: same recordId as input");
            assert_eq!(
                serde_json::to_value(got.result).unwrap(),
                want["result"],
                "{at}: result"
            );
            if let Some(text) = want["input"].as_str() {
                let decoded = STANDARD.decode(input.data.as_bytes()).expect("fixture input is base64");
                assert_eq!(
                    String::from_utf8_lossy(&decoded),
                    text,
                    "{at}: expected.json quotes the input"
                );
            }
            match got.result {
                RecordResult::Ok => {
                    let data = String::from_utf8(STANDARD.decode(&got.data).unwrap()).unwrap();
                    assert_eq!(data, render_ok(&want["data"]), "{at}: Ok data, byte for byte");
                    let keys = &got.metadata.as_ref().expect("metadata").partition_keys;
                    assert_eq!(
                        serde_json::to_value(keys).unwrap(),
                        want["partitionKeys"],
                        "{at}: partition keys"
                    );
                }
                RecordResult::Dropped | RecordResult::ProcessingFailed => {
                    assert_eq!(got.data, input.data, "{at}: data returned unchanged");
                    assert!(got.metadata.is_none(), "{at}: no partition keys");
                }
            }
            let reason = out
                .report
                .rejections
                .iter()
                .find(|r| r.index == i)
                .map(|r| r.error.to_string());
            assert_eq!(
                reason.is_some(),
                got.result == RecordResult::ProcessingFailed,
                "{at}: reason iff failed"
            );
            if let Some(want_reason) = want.get("reason") {
                assert_eq!(Some(want_reason.as_str().unwrap().to_string()), reason, "{at}: reason");
            }
        }
        if let Some(drift) = fx.expected.get("fieldDrift") {
            let got = &out.report.field_drift;
            assert_eq!(
                got.records as u64,
                drift["records"].as_u64().unwrap(),
                "{}: drifted records",
                fx.name
            );
            assert_eq!(
                serde_json::to_value(&got.examples).unwrap(),
                drift["examples"],
                "{}: drifted fields named",
                fx.name
            );
        }
    }
}

#[test]
fn every_ok_record_of_every_fixture_fits_the_glue_table() {
    let table = Table::embedded();
    let mut checked = 0;
    for fx in fixtures() {
        let invocation = parse_invocation(&fx.input).unwrap();
        let out = transform(&invocation).unwrap();
        for (i, text, keys) in ok_records(&out.response) {
            let data: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} {i}: {e}", fx.name));
            check_fits_table(table, &data, &keys).unwrap_or_else(|e| panic!("{} record {i}: {e}", fx.name));
            checked += 1;
        }
    }
    assert!(checked > 400, "checked {checked} records");
}

#[test]
fn the_large_batch_covers_every_outcome() {
    let fx = fixtures()
        .into_iter()
        .find(|f| f.name == "large-realistic-batch")
        .expect("fixture");
    let out = transform(&parse_invocation(&fx.input).unwrap()).unwrap();
    let r = &out.report;
    assert!(r.ok >= 400 && r.dropped == 2 && r.failed() == 1, "{r:?}");
    assert!(
        r.unknown_event_types.is_empty(),
        "every type of the large batch is in the catalog: {:?}",
        r.unknown_event_types
    );
    assert_eq!(
        r.field_drift.records, 0,
        "generated from the catalog, every field in its kind: {:?}",
        r.field_drift.examples
    );
    let mean = r.bytes_in / r.records;
    assert!(
        (600..=1000).contains(&mean),
        "realistic events are ~0.8 KB, got {mean} B"
    );
}

#[test]
fn events_of_types_outside_the_catalog_are_delivered_and_counted() {
    let fx = fixtures()
        .into_iter()
        .find(|f| f.name == "kinesis-source-basic")
        .expect("fixture");
    let out = transform(&parse_invocation(&fx.input).unwrap()).unwrap();
    assert_eq!(out.report.failed(), 0);
    let unknown: Vec<(&str, usize)> = out
        .report
        .unknown_event_types
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(unknown, vec![("heartbeat", 1)]);
}
