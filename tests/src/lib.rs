//! Shared helpers for the cross-crate tests: fixture loading, the readable form of an `Ok`
//! record, and the check that a record fits the Glue table.
#![warn(missing_docs)]

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use eventlake_glue_schema::{is_date, is_event_type, LakeWindow, Table};
use eventlake_transform::firehose::transform_with_limit;
use eventlake_transform::{Invocation, InvocationError, RecordResult, Response, Transformed, RESPONSE_LIMIT_BYTES};
use serde_json::Value;

/// The keys of an `Ok` record, in contract order.
pub const OK_KEYS: [&str; 7] = [
    "event_uuid",
    "event_name",
    "created_at",
    "created_datetime",
    "event_type",
    "event_subtype",
    "payload",
];

/// The processing time every fixture is transformed at: 2026-12-02T12:00:00Z, so the lake
/// window's last day is 2026-12-03 whatever day the tests run (`fixtures/lake-window`).
pub const FIXTURE_NOW: i64 = 1_796_212_800;

/// The transform as the Lambda runs it with the table's lake window, at [`FIXTURE_NOW`].
pub fn transform_at_fixture_time(invocation: &Invocation<'_>) -> Result<Transformed, InvocationError> {
    transform_with_limit(
        invocation,
        LakeWindow::embedded().days_at(FIXTURE_NOW),
        RESPONSE_LIMIT_BYTES,
    )
}

/// `transform/fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../transform/fixtures")
}

/// One fixture folder: `input.json` (a Firehose invocation) and `expected.json` (readable).
#[derive(Debug)]
pub struct Fixture {
    /// Folder name.
    pub name: String,
    /// `input.json` text.
    pub input: String,
    /// `expected.json`, parsed.
    pub expected: Value,
}

/// Every fixture folder, sorted by name.
pub fn fixtures() -> Vec<Fixture> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("transform/fixtures exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.join("input.json").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| Fixture {
            name: d.file_name().unwrap().to_string_lossy().into_owned(),
            input: std::fs::read_to_string(d.join("input.json")).expect("input.json"),
            expected: serde_json::from_str(&std::fs::read_to_string(d.join("expected.json")).expect("expected.json"))
                .expect("expected.json is JSON"),
        })
        .collect()
}

/// The exact bytes an `Ok` record must have, rendered from its readable form (an object with
/// the contract's keys): compact JSON in contract order and a newline.
pub fn render_ok(data: &Value) -> String {
    let obj = data.as_object().expect("Ok data is an object");
    assert_eq!(
        obj.len(),
        OK_KEYS.len(),
        "Ok data has exactly the contract's keys: {data}"
    );
    let body: Vec<String> = OK_KEYS
        .iter()
        .map(|k| format!("\"{k}\":{}", serde_json::to_string(&obj[*k]).expect("serializable")))
        .collect();
    format!("{{{}}}\n", body.join(","))
}

/// Checks that an `Ok` record's data and partition keys fit the Glue table: keys are
/// columns or partition keys, values fit the Hive types (timestamps in a format the OpenX
/// deserializer reads), and the partition keys are exactly the table's, with valid values
/// that agree with the data.
pub fn check_fits_table(table: &Table, data: &Value, partition_keys: &Value) -> Result<(), String> {
    table.check_record(data).map_err(|e| e.to_string())?;
    let keys: Vec<&str> = partition_keys
        .as_object()
        .ok_or("partition keys are an object")?
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = table.partition_key_names();
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    if got != want {
        return Err(format!("partition keys {keys:?} differ from the table's {want:?}"));
    }
    let et = partition_keys["event_type"].as_str().unwrap_or_default();
    let date = partition_keys["created_date"].as_str().unwrap_or_default();
    if !is_event_type(et) || !is_date(date) {
        return Err(format!("invalid partition values {partition_keys}"));
    }
    if data["event_type"] != partition_keys["event_type"] {
        return Err("event_type in data and partition keys differ".into());
    }
    let datetime = data["created_datetime"].as_str().unwrap_or_default();
    if !datetime.starts_with(date) {
        return Err(format!("created_date {date} is not the date of {datetime}"));
    }
    Ok(())
}

/// Decodes every `Ok` record of a response: (index, data text, partition keys as JSON).
pub fn ok_records(response: &Response) -> Vec<(usize, String, Value)> {
    response
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.result == RecordResult::Ok)
        .map(|(i, r)| {
            let bytes = STANDARD.decode(&r.data).expect("Ok data is base64");
            let text = String::from_utf8(bytes).expect("Ok data is UTF-8");
            let keys = serde_json::to_value(&r.metadata.as_ref().expect("Ok records have metadata").partition_keys)
                .expect("serializable");
            (i, text, keys)
        })
        .collect()
}
