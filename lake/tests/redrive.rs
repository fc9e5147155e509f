//! Re-drive tells error kinds apart by the folder an object is in, as Firehose files them.

use base64::Engine;
use eventlake_lake::{redrive, LakeStore, ReplayOptions};

#[test]
fn the_folder_decides_how_a_record_is_redriven() {
    let dir = std::env::temp_dir().join(format!("eventlake-lake-redrive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let lake = dir.join("lake");
    let store = LakeStore::open(&lake).unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    // A transformed record, filed under format-conversion-failed with lower-case keys only:
    // converted again, not transformed again.
    let transformed = r#"{"event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","event_name":"payment:order:completed","created_at":1710670500,"created_datetime":"2024-03-17T10:15:00Z","event_type":"payment","event_subtype":"order","payload":"{}"}"#;
    store
        .put(
            "errors/format-conversion-failed/2024/03/17/10/a",
            format!("{{\"rawData\":\"{}\"}}\n", b64(transformed)).into_bytes(),
        )
        .unwrap();
    // A raw event under processing-failed: transformed again.
    let raw = r#"{"event_uuid":"1f8fad5b-d9cb-469f-a165-70867728950e","event_name":"cart:item:added","created_at":1710670500}"#;
    store
        .put(
            "errors/processing-failed/2024/03/17/10/b",
            format!("{{\"rawData\":\"{}\",\"ErrorCode\":\"misleading\"}}\n", b64(raw)).into_bytes(),
        )
        .unwrap();
    let summary = redrive(&lake.join("errors"), &ReplayOptions::new(&lake))
        .unwrap()
        .summary;
    assert_eq!(
        (summary.records, summary.ok, summary.invocations),
        (2, 2, 1),
        "{summary:?}"
    );
    assert_eq!(summary.written.rows, 2);
    let events = store.list("events/").unwrap();
    assert!(
        events[0]
            .0
            .starts_with("events/event_type=cart/created_date=2024-03-17/"),
        "{events:?}"
    );
    assert!(
        events[1]
            .0
            .starts_with("events/event_type=payment/created_date=2024-03-17/"),
        "{events:?}"
    );
    let marked: Vec<String> = store.list("errors/").unwrap().into_iter().map(|(k, _)| k).collect();
    assert!(marked.iter().all(|k| k.ends_with(".redriven")), "{marked:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_object_outside_the_error_folders_is_refused_with_its_name() {
    let dir = std::env::temp_dir().join(format!("eventlake-lake-redrive-other-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let lake = dir.join("lake");
    LakeStore::open(&lake)
        .unwrap()
        .put("errors/other/x", b"{}\n".to_vec())
        .unwrap();
    let err = redrive(&lake.join("errors"), &ReplayOptions::new(&lake))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("errors/other/x")
            && err.contains("neither a processing-failed nor a format-conversion-failed folder"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
