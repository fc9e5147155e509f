//! Compaction: the curated table. Each date of the raw `events/`, all its event types
//! together, is merged into `curated/` so that every duplicate key of the table's rule
//! (`table.json`, `duplicates`: (lower-case `event_uuid`, `created_at`), the contract's key,
//! the one `events_unique` and the curated `MERGE` use) appears once in the date, in one file
//! per partition: the rows already curated win, then the raw rows in the rule's keep order
//! (`event_name`, `payload`, `event_uuid`), the first of each key kept. Re-running it changes nothing (idempotent); a date with a look-back window
//! re-merges the last days, where late events land. Works on a directory and on S3 alike.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, Int32Type, Int64Type, Int8Type};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use arrow_select::concat::concat_batches;
use arrow_select::filter::filter_record_batch;
use chrono::NaiveDate;
use eventlake_glue_schema::{Duplicates, Table};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use crate::convert::arrow_schema;
use crate::error::LakeError;
use crate::layout::{partition_dir, partition_of, ObjectNames};
use crate::store::LakeStore;
use crate::writer::parquet_bytes;

/// What to compact.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// The lake: a directory or `s3://bucket/prefix`.
    pub lake: PathBuf,
    /// Compact `created_date`s from `date - lookback_days` to `date`; `None`: every date.
    pub date: Option<NaiveDate>,
    /// Days before `date` merged again (late events land in their own date's partition).
    pub lookback_days: u32,
    /// The table.
    pub table: Table,
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactSummary {
    /// Partitions merged.
    pub partitions: usize,
    /// Raw files read.
    pub raw_files: usize,
    /// Raw rows read (duplicates included).
    pub raw_rows: usize,
    /// Curated files before.
    pub curated_files_before: usize,
    /// Curated rows before.
    pub curated_rows_before: usize,
    /// Curated files after (one per partition).
    pub curated_files_after: usize,
    /// Curated rows after: each (`event_uuid`, `created_at`) once per date.
    pub curated_rows_after: usize,
}

/// What fills the curated table's typed columns (issue #19) of a partition's kept rows: the
/// CLI's SQL engine running the generated expressions of `eventlake_glue_schema::curated`,
/// the ones Athena's daily `MERGE` runs. [`compact`] writes the table's columns only.
pub trait TypedColumns {
    /// `rows` (the table's columns, in order) with the typed columns appended.
    fn append(&self, rows: RecordBatch) -> Result<RecordBatch, LakeError>;
}

/// No typed columns: the curated files hold the table's columns only.
struct NoTypedColumns;

impl TypedColumns for NoTypedColumns {
    fn append(&self, rows: RecordBatch) -> Result<RecordBatch, LakeError> {
        Ok(rows)
    }
}

/// One partition of the window: its raw and curated objects.
struct Partition {
    event_type: String,
    date: String,
    raw: Vec<String>,
    curated: Vec<String>,
}

/// Merges the raw partitions of the window into the curated table, the table's columns only.
/// `progress` is called after each date with (partitions done, partitions in all).
pub fn compact(options: &CompactOptions, progress: &dyn Fn(usize, usize)) -> Result<CompactSummary, LakeError> {
    compact_typed(options, &NoTypedColumns, progress)
}

