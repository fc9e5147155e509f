//! The local lake end to end: generate → replay → read the Parquet back with the `parquet`
//! crate's own reader (not the writer's state) and check every event, the layout, the file
//! names and every reject; conversion failures; re-drive.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use arrow_array::{Array, Int64Array, StringArray, TimestampMicrosecondArray};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use eventlake::generate::{GenerateOptions, Generator};
use eventlake_glue_schema::athena;
use eventlake_glue_schema::{Catalog, Table};
use eventlake_lake::{redrive, replay, ReplayOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventlake-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out)
            } else {
                out.push(p)
            }
        }
    }
}

/// A row as read back: the table's columns and the partition values from the path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LakeRow {
    event_uuid: String,
    event_name: String,
    created_at: i64,
    created_datetime_micros: i64,
    event_subtype: Option<String>,
    payload: String,
    event_type: String,
    created_date: String,
}

fn read_lake(lake: &Path) -> Vec<LakeRow> {
    let mut all = Vec::new();
    files(&lake.join("events"), &mut all);
    let mut rows = Vec::new();
    let name_pattern = |n: &str| {
        // eventlake-local-1-YYYY-MM-DD-HH-MM-SS-<uuid>.parquet
        let rest = n.strip_prefix("eventlake-local-1-").expect("stream and version");
        let (stamp, uuid) = rest.split_at(19);
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d-%H-%M-%S").expect("timestamp in the name");
        let uuid = uuid
            .strip_prefix('-')
            .and_then(|u| u.strip_suffix(".parquet"))
            .expect("-uuid.parquet");
        assert!(eventlake_transform::event::parse_uuid(uuid).is_some(), "{n}");
    };
    for path in all {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        assert!(!name.starts_with('.'), "no temporary files left: {name}");
        name_pattern(&name);
        rows.extend(partition_file_rows(&path));
    }
    rows
}

/// The rows of one Parquet file of a `…/event_type=<t>/created_date=<d>/` folder, read with
/// the `parquet` crate's reader, partition values taken from the path.
fn partition_file_rows(path: &Path) -> Vec<LakeRow> {
    let dir_value = |dir: &Path, prefix: &str| {
        let name = dir.file_name().unwrap().to_str().unwrap();
        name.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{prefix}…: {name}"))
            .to_string()
    };
    let date_dir = path.parent().unwrap();
    let created_date = dir_value(date_dir, "created_date=");
    let event_type = dir_value(date_dir.parent().unwrap(), "event_type=");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let s = |c: &str| {
            batch
                .column_by_name(c)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone()
        };
        let (uuid, name, subtype, payload) = (s("event_uuid"), s("event_name"), s("event_subtype"), s("payload"));
        let created_at = batch
            .column_by_name("created_at")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .clone();
        let datetime = batch
            .column_by_name("created_datetime")
            .unwrap()
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .clone();
        for i in 0..batch.num_rows() {
            rows.push(LakeRow {
                event_uuid: uuid.value(i).to_string(),
                event_name: name.value(i).to_string(),
                created_at: created_at.value(i),
                created_datetime_micros: datetime.value(i),
                event_subtype: (!subtype.is_null(i)).then(|| subtype.value(i).to_string()),
                payload: payload.value(i).to_string(),
                event_type: event_type.clone(),
                created_date: created_date.clone(),
            });
        }
    }
    rows
}

/// The row the lake must hold for a valid event, computed from the transform's output.
fn expected_row(event: &str) -> Option<LakeRow> {
    let (out, info) = eventlake_transform::enrich(event.as_bytes()).ok()?;
    let v: Value = serde_json::from_slice(&out).unwrap();
    let created_at = v["created_at"].as_i64().unwrap();
    Some(LakeRow {
        event_uuid: v["event_uuid"].as_str().unwrap().to_string(),
        event_name: v["event_name"].as_str().unwrap().to_string(),
        created_at,
        created_datetime_micros: created_at * 1_000_000,
        event_subtype: v["event_subtype"].as_str().map(str::to_string),
        payload: v["payload"].as_str().unwrap().to_string(),
        event_type: info.partition_keys.event_type,
        created_date: info.partition_keys.created_date,
    })
}

