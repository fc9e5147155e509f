//! The store on a directory: what replay, re-drive and compaction rely on. (The same
//! operations on S3 run against moto in `cli/tests/s3.rs`.)

use std::path::PathBuf;

use eventlake_lake::{LakeError, LakeStore};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventlake-lake-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn objects_are_written_read_listed_renamed_and_deleted_by_key() {
    let dir = temp_dir("store");
    let store = LakeStore::open(&dir).unwrap();
    assert!(store.is_local());
    store
        .put("events/event_type=a/created_date=2024-01-01/x.parquet", b"one".to_vec())
        .unwrap();
    store
        .put("events/event_type=b/created_date=2024-01-01/y.parquet", b"two".to_vec())
        .unwrap();
    store
        .put("errors/processing-failed/2024/01/01/00/z", b"three".to_vec())
        .unwrap();
    // An unfinished write (object_store's staging name) is not an object.
    std::fs::write(
        dir.join("events/event_type=a/created_date=2024-01-01/w.parquet#1"),
        b"half",
    )
    .unwrap();
    assert_eq!(
        store.list("events/").unwrap(),
        [
            ("events/event_type=a/created_date=2024-01-01/x.parquet".to_string(), 3),
            ("events/event_type=b/created_date=2024-01-01/y.parquet".to_string(), 3),
        ]
    );
    assert_eq!(
        &store
            .get("events/event_type=b/created_date=2024-01-01/y.parquet")
            .unwrap()[..],
        b"two"
    );
    assert!(store.has_any("errors/").unwrap());
    assert!(!store.has_any("curated/").unwrap());
    store
        .rename(
            "errors/processing-failed/2024/01/01/00/z",
            "errors/processing-failed/2024/01/01/00/z.redriven",
        )
        .unwrap();
    assert_eq!(
        store.list("errors/").unwrap()[0].0,
        "errors/processing-failed/2024/01/01/00/z.redriven"
    );
    store
        .delete("events/event_type=a/created_date=2024-01-01/x.parquet")
        .unwrap();
    assert_eq!(store.list("events/").unwrap().len(), 1);
    // What the files are on disk: the keys, below the directory.
    assert!(dir
        .join("events/event_type=b/created_date=2024-01-01/y.parquet")
        .is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_object_or_lake_is_one_line_naming_it() {
    let dir = temp_dir("missing");
    let store = LakeStore::open(&dir).unwrap();
    let err = store.get("events/none.parquet").unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("cannot read {}/events/none.parquet: ", dir.display())),
        "{err}"
    );
    assert!(!err.contains('\n'));
    let err = LakeStore::open_existing(&dir.join("absent")).unwrap_err();
    assert!(matches!(err, LakeError::Open { .. }), "{err}");
    assert_eq!(
        LakeStore::open(std::path::Path::new("gs://bucket/lake"))
            .unwrap_err()
            .to_string(),
        "unsupported lake location gs://bucket/lake: use a directory or s3://bucket/prefix"
    );
    assert_eq!(
        LakeStore::open(std::path::Path::new("s3:///lake"))
            .unwrap_err()
            .to_string(),
        "s3:///lake: no bucket name (expected s3://bucket/prefix)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