/// [`compact`], each written partition's rows with `typed`'s columns appended (set again from
/// `payload` for every row written, curated or new: a column added to the catalog is filled
/// for the partitions the run rewrites).
pub fn compact_typed(
    options: &CompactOptions,
    typed: &dyn TypedColumns,
    progress: &dyn Fn(usize, usize),
) -> Result<CompactSummary, LakeError> {
    let storage = &options.table.storage;
    let store = LakeStore::open_lake(&options.lake, storage)?;
    // What a killed run of a directory lake can leave: staging files of unfinished writes.
    // (New curated files beside old ones are merged by this run: the old rows win.)
    store.remove_staging_files()?;
    let window = match options.date {
        None => None,
        Some(d) => {
            let from = d
                .checked_sub_days(chrono::Days::new(u64::from(options.lookback_days)))
                .unwrap_or(NaiveDate::MIN);
            Some((from, d))
        }
    };
    let in_window = |date: &str| match (window, NaiveDate::parse_from_str(date, "%Y-%m-%d")) {
        (None, _) => true,
        (Some((from, to)), Ok(d)) => from <= d && d <= to,
        (Some(_), Err(_)) => false,
    };
    let mut partitions: Vec<Partition> = Vec::new();
    let parquet = |key: &str| key.ends_with(".parquet") && !key.rsplit('/').next().unwrap_or_default().starts_with('.');
    for (key, _) in store.list(&storage.events_prefix)? {
        let Some((event_type, date)) = partition_of(&storage.events_prefix, &key) else {
            continue;
        };
        if !parquet(&key) || !in_window(&date) {
            continue;
        }
        match partitions.last_mut() {
            Some(p) if p.event_type == event_type && p.date == date => p.raw.push(key),
            _ => partitions.push(Partition {
                event_type,
                date,
                raw: vec![key],
                curated: Vec::new(),
            }),
        }
    }
    // The curated files of the window, by partition, from one listing. Partitions only the
    // curated table still holds (their raw files expired) are rewritten too, so every curated
    // row of the window gets its typed columns set again.
    let mut curated: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (key, _) in store.list(&storage.curated_prefix)? {
        let Some((event_type, date)) = partition_of(&storage.curated_prefix, &key) else {
            continue;
        };
        if parquet(&key) && in_window(&date) {
            curated.entry((event_type, date)).or_default().push(key);
        }
    }
    for p in &mut partitions {
        p.curated = curated
            .remove(&(p.event_type.clone(), p.date.clone()))
            .unwrap_or_default();
    }
    partitions.extend(curated.into_iter().map(|((event_type, date), files)| Partition {
        event_type,
        date,
        raw: Vec::new(),
        curated: files,
    }));
    // By date, then type: each date is merged as one.
    partitions.sort_by(|a, b| (&a.date, &a.event_type).cmp(&(&b.date, &b.event_type)));
    let schema = arrow_schema(&options.table)?;
    let mut names = ObjectNames::new("compacted");
    let mut summary = CompactSummary::default();
    let mut done = 0;
    // One date at a time, every event type of it together: the key (lower(event_uuid),
    // created_at) is the contract's, so the same event filed under two types is one event.
    for of_date in partitions.chunk_by(|a, b| a.date == b.date) {
        let kept = choose_rows(&store, &schema, of_date, &options.table.duplicates, &mut summary)?;
        // Then one partition at a time: its kept rows, into one new curated file.
        for (p, masks) in of_date.iter().zip(kept) {
            summary.partitions += 1;
            let mut batches = Vec::new();
            for ((key, _), mask) in p.files().zip(masks) {
                let mut at = 0;
                for batch in read_columns(&store, key, &schema, None)? {
                    let rows = mask.get(at..at + batch.num_rows()).ok_or_else(|| LakeError::Decode {
                        key: key.clone(),
                        message: "it changed while it was being compacted".into(),
                    })?;
                    at += batch.num_rows();
                    let filtered = filter_record_batch(&batch, &BooleanArray::from(rows.to_vec()))
                        .map_err(|e| encode_error(e.to_string()))?;
                    batches.push(filtered);
                }
            }
            let batch = concat_batches(&schema, &batches).map_err(|e| encode_error(e.to_string()))?;
            if batch.num_rows() > 0 {
                let batch = typed.append(batch)?;
                let key = format!(
                    "{}{}.parquet",
                    partition_dir(&storage.curated_prefix, &p.event_type, &p.date),
                    names.compacted_object()
                );
                store.put(&key, parquet_bytes(&batch, &key)?)?;
                summary.curated_files_after += 1;
                summary.curated_rows_after += batch.num_rows();
            }
        }
        // Only now that the new files are complete: a crash before this leaves both, and the
        // next run merges them (the old rows win, so nothing changes).
        for old in of_date.iter().flat_map(|p| &p.curated) {
            store.delete(old)?;
        }
        done += of_date.len();
        progress(done, partitions.len());
    }
    Ok(summary)
}

/// An Arrow error while merging, as a lake error.
fn encode_error(message: String) -> LakeError {
    LakeError::Encode {
        key: "the merged partition".into(),
        message,
    }
}

