//! Compaction: the curated table. Each date of the raw `events/`, all its event types
//! together, is merged into `curated/` so that every duplicate key of the table's rule
//! (`table.json`, `duplicates`: (lower-case `event_uuid`, `created_at`), the contract's key,
//! the one `events_unique` and the curated `MERGE` use) appears once in the date, in one file
//! per partition: the rows already curated win, then the raw rows in the rule's keep order
//! (`event_name`, `payload`, `event_uuid`), the first of each key kept. Re-running it changes nothing (idempotent); a date with a look-back window
//! re-merges the last days, where late events land. Works on a directory and on S3 alike.

use std::collections::HashSet;
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, Int32Type, Int64Type, Int8Type};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, SchemaRef};
use arrow_select::concat::concat_batches;
use arrow_select::take::take_record_batch;
use chrono::NaiveDate;
use eventlake_glue_schema::{Duplicates, Table};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

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

/// One partition of the window: its raw and curated objects.
struct Partition {
    event_type: String,
    date: String,
    raw: Vec<String>,
    curated: Vec<String>,
}

/// Merges the raw partitions of the window into the curated table. `progress` is called
/// after each date with (partitions done, partitions in all).
pub fn compact(options: &CompactOptions, progress: &dyn Fn(usize, usize)) -> Result<CompactSummary, LakeError> {
    let storage = &options.table.storage;
    let store = LakeStore::open_existing(&options.lake).map_err(|e| match e {
        LakeError::Open { location, .. } => LakeError::NoLake {
            location,
            prefix: storage.events_prefix.clone(),
        },
        other => other,
    })?;
    if !store.has_any(&storage.events_prefix)? {
        return Err(LakeError::NoLake {
            location: store.location().to_string(),
            prefix: storage.events_prefix.clone(),
        });
    }
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
    for p in &mut partitions {
        p.curated = store
            .list(&partition_dir(&storage.curated_prefix, &p.event_type, &p.date))?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| parquet(k))
            .collect();
    }
    // By date, then type: each date is merged as one.
    partitions.sort_by(|a, b| (&a.date, &a.event_type).cmp(&(&b.date, &b.event_type)));
    let schema = arrow_schema(&options.table)?;
    let mut names = ObjectNames::new("compacted");
    let mut summary = CompactSummary::default();
    let mut done = 0;
    // One date at a time, every event type of it together: the key (lower(event_uuid),
    // created_at) is the contract's, so the same event filed under two types is one event.
    for of_date in partitions.chunk_by(|a, b| a.date == b.date) {
        let mut curated = Vec::new();
        let mut raw = Vec::new();
        for p in of_date {
            let c = read_batches(&store, &p.curated, &schema)?;
            let r = read_batches(&store, &p.raw, &schema)?;
            summary.partitions += 1;
            summary.raw_files += p.raw.len();
            summary.raw_rows += r.num_rows();
            summary.curated_files_before += p.curated.len();
            summary.curated_rows_before += c.num_rows();
            curated.push(c);
            raw.push(r);
        }
        let merged = merge(&curated, &raw, &options.table.duplicates)?;
        for (p, batch) in of_date.iter().zip(merged) {
            if batch.num_rows() > 0 {
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

/// One value of a key or keep column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Value {
    Int(i64),
    Str(String),
}

/// The columns of the table's duplicate rule (`table.json`, `duplicates`) in one batch.
struct RuleColumns {
    /// Key columns, with whether case is ignored.
    key: Vec<(ArrayRef, bool)>,
    /// Keep-order columns.
    keep: Vec<ArrayRef>,
}

impl RuleColumns {
    fn of(all: &RecordBatch, rule: &Duplicates) -> Result<RuleColumns, LakeError> {
        let column = |name: &str| -> Result<ArrayRef, LakeError> {
            let array = all.column_by_name(name).ok_or_else(|| LakeError::Decode {
                key: "the merged partition".into(),
                message: format!("no column {name}"),
            })?;
            match array.data_type() {
                DataType::Utf8 | DataType::Int64 | DataType::Int32 | DataType::Int16 | DataType::Int8 => {
                    Ok(array.clone())
                }
                other => Err(LakeError::Decode {
                    key: "the merged partition".into(),
                    message: format!(
                        "duplicate rule column {name} is {other}: compaction compares strings and integers"
                    ),
                }),
            }
        };
        Ok(RuleColumns {
            key: rule
                .key
                .iter()
                .map(|k| column(&k.column).map(|a| (a, k.ignore_case)))
                .collect::<Result<_, _>>()?,
            keep: rule.keep.iter().map(|c| column(c)).collect::<Result<_, _>>()?,
        })
    }

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

    /// The duplicate key of row `i`.
    fn key(&self, i: usize) -> Vec<Option<Value>> {
        self.key
            .iter()
            .map(|(a, ignore_case)| Self::value(a, i, *ignore_case))
            .collect()
    }

    /// Where row `i` sorts among its key's rows: ascending, NULLs last (as Athena sorts).
    fn keep_order(&self, i: usize) -> Vec<(bool, Option<Value>)> {
        self.keep
            .iter()
            .map(|a| {
                let v = Self::value(a, i, false);
                (v.is_none(), v)
            })
            .collect()
    }
}

/// The merge of one date: for each of its partitions (`curated[i]`, `raw[i]`, the same event
/// type), the curated rows, then the raw rows whose key is in no partition's curated rows and
/// not taken yet, in the rule's keep order over the whole date; the first row of each key kept.
fn merge(curated: &[RecordBatch], raw: &[RecordBatch], rule: &Duplicates) -> Result<Vec<RecordBatch>, LakeError> {
    let arrow_error = |e: arrow_schema::ArrowError| LakeError::Encode {
        key: "the merged partition".into(),
        message: e.to_string(),
    };
    let parts: Vec<(RecordBatch, usize)> = curated
        .iter()
        .zip(raw)
        .map(|(c, r)| concat_batches(&c.schema(), [c, r]).map(|all| (all, c.num_rows())))
        .collect::<Result<_, _>>()
        .map_err(arrow_error)?;
    let cols: Vec<RuleColumns> = parts
        .iter()
        .map(|(all, _)| RuleColumns::of(all, rule))
        .collect::<Result<_, _>>()?;
    let mut seen = HashSet::new();
    let mut keep: Vec<Vec<u32>> = vec![Vec::new(); parts.len()];
    let index = |i: usize| {
        u32::try_from(i).map_err(|_| LakeError::Encode {
            key: "the merged partition".into(),
            message: "more than 4 billion rows in a partition".into(),
        })
    };
    // Rows already curated win, whatever their order.
    for (p, (_, n_curated)) in parts.iter().enumerate() {
        for i in 0..*n_curated {
            if seen.insert(cols[p].key(i)) {
                keep[p].push(index(i)?);
            }
        }
    }
    // Raw rows in the keep order over the whole date.
    let mut raw_order: Vec<(usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(p, (all, n_curated))| (*n_curated..all.num_rows()).map(move |i| (p, i)))
        .collect();
    raw_order.sort_by_cached_key(|&(p, i)| cols[p].keep_order(i));
    for (p, i) in raw_order {
        if seen.insert(cols[p].key(i)) {
            keep[p].push(index(i)?);
        }
    }
    parts
        .iter()
        .zip(keep)
        .map(|((all, _), rows)| take_record_batch(all, &UInt32Array::from(rows)).map_err(arrow_error))
        .collect()
}

/// All rows of `keys`, in order, as one batch with the table's schema.
fn read_batches(store: &LakeStore, keys: &[String], schema: &SchemaRef) -> Result<RecordBatch, LakeError> {
    let mut batches = Vec::new();
    for key in keys {
        let read_error = |message: String| LakeError::Decode {
            key: format!("{}/{key}", store.location().trim_end_matches('/')),
            message,
        };
        let bytes = store.get(key)?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|b| b.build())
            .map_err(|e| read_error(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| read_error(e.to_string()))?;
            if batch.schema().fields() != schema.fields() {
                return Err(read_error(format!(
                    "its columns are not the table's ({:?})",
                    batch.schema().fields().iter().map(|f| f.name()).collect::<Vec<_>>()
                )));
            }
            batches.push(batch);
        }
    }
    concat_batches(schema, &batches).map_err(|e| LakeError::Encode {
        key: "the merged partition".into(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use eventlake_glue_schema::KeyColumn;
    use std::sync::Arc;

    /// A batch of the embedded table: (event_uuid, event_name, created_at) per row.
    fn batch(rows: &[(&str, &str, i64)]) -> RecordBatch {
        let schema = arrow_schema(Table::embedded()).unwrap();
        let strings = |values: Vec<&str>| Arc::new(StringArray::from(values)) as ArrayRef;
        let n = rows.len();
        let columns: Vec<ArrayRef> = vec![
            strings(rows.iter().map(|r| r.0).collect()),
            strings(rows.iter().map(|r| r.1).collect()),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
            Arc::new(TimestampMicrosecondArray::from(vec![0; rows.len()]).with_timezone("UTC")),
            strings(vec!["b"; n]),
            strings(vec!["{}"; n]),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn kept(batches: &[RecordBatch]) -> Vec<(String, String, i64)> {
        batches
            .iter()
            .flat_map(|b| {
                let s = |i: usize| b.column(i).as_string::<i32>().clone();
                let (uuid, name) = (s(0), s(1));
                let at = b.column(2).as_primitive::<Int64Type>().clone();
                (0..b.num_rows())
                    .map(move |i| (uuid.value(i).to_string(), name.value(i).to_string(), at.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn the_table_rule_keys_and_orders_the_merge() {
        let raw = batch(&[("A", "z:1", 1), ("a", "y:1", 1), ("a", "x:1", 2), ("b", "x:1", 1)]);
        let none = batch(&[]);
        let contract = &Table::embedded().duplicates;
        // (lower(event_uuid), created_at): A/a at 1 are one event, the first by event_name kept.
        let merged = merge(std::slice::from_ref(&none), std::slice::from_ref(&raw), contract).unwrap();
        assert_eq!(
            kept(&merged),
            [
                ("a".into(), "x:1".into(), 2),
                ("b".into(), "x:1".into(), 1),
                ("a".into(), "y:1".into(), 1)
            ]
        );
        // A rule keyed by event_uuid alone, case kept: A and a differ, a at 1 and 2 do not.
        let by_uuid = Duplicates {
            key: vec![KeyColumn {
                column: "event_uuid".into(),
                ignore_case: false,
            }],
            keep: vec!["event_name".into()],
        };
        let merged = merge(std::slice::from_ref(&none), std::slice::from_ref(&raw), &by_uuid).unwrap();
        assert_eq!(
            kept(&merged),
            [
                ("a".into(), "x:1".into(), 2),
                ("b".into(), "x:1".into(), 1),
                ("A".into(), "z:1".into(), 1)
            ]
        );
        // Curated rows win over raw rows of their key.
        let curated = batch(&[("a", "z:9", 1)]);
        let merged = merge(std::slice::from_ref(&curated), std::slice::from_ref(&raw), contract).unwrap();
        assert_eq!(kept(&merged)[0], ("a".into(), "z:9".into(), 1));
        assert_eq!(kept(&merged).len(), 3);
    }
}