fn error_records(lake: &Path, kind: &str) -> Vec<Value> {
    let mut all = Vec::new();
    files(&lake.join("errors").join(kind), &mut all);
    all.iter()
        .filter(|p| !p.to_string_lossy().ends_with(".redriven"))
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

fn small_batches(lake: &Path) -> ReplayOptions {
    let mut o = ReplayOptions::new(lake);
    o.delivery.batch_bytes = 64 * 1024; // many invocations
    o.delivery.flush_bytes = 32 * 1024; // several files per partition
    o
}

/// Generates events and replays them into a fresh lake in small batches.
struct Replayed {
    dir: PathBuf,
    lake: PathBuf,
    events: Vec<String>,
    summary: eventlake_lake::DeliverySummary,
}

fn generate_and_replay(name: &str, events: u64, seed: u64, duplicates: f64, invalid: f64) -> Replayed {
    let options = GenerateOptions {
        events,
        seed,
        duplicates,
        invalid,
        ..GenerateOptions::default()
    };
    replay_generated(name, options)
}

/// Generates events with `options` and replays them into a fresh lake in small batches.
fn replay_generated(name: &str, options: GenerateOptions) -> Replayed {
    let dir = temp_dir(name);
    let lake = dir.join("lake");
    let events: Vec<String> = Generator::new(Catalog::embedded(), options).collect();
    let input = events.join("\n") + "\n";
    let summary = replay(&mut input.as_bytes(), &small_batches(&lake), &|_, _| {})
        .unwrap()
        .summary;
    Replayed {
        dir,
        lake,
        events,
        summary,
    }
}

#[test]
fn every_valid_event_lands_exactly_and_every_reject_is_kept_with_its_reason() {
    let Replayed {
        dir,
        lake,
        events,
        summary,
    } = generate_and_replay("e2e", 4000, 42, 0.03, 0.02);
    assert_eq!(summary.records, 4000);
    assert!(summary.invocations > 10, "{summary:?}");
    assert_eq!(summary.ok + summary.dropped + summary.rejected_total(), 4000);
    assert_eq!(summary.conversion_failed, 0);
    assert_eq!(summary.written.rows as u64, summary.ok);

    // Every row read back equals the transform's output for its event, value for value,
    // payload byte for byte, in the partition its keys name.
    let rows = read_lake(&lake);
    assert_eq!(rows.len() as u64, summary.ok);
    let expected: BTreeMap<(String, i64), LakeRow> = events
        .iter()
        .filter_map(|e| expected_row(e))
        .map(|r| ((r.event_uuid.clone(), r.created_at), r))
        .collect();
    for row in &rows {
        let want = expected
            .get(&(row.event_uuid.clone(), row.created_at))
            .expect("every row comes from a valid event");
        assert_eq!(row, want);
    }
    // Every valid event is there (duplicates across batches may be there twice; never zero).
    let present: BTreeSet<(String, i64)> = rows.iter().map(|r| (r.event_uuid.clone(), r.created_at)).collect();
    assert_eq!(present.len(), expected.len());
    assert!(
        summary.written.files > 26,
        "several files per partition: {}",
        summary.written.files
    );

    // Every invalid line is under errors/processing-failed with its reason, bytes unchanged.
    let rejects = error_records(&lake, "processing-failed");
    assert_eq!(rejects.len() as u64, summary.rejected_total());
    let invalid: BTreeSet<&str> = events
        .iter()
        .filter(|e| expected_row(e).is_none())
        .map(String::as_str)
        .collect();
    for r in &rejects {
        let raw = String::from_utf8(STANDARD.decode(r["rawData"].as_str().unwrap()).unwrap()).unwrap();
        assert!(invalid.contains(raw.as_str()), "{raw}");
        assert_eq!(r["errorCode"], "Lambda.ProcessingFailedStatus");
        let reason = r["reason"].as_str().unwrap();
        assert_eq!(
            eventlake_transform::enrich(raw.as_bytes()).unwrap_err().to_string(),
            reason
        );
        assert!(r["arrivalTimestamp"].is_i64() && r["attemptsMade"] == 1);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn records_that_do_not_fit_the_table_go_to_format_conversion_failed_and_redrive_after_the_fix() {
    let dir = temp_dir("conversion");
    let lake = dir.join("lake");
    // A broken copy of the table: created_datetime declared as a date, which the
    // transform's timestamps are not.
    let broken = eventlake_glue_schema::TABLE_JSON.replacen(
        r#""name": "created_datetime", "type": "timestamp""#,
        r#""name": "created_datetime", "type": "date""#,
        1,
    );
    assert_ne!(broken, eventlake_glue_schema::TABLE_JSON);
    let mut options = small_batches(&lake);
    options.delivery.table = Table::from_json(&broken).unwrap();
    let events: Vec<String> = Generator::new(
        Catalog::embedded(),
        GenerateOptions {
            events: 300,
            seed: 3,
            ..GenerateOptions::default()
        },
    )
    .collect();
    let summary = replay(&mut (events.join("\n") + "\n").as_bytes(), &options, &|_, _| {})
        .unwrap()
        .summary;
    assert_eq!(summary.conversion_failed, 300);
    assert_eq!(summary.written.rows, 0);
    let failed = error_records(&lake, "format-conversion-failed");
    assert_eq!(failed.len(), 300);
    assert!(
        failed[0]["ErrorMessage"].as_str().unwrap().contains("created_datetime"),
        "{}",
        failed[0]
    );
    assert_eq!(failed[0]["dataCatalogTable"]["tableName"], "events");

    // Fix the table (the real one), re-drive: every record is recovered, once.
    let summary = redrive(&lake.join("errors"), &ReplayOptions::new(&lake))
        .unwrap()
        .summary;
    assert_eq!(summary.written.rows, 300);
    assert_eq!(summary.conversion_failed, 0);
    let rows = read_lake(&lake);
    assert_eq!(rows.len(), 300);
    for row in rows {
        let source = events.iter().find(|e| e.contains(&row.event_uuid)).unwrap();
        assert_eq!(Some(row), expected_row(source));
    }
    assert!(
        error_records(&lake, "format-conversion-failed").is_empty(),
        "re-driven files are marked"
    );
    let again = redrive(&lake.join("errors"), &ReplayOptions::new(&lake))
        .unwrap()
        .summary;
    assert_eq!(again.records, 0, "a second re-drive repeats nothing");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn events_athena_could_never_show_are_kept_under_processing_failed_with_the_bound() {
    let dir = temp_dir("lake-window");
    let lake = dir.join("lake");
    let event = |created_at: u64| {
        format!(
            r#"{{"event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","event_name":"payment:order:completed","created_at":{created_at}}}"#
        )
    };
    // 2019-12-31T23:59:59Z is out; 2020-01-01T00:00:00Z and 2024 are in; 9999 is out.
    let input = [1_577_836_799, 1_577_836_800, 1_710_670_500, 253_402_300_799]
        .map(event)
        .join("\n")
        + "\n";
    let summary = replay(&mut input.as_bytes(), &ReplayOptions::new(&lake), &|_, _| {})
        .unwrap()
        .summary;
    assert_eq!((summary.records, summary.rejected_total()), (4, 2));
    let reasons: BTreeSet<String> = error_records(&lake, "processing-failed")
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(reasons.contains("created_at 1577836799 is 2019-12-31, before the lake's first day 2020-01-01"));
    assert!(reasons
        .iter()
        .any(|r| r.starts_with("created_at 253402300799 is 9999-12-31, after the lake's last day ")));
    let dates: BTreeSet<String> = read_lake(&lake).into_iter().map(|r| r.created_date).collect();
    assert_eq!(
        dates,
        BTreeSet::from(["2020-01-01".to_string(), "2024-03-17".to_string()])
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn redriving_processing_failures_runs_them_through_the_transform_again() {
    let dir = temp_dir("redrive");
    let lake = dir.join("lake");
    let input = b"{\"event_uuid\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"event_name\":\"a\",\"created_at\":1710670500123}\n\nnot json\n";
    let summary = replay(&mut &input[..], &ReplayOptions::new(&lake), &|_, _| {})
        .unwrap()
        .summary;
    assert_eq!(
        (summary.records, summary.rejected_total()),
        (3, 3),
        "a blank line is a rejected record, not a skipped one"
    );
    let again = redrive(&lake.join("errors"), &ReplayOptions::new(&lake))
        .unwrap()
        .summary;
    assert_eq!(again.records, 3);
    assert_eq!(again.rejected_total(), 3, "still invalid: rejected again, kept again");
    assert_eq!(error_records(&lake, "processing-failed").len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn query_agrees_with_what_was_written_and_events_unique_removes_cross_batch_duplicates() {
    let Replayed {
        dir,
        lake,
        events,
        summary,
    } = generate_and_replay("query", 3000, 9, 0.05, 0.01);
    let unique: BTreeSet<(String, i64)> = events
        .iter()
        .filter_map(|e| expected_row(e))
        .map(|r| (r.event_uuid.to_ascii_lowercase(), r.created_at))
        .collect();
    assert!(
        (summary.ok as usize) > unique.len(),
        "some duplicates crossed batches: {summary:?}"
    );

    let q = |sql: &str, format: eventlake::query::Format| {
        let mut out = Vec::new();
        eventlake::query::query(&lake, Table::embedded(), sql, format, 0, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let csv = q(
        "SELECT (SELECT count(*) FROM events) AS rows_, (SELECT count(*) FROM events_unique) AS uniq",
        eventlake::query::Format::Csv,
    );
    assert_eq!(csv.trim(), format!("rows_,uniq\n{},{}", summary.ok, unique.len()));

    // Partition columns come from the paths and agree with the data.
    let json = q(
        "SELECT event_type, created_date, count(*) AS n FROM events WHERE event_type = 'payment' GROUP BY 1, 2",
        eventlake::query::Format::Json,
    );
    let line: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    let payments = read_lake(&lake).iter().filter(|r| r.event_type == "payment").count();
    assert_eq!(line["n"].as_u64(), Some(payments as u64));
    assert_eq!(line["created_date"], "2024-03-17");

    let table = q(
        "SELECT count(*) AS n FROM events_unique WHERE event_type = 'payment'",
        eventlake::query::Format::Table,
    );
    assert!(table.contains("| n "), "{table}");

    let mut out = Vec::new();
    let fails = |lake: &Path, sql: &str| {
        eventlake::query::query(
            lake,
            Table::embedded(),
            sql,
            eventlake::query::Format::Table,
            10,
            &mut Vec::new(),
        )
        .unwrap_err()
        .to_string()
    };
    let err = fails(&lake, "SELEC nonsense");
    assert!(err.starts_with("query failed: SQL error"), "{err}");
    assert_eq!(err.matches("SQL error").count(), 1, "one prefix: {err}");
    assert!(fails(&dir.join("nothing"), "SELECT 1").contains("no lake at"));
    // Read-only: nothing that writes files or changes the catalog.
    let elsewhere = dir.join("copied.csv");
    for sql in [
        format!("COPY (SELECT * FROM events) TO '{}'", elsewhere.display()),
        "CREATE TABLE t AS SELECT 1".to_string(),
        "INSERT INTO events SELECT * FROM events".to_string(),
        "DROP VIEW events_unique".to_string(),
    ] {
        let err = fails(&lake, &sql);
        assert!(
            err.starts_with("query refused: `eventlake query` only reads the lake"),
            "{sql}: {err}"
        );
    }
    assert!(!elsewhere.exists());
    // A row limit: at most max_rows rows printed.
    let rows = eventlake::query::query(
        &lake,
        Table::embedded(),
        "SELECT event_uuid FROM events",
        eventlake::query::Format::Csv,
        7,
        &mut out,
    )
    .unwrap();
    assert_eq!(rows, 7);
    assert_eq!(
        String::from_utf8(out).unwrap().lines().count(),
        1 + 7,
        "header and 7 rows"
    );
    // An empty or cut-off Parquet file is named, not skipped.
    let mut parquet = Vec::new();
    files(&lake.join("events"), &mut parquet);
    let victim = parquet
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let whole = std::fs::read(victim).unwrap();
    for cut in [0, whole.len() / 2] {
        std::fs::write(victim, &whole[..cut]).unwrap();
        let err = fails(&lake, "SELECT count(*) FROM events");
        let name = victim.file_name().unwrap().to_str().unwrap();
        assert!(err.starts_with("cannot read ") && err.contains(name), "{err}");
    }
    // Whole, footer intact, pages overwritten: the engine's error names no file; the query
    // then finds and names it.
    let mut garbled = whole.clone();
    garbled[8..whole.len() / 2].fill(0xAB);
    std::fs::write(victim, &garbled).unwrap();
    let err = fails(&lake, "SELECT sum(length(payload)) FROM events");
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(
        err.starts_with("cannot read ") && err.contains(name) && err.contains("not a readable Parquet file"),
        "{err}"
    );
    std::fs::write(victim, whole).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every row of the curated table (sorted), and its files.
fn read_curated(lake: &Path) -> (Vec<LakeRow>, Vec<PathBuf>) {
    let mut all = Vec::new();
    files(&lake.join("curated"), &mut all);
    all.sort();
    let mut rows: Vec<LakeRow> = all.iter().flat_map(|path| partition_file_rows(path)).collect();
    rows.sort();
    (rows, all)
}

fn compact_lake(lake: &Path, date: Option<&str>, lookback_days: u32) -> eventlake_lake::CompactSummary {
    compact_lake_with(lake, date, lookback_days, Catalog::embedded())
}

/// Compacts `lake` as `eventlake compact` does, with the typed columns of `catalog` filled by
/// the query engine.
fn compact_lake_with(
    lake: &Path,
    date: Option<&str>,
    lookback_days: u32,
    catalog: &Catalog,
) -> eventlake_lake::CompactSummary {
    let options = eventlake_lake::CompactOptions {
        lake: lake.to_path_buf(),
        date: date.map(|d| d.parse().unwrap()),
        lookback_days,
        table: Table::embedded().clone(),
    };
    let typed = eventlake::curated::SqlTypedColumns::new(&options.table, catalog).unwrap();
    eventlake_lake::compact_typed(&options, &typed, &|_, _| {}).unwrap()
}

#[test]
fn curated_typed_columns_hold_the_typed_views_values_for_every_catalog_field() {
    use eventlake::generate::Drift;
    use eventlake_glue_schema::athena::{field_expression_in, Dialect};
    // Drift too, so that values a view cannot read (NULL there) are in the lake.
    let options = GenerateOptions {
        events: 3000,
        seed: 19,
        duplicates: 0.05,
        span_secs: 2 * 86_400,
        drift: Drift {
            wrong_kind: 0.1,
            renamed: 0.05,
            new_field: 0.05,
        },
        ..GenerateOptions::default()
    };
    let r = replay_generated("compact-typed", options);
    compact_lake(&r.lake, None, 0);
    let table = Table::embedded();
    let columns = eventlake_glue_schema::curated::typed_columns(Catalog::embedded());
    assert_eq!(columns.len(), 97);
    // Per column: rows whose curated value differs from the typed view's reading of the raw
    // payload (the view's expression over events_unique, for the events with the field), and
    // rows holding a value at all (so the comparison is not of NULLs only).
    let view_side: Vec<String> = columns
        .iter()
        .map(|c| {
            let names: Vec<String> = c.events.iter().map(|e| format!("'{e}'")).collect();
            format!(
                "CASE WHEN event_name IN ({}) THEN {} END AS \"{}\"",
                names.join(", "),
                field_expression_in(Dialect::Local, c.name, &c.hive_type),
                c.name
            )
        })
        .collect();
    let checks: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "sum(CASE WHEN c.\"{0}\" IS DISTINCT FROM u.\"{0}\" THEN 1 ELSE 0 END) AS \"differ_{0}\", count(c.\"{0}\") AS \"held_{0}\"",
                c.name
            )
        })
        .collect();
    let sql = format!(
        "SELECT count(*) AS matched, sum(CASE WHEN c.payload IS DISTINCT FROM u.payload THEN 1 ELSE 0 END) AS differ_payload, {checks} FROM events_curated AS c JOIN (SELECT lower(event_uuid) AS k, created_at AS t, payload, {view} FROM events_unique) AS u ON lower(c.event_uuid) = u.k AND c.created_at = u.t",
        checks = checks.join(", "),
        view = view_side.join(", ")
    );
    let mut out = Vec::new();
    eventlake::query::query(&r.lake, table, &sql, eventlake::query::Format::Json, 0, &mut out).unwrap();
    let row: Value = serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let unique = count_unique(&r.lake);
    assert_eq!(
        row["matched"].as_u64(),
        Some(unique),
        "every curated row is one events_unique row"
    );
    assert_eq!(
        row["differ_payload"].as_u64(),
        Some(0),
        "every curated payload is the raw one, byte for byte"
    );
    let mut held_somewhere = 0;
    for c in &columns {
        assert_eq!(
            row[format!("differ_{}", c.name)].as_u64(),
            Some(0),
            "{}: curated value differs from the view's",
            c.name
        );
        if row[format!("held_{}", c.name)].as_u64().unwrap_or(0) > 0 {
            held_somewhere += 1;
        }
    }
    assert!(
        held_somewhere > 90,
        "only {held_somewhere} of the typed columns hold any value"
    );
    let _ = std::fs::remove_dir_all(&r.dir);
}

#[test]
fn each_event_view_has_no_gap_and_no_double_at_the_curated_boundary_wherever_it_is() {
    let options = GenerateOptions {
        events: 800,
        seed: 23,
        duplicates: 0.05,
        span_secs: 3 * 86_400,
        ..GenerateOptions::default()
    };
    let r = replay_generated("compact-boundary", options);
    let raw = read_lake(&r.lake);
    let dates: Vec<String> = raw
        .iter()
        .map(|row| row.created_date.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(dates.len() >= 3, "{dates:?}");
    // One view per field type of the catalog, so every kind of typed column crosses the boundary.
    let catalog = Catalog::embedded();
    let mut views: BTreeMap<String, String> = BTreeMap::new();
    for event in catalog.events() {
        for field in &event.fields {
            views
                .entry(field.hive_type().name())
                .or_insert_with(|| event.view_name());
        }
    }
    assert!(views.len() >= 9, "{views:?}");
    let table = Table::embedded();
    let run = |sql: &str| {
        let mut out = Vec::new();
        eventlake::query::query(&r.lake, table, sql, eventlake::query::Format::Json, 0, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let order = "ORDER BY created_date, lower(event_uuid), created_at";
    // The view as `eventlake query` registers it: the curated days listed as the lake holds them.
    let rows_of = |view: &str| run(&format!("SELECT * FROM {view} {order}"));
    // The view with a list that lags the curated table (its last curated day not yet listed),
    // as Athena's is between a daily run's writes and its remaking of the views: run inline.
    let lagging_rows_of = |view: &str, listed: &[String]| {
        let event = catalog.events().find(|e| e.view_name() == view).unwrap();
        let sql = athena::fill_curated_days(&athena::typed_view_in(athena::Dialect::Local, table, event), |_| listed)
            .unwrap();
        let select = &sql[sql.find(" AS\nSELECT").unwrap() + 4..];
        run(&format!(
            "SELECT * FROM ({}) AS v {order}",
            select.trim_end().trim_end_matches(';')
        ))
    };
    // Nothing curated: the views read the raw payload only.
    let before: BTreeMap<&String, String> = views.values().map(|v| (v, rows_of(v))).collect();
    for (view, rows) in &before {
        assert!(rows.lines().count() > 3, "{view} has rows: {rows}");
    }
    // Curated up to each day in turn: every view gives the same rows, values included, whether
    // its list holds every curated day or lags by the last one.
    for (n, day) in dates.iter().enumerate() {
        compact_lake(&r.lake, Some(day), 3650);
        for (view, rows) in &before {
            assert_eq!(&rows_of(view), rows, "{view}, curated up to {day}");
            assert_eq!(
                &lagging_rows_of(view, &dates[..n]),
                rows,
                "{view} listing the days before {day}, curated up to {day}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&r.dir);
}

#[test]
fn a_field_added_to_the_catalog_then_backfilled_reads_as_if_curated_from_scratch() {
    let options = GenerateOptions {
        events: 1500,
        seed: 29,
        duplicates: 0.05,
        span_secs: 3 * 86_400,
        ..GenerateOptions::default()
    };
    let r = replay_generated("compact-backfill", options);
    let scratch = r.dir.join("scratch");
    copy_dir(&r.lake, &scratch);
    // The catalog before `amount` was added to it: no event has the field, no column either.
    let mut before = Catalog::embedded().clone();
    for t in &mut before.event_types {
        for e in &mut t.events {
            e.fields.retain(|f| f.name != "amount");
        }
    }
    compact_lake_with(&r.lake, None, 0, &before);
    let table = Table::embedded();
    let run = |lake: &Path, sql: &str| {
        let mut out = Vec::new();
        eventlake::query::query(lake, table, sql, eventlake::query::Format::Json, 0, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let held = "SELECT count(amount) AS n FROM events_curated";
    assert_eq!(
        run(&r.lake, held),
        "{\"n\":0}\n",
        "files without the column read NULL there"
    );
    // One date's raw files expire: the backfill must still fill its curated rows.
    let events = r.lake.join("events");
    let expired: Vec<PathBuf> = std::fs::read_dir(&events)
        .unwrap()
        .flat_map(|t| std::fs::read_dir(t.unwrap().path()).unwrap())
        .map(|d| d.unwrap().path())
        .collect();
    let first_date = expired.iter().map(|p| p.file_name().unwrap().to_owned()).min().unwrap();
    for dir in expired.iter().filter(|p| p.file_name().unwrap() == first_date) {
        std::fs::remove_dir_all(dir).unwrap();
    }
    // The backfill: compact again with the catalog that has the field.
    compact_lake(&r.lake, None, 0);
    compact_lake(&scratch, None, 0);
    let all = "SELECT * FROM events_curated ORDER BY created_date, lower(event_uuid), created_at";
    let backfilled = run(&r.lake, all);
    assert_eq!(
        backfilled,
        run(&scratch, all),
        "backfilled rows equal rows curated from scratch"
    );
    assert_ne!(run(&r.lake, held), "{\"n\":0}\n");
    let _ = std::fs::remove_dir_all(&r.dir);
}

/// A copy of the directory tree `from` at `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The number of events_unique rows of the lake.
fn count_unique(lake: &Path) -> u64 {
    let mut out = Vec::new();
    eventlake::query::query(
        lake,
        Table::embedded(),
        "SELECT count(*) AS n FROM events_unique",
        eventlake::query::Format::Csv,
        0,
        &mut out,
    )
    .unwrap();
    String::from_utf8(out).unwrap().lines().nth(1).unwrap().parse().unwrap()
}

#[test]
fn compaction_keys_events_by_uuid_and_created_at_like_events_unique_across_event_types() {
    let dir = temp_dir("compact-key");
    let lake = dir.join("lake");
    let event =
        |uuid: &str, name: &str| format!(r#"{{"event_uuid":"{uuid}","event_name":"{name}","created_at":1710670500}}"#);
    // One event sent twice under two names (two event types), in separate invocations, and
    // a different event with the same uuid at another time.
    let u = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let later = format!(r#"{{"event_uuid":"{u}","event_name":"cart:item_added","created_at":1710670501}}"#);
    // Three inputs, three replays (each its own name: a replay is known by its input).
    for (n, line) in [
        event(u, "payment:order:completed"),
        event(&u.to_uppercase(), "cart:item_added"),
        later,
    ]
    .into_iter()
    .enumerate()
    {
        let mut options = ReplayOptions::new(&lake);
        options.input = format!("input-{n}");
        replay(&mut (line + "\n").as_bytes(), &options, &|_, _| {}).unwrap();
    }
    assert_eq!(read_lake(&lake).len(), 3, "delivered three times");
    compact_lake(&lake, None, 0);
    let (rows, _) = read_curated(&lake);
    let names: Vec<(&str, i64)> = rows.iter().map(|r| (r.event_name.as_str(), r.created_at)).collect();
    // events_unique keeps the first by event_name of the key: cart:item_added < payment:….
    assert_eq!(
        names,
        vec![("cart:item_added", 1710670500), ("cart:item_added", 1710670501)]
    );
    let out = eventlake::query::query(
        &lake,
        Table::embedded(),
        "SELECT event_name, created_at FROM events_unique ORDER BY created_at",
        eventlake::query::Format::Csv,
        0,
        &mut Vec::new(),
    )
    .unwrap();
    assert_eq!(out, 2, "events_unique agrees: two events");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compaction_keeps_each_event_once_in_fewer_larger_files_and_is_idempotent() {
    // Cross-batch duplicates in the corpus, and the whole corpus delivered twice (a retry).
    let r = generate_and_replay("compact", 3000, 21, 0.05, 0.01);
    let mut options = small_batches(&r.lake);
    options.again = true; // the same replay a second time, on purpose
    let again = replay(&mut (r.events.join("\n") + "\n").as_bytes(), &options, &|_, _| {}).unwrap();
    assert_eq!(again.summary.ok, r.summary.ok);
    let raw = read_lake(&r.lake);
    let unique: BTreeSet<(String, i64)> = raw
        .iter()
        .map(|row| (row.event_uuid.to_lowercase(), row.created_at))
        .collect();
    assert!(
        raw.len() >= 2 * unique.len(),
        "every event is at least twice in the raw table"
    );
    let mut raw_files = Vec::new();
    files(&r.lake.join("events"), &mut raw_files);

    let first = compact_lake(&r.lake, None, 0);
    let (rows, curated_files) = read_curated(&r.lake);
    assert_eq!(
        rows.len(),
        unique.len(),
        "exactly one row per unique (event_uuid, created_at)"
    );
    let curated_keys: BTreeSet<(String, i64)> = rows
        .iter()
        .map(|row| (row.event_uuid.to_lowercase(), row.created_at))
        .collect();
    assert_eq!(curated_keys, unique);
    for row in &rows {
        assert!(raw.contains(row), "a curated row is a raw row, unchanged: {row:?}");
    }
    let partitions: BTreeSet<(String, String)> = raw
        .iter()
        .map(|r| (r.event_type.clone(), r.created_date.clone()))
        .collect();
    assert_eq!(curated_files.len(), partitions.len(), "one file per partition");
    assert!(
        curated_files.len() < raw_files.len(),
        "{} curated files vs {} raw",
        curated_files.len(),
        raw_files.len()
    );
    let mean_size =
        |files: &[PathBuf]| files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum::<u64>() / files.len() as u64;
    assert!(
        mean_size(&curated_files) > mean_size(&raw_files),
        "curated files are larger on average: {} vs {} bytes",
        mean_size(&curated_files),
        mean_size(&raw_files)
    );
    assert_eq!(first.curated_rows_after, unique.len());
    assert_eq!(first.raw_rows, raw.len());

    // Re-running changes nothing but the file names.
    let second = compact_lake(&r.lake, None, 0);
    let (rows_again, files_again) = read_curated(&r.lake);
    assert_eq!(rows_again, rows);
    assert_eq!(files_again.len(), curated_files.len());
    assert_eq!(second.curated_rows_before, unique.len());
    assert_eq!(second.curated_rows_after, unique.len());

    // query sees the curated table, and it agrees with events_unique.
    let table = Table::embedded();
    let count = |sql: &str| {
        let mut out = Vec::new();
        eventlake::query::query(&r.lake, table, sql, eventlake::query::Format::Csv, 0, &mut out).unwrap();
        String::from_utf8(out).unwrap().lines().nth(1).unwrap().to_string()
    };
    assert_eq!(
        count("SELECT count(*) AS n FROM events_curated"),
        unique.len().to_string()
    );
    assert_eq!(
        count("SELECT count(*) AS n FROM events_unique"),
        unique.len().to_string()
    );
    let _ = std::fs::remove_dir_all(&r.dir);
}

#[test]
fn compaction_with_a_date_merges_only_its_look_back_window() {
    let options = GenerateOptions {
        events: 2000,
        seed: 5,
        duplicates: 0.02,
        span_secs: 4 * 86_400,
        ..GenerateOptions::default()
    };
    let r = replay_generated("compact-window", options);
    let raw = read_lake(&r.lake);
    let dates: BTreeSet<String> = raw.iter().map(|row| row.created_date.clone()).collect();
    assert!(dates.len() >= 4, "the corpus spans several days: {dates:?}");
    let dates: Vec<String> = dates.into_iter().collect();
    let last = dates[dates.len() - 1].clone();
    // The last date and one day of look-back: two dates curated, the others untouched.
    let summary = compact_lake(&r.lake, Some(&last), 1);
    let (rows, _) = read_curated(&r.lake);
    let window = [dates[dates.len() - 2].clone(), last.clone()];
    let curated_dates: BTreeSet<String> = rows.iter().map(|row| row.created_date.clone()).collect();
    assert_eq!(curated_dates, window.iter().cloned().collect::<BTreeSet<_>>());
    let partitions: BTreeSet<(&str, &str)> = raw
        .iter()
        .filter(|row| window.contains(&row.created_date))
        .map(|row| (row.event_type.as_str(), row.created_date.as_str()))
        .collect();
    assert_eq!(summary.partitions, partitions.len());
    let expected: BTreeSet<(String, i64)> = raw
        .iter()
        .filter(|row| window.contains(&row.created_date))
        .map(|row| (row.event_uuid.to_lowercase(), row.created_at))
        .collect();
    assert_eq!(rows.len(), expected.len());
    let _ = std::fs::remove_dir_all(&r.dir);
}

/// The JSON kind of a generated value, as the catalog names kinds (None for null).
fn kind_of(v: &Value) -> Option<&'static str> {
    match v {
        Value::Null => None,
        Value::String(_) => Some("string"),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some("integer"),
        Value::Number(_) => Some("number"),
        Value::Bool(_) => Some("boolean"),
        Value::Array(_) => Some("array"),
        Value::Object(_) => Some("object"),
    }
}

/// Whether the typed view reads `v` for a field of type `ty` (not NULL), for the values the
/// generator makes: written here from the casts' documented behaviour, not from the view.
fn view_reads(ty: &eventlake_glue_schema::HiveType, v: &Value) -> bool {
    use eventlake_glue_schema::HiveType as T;
    let scalar = match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match (ty, scalar) {
        (T::Array(_), _) => matches!(v, Value::Array(items) if items.iter().all(|i| !i.is_array() && !i.is_object())),
        (_, None) => false,
        (T::String, Some(_)) => true,
        (T::BigInt | T::Int | T::SmallInt | T::TinyInt, Some(s)) => {
            let limit: i64 = match ty {
                T::TinyInt => i8::MAX.into(),
                T::SmallInt => i16::MAX.into(),
                T::Int => i32::MAX.into(),
                _ => i64::MAX,
            };
            s.parse::<i64>().is_ok_and(|n| n.abs() <= limit)
        }
        (T::Double | T::Float | T::Decimal { .. }, Some(s)) => s.parse::<f64>().is_ok(),
        (T::Boolean, Some(s)) => s == "true" || s == "false",
        (T::Timestamp, Some(s)) => chrono::DateTime::parse_from_rfc3339(&s).is_ok(),
        (T::Date, Some(s)) => chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok(),
    }
}

/// (events, carrying, wrong kind, unreadable) per (created_date, event_name, finding, field).
type DriftCounts = BTreeMap<(String, String, String, String), (u64, u64, u64, u64)>;

/// What the `field_drift` view must say of `lines`, computed from the generated JSON and the
/// catalog: the deduplicated events (first of each key), their payload members.
fn expected_drift(lines: &[String]) -> DriftCounts {
    let catalog = Catalog::embedded();
    let mut seen = BTreeSet::new();
    let mut per_name: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut out = DriftCounts::new();
    let mut unknown_fields: Vec<(String, String, String, bool)> = Vec::new();
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap();
        let created_at = v["created_at"].as_i64().unwrap();
        if !seen.insert((v["event_uuid"].as_str().unwrap().to_lowercase(), created_at)) {
            continue;
        }
        let date = chrono::DateTime::from_timestamp(created_at, 0)
            .unwrap()
            .date_naive()
            .to_string();
        let name = v["event_name"].as_str().unwrap().to_string();
        *per_name.entry((date.clone(), name.clone())).or_default() += 1;
        let payload = v.as_object().unwrap();
        let Some(event) = catalog.event(&name) else {
            let e = out
                .entry((date, name, "unknown event".into(), String::new()))
                .or_default();
            e.0 += 1;
            continue;
        };
        for f in &event.fields {
            let ty = f.hive_type();
            let value = payload.get(&f.name).unwrap_or(&Value::Null);
            let e = out
                .entry((date.clone(), name.clone(), "catalog field".into(), f.name.clone()))
                .or_default();
            e.0 += 1;
            if let Some(kind) = kind_of(value) {
                e.1 += 1;
                let fits = eventlake_glue_schema::JsonKind::ALL
                    .iter()
                    .any(|k| k.name() == kind && ty.json_kind().accepts(*k));
                e.2 += u64::from(!fits);
                e.3 += u64::from(!view_reads(&ty, value));
            }
        }
        for (key, value) in payload {
            let common = ["event_uuid", "event_name", "created_at"].contains(&key.as_str());
            if !common && !event.fields.iter().any(|f| &f.name == key) {
                unknown_fields.push((date.clone(), name.clone(), key.clone(), !value.is_null()));
            }
        }
    }
    for (date, name, field, carried) in unknown_fields {
        let events = per_name[&(date.clone(), name.clone())];
        let e = out.entry((date, name, "unknown field".into(), field)).or_default();
        e.0 = events;
        e.1 += u64::from(carried);
    }
    out
}

#[test]
fn the_field_drift_view_and_quality_count_exactly_the_injected_drift() {
    let options = GenerateOptions {
        events: 6000,
        seed: 18,
        duplicates: 0.02,
        // Drift is counted over valid events only; invalid lines are rejected before the lake.
        invalid: 0.01,
        drift: eventlake::generate::Drift {
            wrong_kind: 0.05,
            renamed: 0.02,
            new_field: 0.02,
        },
        ..GenerateOptions::default()
    };
    let mut generator = Generator::new(Catalog::embedded(), options);
    let mut lines: Vec<String> = generator.by_ref().collect();
    let injected = generator.report.clone();
    // Names the catalog does not have, in an event type it has (so the lake keeps them).
    for i in 0..3 {
        lines.push(format!(
            r#"{{"event_uuid":"00000000-0000-4000-8000-{i:012x}","event_name":"payment:crypto:sent","created_at":1710670500,"amount":"0.1"}}"#
        ));
    }
    let dir = temp_dir("field-drift");
    let lake = dir.join("lake");
    let input = lines.join("\n") + "\n";
    replay(&mut input.as_bytes(), &small_batches(&lake), &|_, _| {}).unwrap();
    let valid: Vec<String> = lines
        .iter()
        .filter(|l| {
            let mut out = Vec::new();
            eventlake_transform::Enricher::new()
                .enrich(l.as_bytes(), &mut out)
                .is_ok()
        })
        .cloned()
        .collect();
    let expected = expected_drift(&valid);

    // The view, through the local engine.
    let mut json = Vec::new();
    eventlake::query::query(
        &lake,
        Table::embedded(),
        "SELECT * FROM field_drift",
        eventlake::query::Format::Json,
        0,
        &mut json,
    )
    .unwrap();
    let mut got = DriftCounts::new();
    for line in String::from_utf8(json).unwrap().lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
        if n("wrong_kind") + n("unreadable") > 0 {
            assert!(r.get("example").is_some(), "a drifted field has an example: {r}");
        }
        let key = (text("created_date"), text("event_name"), text("finding"), text("field"));
        assert!(got
            .insert(key, (n("events"), n("carrying"), n("wrong_kind"), n("unreadable")))
            .is_none());
    }
    let differing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(v))
        .map(|(k, v)| (k, v, got.get(k)))
        .take(5)
        .collect();
    assert!(
        differing.is_empty(),
        "view rows that differ (key, expected, got): {differing:?}"
    );
    assert_eq!(got.len(), expected.len(), "no row beyond the expected ones");

    // The same counts in `eventlake quality`, summed, and the generator's own counts.
    let report = eventlake::quality::quality(&lake, Table::embedded(), 7).unwrap();
    let unique: BTreeSet<(String, i64)> = valid
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["event_uuid"].as_str().unwrap().to_lowercase(),
                v["created_at"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(report.events, unique.len() as u64);
    let wrong: u64 = report.drifted.iter().map(|f| f.wrong_kind).sum();
    let missing: u64 = report.missing.iter().map(|f| f.events - f.carrying).sum();
    let new_field = report
        .unknown_fields
        .iter()
        .find(|f| f.field == eventlake::generate::DRIFT_NEW_FIELD);
    assert_eq!(wrong, injected.wrong_kind, "{injected:?}");
    assert_eq!(missing, injected.renamed, "a renamed field is missing from its event");
    assert_eq!(new_field.map(|f| f.carrying), Some(injected.new_field));
    let unreadable: u64 = report.drifted.iter().map(|f| f.unreadable).sum();
    let expected_unreadable: u64 = expected.values().map(|v| v.3).sum();
    assert!(unreadable > 0 && unreadable < wrong, "{unreadable} of {wrong}");
    assert_eq!(unreadable, expected_unreadable);
    assert_eq!(
        report.unknown_events,
        vec![eventlake::quality::UnknownEvent {
            event_name: "payment:crypto:sent".into(),
            events: 3,
            since: "2024-03-17".into(),
        }]
    );
    let text = eventlake::quality::render(&report, &lake);
    assert!(text.contains("Event names the catalog does not have: 1\n"), "{text}");
    assert!(
        text.contains(&format!("{} event names", 100)),
        "client, trace_id and note come with every name: {text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