impl Partition {
    /// Its objects: the curated ones first (their rows win), then the raw ones, each with
    /// whether it is curated.
    fn files(&self) -> impl Iterator<Item = (&String, bool)> {
        self.curated
            .iter()
            .map(|k| (k, true))
            .chain(self.raw.iter().map(|k| (k, false)))
    }
}

/// One value of a key or keep column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Value {
    Int(i64),
    Str(String),
}

/// A row of a date: (partition, file in [`Partition::files`] order, row in the file).
type RowAt = (usize, usize, usize);

/// The rows of one date to keep, as a mask per partition and file, in two passes that hold
/// only keys (and the keep columns of contested keys), never the date's rows:
/// 1. the key of every row: a curated row wins its key; a raw row whose key no curated row
///    has wins it if no other raw row has it;
/// 2. for keys several raw rows share, the keep columns of just those rows: the first in the
///    rule's keep order wins (ties: the earlier row).
fn choose_rows(
    store: &LakeStore,
    schema: &SchemaRef,
    of_date: &[Partition],
    rule: &Duplicates,
    summary: &mut CompactSummary,
) -> Result<Vec<Vec<Vec<bool>>>, LakeError> {
    let key_columns: Vec<&str> = rule.key.iter().map(|k| k.column.as_str()).collect();
    let mut masks: Vec<Vec<Vec<bool>>> = Vec::with_capacity(of_date.len());
    let mut curated_keys: HashSet<Vec<Option<Value>>> = HashSet::new();
    let mut first_raw: HashMap<Vec<Option<Value>>, RowAt> = HashMap::new();
    let mut contested: HashMap<Vec<Option<Value>>, Vec<RowAt>> = HashMap::new();
    for partition in of_date {
        summary.raw_files += partition.raw.len();
        summary.curated_files_before += partition.curated.len();
        masks.push(vec![Vec::new(); partition.curated.len() + partition.raw.len()]);
    }
    // Every curated file of the date before any raw one: a curated row wins its key in every
    // partition of the date.
    for phase_curated in [true, false] {
        for (p, partition) in of_date.iter().enumerate() {
            for (f, (key, curated)) in partition.files().enumerate() {
                if curated != phase_curated {
                    continue;
                }
                let mut mask = Vec::new();
                for batch in read_columns(store, key, schema, Some(&key_columns))? {
                    let cols = KeyColumns::of(&batch, rule)?;
                    for i in 0..batch.num_rows() {
                        let at = (p, f, mask.len());
                        let k = cols.key(i);
                        if curated {
                            mask.push(curated_keys.insert(k));
                            continue;
                        }
                        mask.push(false);
                        if curated_keys.contains(&k) {
                            continue;
                        }
                        match first_raw.entry(k) {
                            Entry::Vacant(e) => {
                                e.insert(at);
                            }
                            Entry::Occupied(e) => contested
                                .entry(e.key().clone())
                                .or_insert_with(|| vec![*e.get()])
                                .push(at),
                        }
                    }
                }
                match curated {
                    true => summary.curated_rows_before += mask.len(),
                    false => summary.raw_rows += mask.len(),
                }
                masks[p][f] = mask;
            }
        }
    }
    for (k, (p, f, i)) in first_raw {
        if !contested.contains_key(&k) {
            masks[p][f][i] = true;
        }
    }
    // Pass 2: the keep order of the contested rows, read file by file.
    let mut wanted: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for &(p, f, i) in contested.values().flatten() {
        wanted.entry((p, f)).or_default().push(i);
    }
    let keep_columns: Vec<&str> = rule.keep.iter().map(String::as_str).collect();
    let mut order: HashMap<RowAt, Vec<(bool, Option<Value>)>> = HashMap::new();
    for ((p, f), mut rows) in wanted {
        rows.sort_unstable();
        let (key, _) = of_date[p].files().nth(f).expect("a file of the partition");
        let mut offset = 0;
        let mut next = rows.iter().peekable();
        for batch in read_columns(store, key, schema, Some(&keep_columns))? {
            let cols = KeepColumns::of(&batch, rule)?;
            while let Some(&&i) = next.peek() {
                if i >= offset + batch.num_rows() {
                    break;
                }
                order.insert((p, f, i), cols.order(i - offset));
                next.next();
            }
            offset += batch.num_rows();
        }
    }
    for rows in contested.values() {
        let winner = rows
            .iter()
            .min_by(|a, b| (order.get(*a), *a).cmp(&(order.get(*b), *b)))
            .expect("a contested key has rows");
        masks[winner.0][winner.1][winner.2] = true;
    }
    Ok(masks)
}

/// A column of the duplicate rule in a batch (a string or an integer column).
fn rule_column(batch: &RecordBatch, name: &str) -> Result<ArrayRef, LakeError> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| encode_error(format!("no column {name}")))?;
    match array.data_type() {
        DataType::Utf8 | DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 => Ok(array.clone()),
        other => Err(encode_error(format!(
            "duplicate rule column {name} is {other}: compaction compares strings and integers"
        ))),
    }
}

/// Row `i` of a rule column, lower-cased if `ignore_case`; `None` for NULL.
fn value(array: &ArrayRef, i: usize, ignore_case: bool) -> Option<Value> {
    if array.is_null(i) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Utf8 => {
            let text = array.as_string::<i32>().value(i);
            Value::Str(if ignore_case {
                text.to_lowercase()
            } else {
                text.to_string()
            })
        }
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(i)),
        DataType::Int32 => Value::Int(i64::from(array.as_primitive::<Int32Type>().value(i))),
        DataType::Int16 => Value::Int(i64::from(array.as_primitive::<Int16Type>().value(i))),
        _ => Value::Int(i64::from(array.as_primitive::<Int8Type>().value(i))),
    })
}

/// The key columns of the duplicate rule in a batch, with whether case is ignored.
struct KeyColumns(Vec<(ArrayRef, bool)>);

impl KeyColumns {
    fn of(batch: &RecordBatch, rule: &Duplicates) -> Result<KeyColumns, LakeError> {
        rule.key
            .iter()
            .map(|k| rule_column(batch, &k.column).map(|a| (a, k.ignore_case)))
            .collect::<Result<_, _>>()
            .map(KeyColumns)
    }

    /// The duplicate key of row `i`.
    fn key(&self, i: usize) -> Vec<Option<Value>> {
        self.0
            .iter()
            .map(|(a, ignore_case)| value(a, i, *ignore_case))
            .collect()
    }
}

/// The keep-order columns of the duplicate rule in a batch.
struct KeepColumns(Vec<ArrayRef>);

impl KeepColumns {
    fn of(batch: &RecordBatch, rule: &Duplicates) -> Result<KeepColumns, LakeError> {
        rule.keep
            .iter()
            .map(|c| rule_column(batch, c))
            .collect::<Result<_, _>>()
            .map(KeepColumns)
    }

    /// Where row `i` sorts among its key's rows: ascending, NULLs last (as Athena sorts).
    fn order(&self, i: usize) -> Vec<(bool, Option<Value>)> {
        self.0
            .iter()
            .map(|a| {
                let v = value(a, i, false);
                (v.is_none(), v)
            })
            .collect()
    }
}

/// The batches of the object `key`: all the table's columns (checked to be the table's), or
/// only those named in `only`.
fn read_columns(
    store: &LakeStore,
    key: &str,
    schema: &SchemaRef,
    only: Option<&[&str]>,
) -> Result<Vec<RecordBatch>, LakeError> {
    let read_error = |message: String| LakeError::Decode {
        key: store.shown(key),
        message,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(store.get(key)?).map_err(|e| read_error(e.to_string()))?;
    // Without `only`, the table's columns: a curated file also holds typed columns after them.
    let table_columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mask = ProjectionMask::columns(builder.parquet_schema(), only.unwrap_or(&table_columns).iter().copied());
    let builder = builder.with_projection(mask);
    let mut batches = Vec::new();
    for batch in builder.build().map_err(|e| read_error(e.to_string()))? {
        let batch = batch.map_err(|e| read_error(e.to_string()))?;
        if only.is_none() && batch.schema().fields() != schema.fields() {
            return Err(read_error(format!(
                "its columns are not the table's ({:?})",
                batch.schema().fields().iter().map(|f| f.name()).collect::<Vec<_>>()
            )));
        }
        batches.push(batch);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use eventlake_glue_schema::KeyColumn;
    use std::sync::Arc;

    /// A raw Parquet object of the embedded table: (event_uuid, event_name, created_at) per row.
    fn put_raw(store: &LakeStore, event_type: &str, name: &str, rows: &[(&str, &str, i64)]) {
        let schema = arrow_schema(Table::embedded()).unwrap();
        let strings = |values: Vec<&str>| Arc::new(StringArray::from(values)) as ArrayRef;
        let n = rows.len();
        let columns: Vec<ArrayRef> = vec![
            strings(rows.iter().map(|r| r.0).collect()),
            strings(rows.iter().map(|r| r.1).collect()),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
            Arc::new(TimestampMicrosecondArray::from(vec![0; n]).with_timezone("UTC")),
            strings(vec!["b"; n]),
            strings(vec!["{}"; n]),
        ];
        let batch = RecordBatch::try_new(schema, columns).unwrap();
        let key = format!("events/event_type={event_type}/created_date=2024-03-17/{name}.parquet");
        store.put(&key, parquet_bytes(&batch, &key).unwrap()).unwrap();
    }

    /// (event_uuid, event_name, created_at) of every curated row, by event type and file order.
    fn curated(store: &LakeStore) -> Vec<(String, String, i64)> {
        let schema = arrow_schema(Table::embedded()).unwrap();
        let mut out = Vec::new();
        for (key, _) in store.list("curated/").unwrap() {
            for b in read_columns(store, &key, &schema, None).unwrap() {
                let (uuid, name) = (b.column(0).as_string::<i32>(), b.column(1).as_string::<i32>());
                let at = b.column(2).as_primitive::<Int64Type>();
                for i in 0..b.num_rows() {
                    out.push((uuid.value(i).to_string(), name.value(i).to_string(), at.value(i)));
                }
            }
        }
        out
    }

    fn compact_with(dir: &std::path::Path, table: Table) -> CompactSummary {
        let options = CompactOptions {
            lake: dir.to_path_buf(),
            date: None,
            lookback_days: 0,
            table,
        };
        compact(&options, &|_, _| {}).unwrap()
    }

    #[test]
    fn the_table_rule_keys_and_orders_the_merge_across_event_types() {
        let dir = std::env::temp_dir().join(format!("eventlake-compact-rule-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = LakeStore::open(&dir).unwrap();
        put_raw(&store, "x", "1", &[("A", "z:1", 1), ("a", "y:1", 1)]);
        put_raw(&store, "x", "2", &[("a", "x:1", 2), ("b", "x:1", 1)]);
        put_raw(&store, "y", "1", &[("B", "w:1", 1), ("c", "v:1", 3)]);
        // (lower(event_uuid), created_at): A/a at 1 are one event, and b/B at 1 across two
        // event types; the first by event_name is kept.
        let summary = compact_with(&dir, Table::embedded().clone());
        assert_eq!((summary.raw_rows, summary.curated_rows_after), (6, 4));
        assert_eq!(
            curated(&store),
            [
                ("a".into(), "y:1".into(), 1),
                ("a".into(), "x:1".into(), 2),
                ("B".into(), "w:1".into(), 1),
                ("c".into(), "v:1".into(), 3)
            ]
        );
        // Curated rows win over raw rows of their key, and a second run changes nothing.
        put_raw(&store, "x", "3", &[("A", "a:0", 1)]);
        let again = compact_with(&dir, Table::embedded().clone());
        assert_eq!((again.curated_rows_before, again.curated_rows_after), (4, 4));
        assert_eq!(curated(&store).len(), 4);
        assert!(curated(&store).contains(&("a".into(), "y:1".into(), 1)));

        // A rule keyed by event_uuid alone, case kept: A and a differ, a at 1 and 2 do not.
        std::fs::remove_dir_all(dir.join("curated")).unwrap();
        let mut table = Table::embedded().clone();
        table.duplicates = Duplicates {
            key: vec![KeyColumn {
                column: "event_uuid".into(),
                ignore_case: false,
            }],
            keep: vec!["event_name".into()],
        };
        compact_with(&dir, table);
        let mut rows = curated(&store);
        rows.sort();
        assert_eq!(
            rows,
            [
                ("A".into(), "a:0".into(), 1),
                ("B".into(), "w:1".into(), 1),
                ("a".into(), "x:1".into(), 2),
                ("b".into(), "x:1".into(), 1),
                ("c".into(), "v:1".into(), 3)
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
