//! `eventlake compact`: the curated table of the local lake. Each date of the raw `events/`,
//! all its event types together, is merged into `curated/` so that every (lower-case
//! `event_uuid`, `created_at`) — the contract's key, the one `events_unique` and the curated
//! `MERGE` use — appears once in the date, in one file per partition: the rows already
//! curated win, then the raw rows in the order `events_unique` uses (`event_name`, `payload`,
//! `event_uuid`), the first of each key kept. Re-running it changes nothing (idempotent); a
//! date with a look-back window re-merges the last days, where late events land.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch, StringArray, UInt32Array};
use chrono::NaiveDate;
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use eventlake_glue_schema::Table;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::generate::Rng;
use crate::lake::{arrow_schema, parquet_bytes};
use crate::store::LakeStore;
use crate::CliError;

/// What to compact.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// The lake directory.
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
    /// Curated rows after: each (`event_uuid`, `created_at`) once per partition.
    pub curated_rows_after: usize,
}

impl CompactSummary {
    /// A readable summary.
    pub fn render(&self) -> String {
        format!(
            "partitions merged:   {}\nraw:                 {} rows in {} files\ncurated before:      {} rows in {} files\ncurated after:       {} rows in {} files ({} raw rows were duplicates or already curated)\n",
            self.partitions,
            self.raw_rows,
            self.raw_files,
            self.curated_rows_before,
            self.curated_files_before,
            self.curated_rows_after,
            self.curated_files_after,
            (self.raw_rows + self.curated_rows_before).saturating_sub(self.curated_rows_after),
        )
    }
}

/// Merges the raw partitions of the window into the curated table. `progress` is called
/// after each partition with (partitions done, partitions in all).
pub fn compact(options: &CompactOptions, progress: &dyn Fn(usize, usize)) -> Result<CompactSummary, CliError> {
    let events = options.lake.join(&options.table.storage.events_prefix);
    if !events.is_dir() {
        return Err(CliError::Lake(format!(
            "no lake at {} (expected {}): run `eventlake replay` first",
            options.lake.display(),
            events.display()
        )));
    }
    let window = options
        .date
        .map(|d| (d - chrono::Days::new(u64::from(options.lookback_days)), d));
    let mut partitions = Vec::new();
    for type_dir in sorted_dirs(&events, "event_type=")? {
        for date_dir in sorted_dirs(&type_dir, "created_date=")? {
            let date_text = dir_value(&date_dir, "created_date=");
            let in_window = match (window, NaiveDate::parse_from_str(&date_text, "%Y-%m-%d")) {
                (None, _) => true,
                (Some((from, to)), Ok(d)) => from <= d && d <= to,
                (Some(_), Err(_)) => false,
            };
            if in_window {
                partitions.push((dir_value(&type_dir, "event_type="), date_text, date_dir));
            }
        }
    }
    // By date, then type: each date is merged as one.
    partitions.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    let store = LakeStore::open(&options.lake)?;
    let schema = arrow_schema(&options.table)?;
    let seed = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64 ^ u64::from(std::process::id());
    let mut rng = Rng::new(seed);
    let mut summary = CompactSummary::default();
    let curated_prefix = options.table.storage.curated_prefix.as_str();
    // One date at a time, every event type of it together: the key (lower(event_uuid),
    // created_at) is the contract's, so the same event filed under two types is one event.
    let mut done = 0;
    for of_date in partitions.chunk_by(|a, b| a.1 == b.1) {
        let date = &of_date[0].1;
        let mut curated = Vec::new();
        let mut raw = Vec::new();
        let mut old_files = Vec::new();
        for (event_type, _, raw_dir) in of_date {
            let curated_dir = options.lake.join(curated_key(curated_prefix, event_type, date));
            let curated_files = parquet_files(&curated_dir)?;
            let raw_files = parquet_files(raw_dir)?;
            let c = read_batches(&curated_files, &schema)?;
            let r = read_batches(&raw_files, &schema)?;
            summary.partitions += 1;
            summary.raw_files += raw_files.len();
            summary.raw_rows += r.num_rows();
            summary.curated_files_before += curated_files.len();
            summary.curated_rows_before += c.num_rows();
            curated.push(c);
            raw.push(r);
            old_files.extend(curated_files);
        }
        let merged = merge(&curated, &raw)?;
        for ((event_type, _, _), batch) in of_date.iter().zip(merged) {
            if batch.num_rows() > 0 {
                let now = chrono::Utc::now().format("%Y-%m-%d-%H-%M-%S");
                let key = format!(
                    "{}/compacted-{now}-{}.parquet",
                    curated_key(curated_prefix, event_type, date),
                    rng.uuid()
                );
                store.put(&key, parquet_bytes(&batch, &key)?)?;
                summary.curated_files_after += 1;
                summary.curated_rows_after += batch.num_rows();
            }
        }
        // Only now that the new files are complete: a crash before this leaves both, and the
        // next run merges them (the old rows win, so nothing changes).
        for old in &old_files {
            std::fs::remove_file(old).map_err(|source| CliError::WriteFile {
                path: old.clone(),
                source,
            })?;
        }
        done += of_date.len();
        progress(done, partitions.len());
    }
    Ok(summary)
}

/// The curated folder of one partition.
fn curated_key(curated_prefix: &str, event_type: &str, date: &str) -> String {
    format!("{curated_prefix}event_type={event_type}/created_date={date}")
}

/// The merge of one date: for each of its partitions (`curated[i]`, `raw[i]`, the same event
/// type), the curated rows, then the raw rows whose key is in no partition's curated rows and
/// not taken yet, in `events_unique`'s order over the whole date; the first row of each
/// (lower-case `event_uuid`, `created_at`) kept.
fn merge(curated: &[RecordBatch], raw: &[RecordBatch]) -> Result<Vec<RecordBatch>, CliError> {
    struct Columns {
        uuid: StringArray,
        name: StringArray,
        payload: StringArray,
        created_at: arrow_array::PrimitiveArray<Int64Type>,
    }
    let columns = |all: &RecordBatch| -> Result<Columns, CliError> {
        let column = |name: &str| {
            all.column_by_name(name)
                .ok_or_else(|| CliError::Lake(format!("the table has no column {name}")))
        };
        let strings = |name: &str| -> Result<StringArray, CliError> {
            column(name)?
                .as_string_opt::<i32>()
                .cloned()
                .ok_or_else(|| CliError::Lake(format!("column {name} is not a string")))
        };
        Ok(Columns {
            uuid: strings("event_uuid")?,
            name: strings("event_name")?,
            payload: strings("payload")?,
            created_at: column("created_at")?
                .as_primitive_opt::<Int64Type>()
                .cloned()
                .ok_or_else(|| CliError::Lake("column created_at is not a bigint".into()))?,
        })
    };
    let parts: Vec<(RecordBatch, usize)> = curated
        .iter()
        .zip(raw)
        .map(|(c, r)| {
            concat_batches(&c.schema(), [c, r])
                .map(|all| (all, c.num_rows()))
                .map_err(|e| CliError::Lake(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let cols: Vec<Columns> = parts.iter().map(|(all, _)| columns(all)).collect::<Result<_, _>>()?;
    let text = |a: &StringArray, i: usize| (a.is_null(i), if a.is_null(i) { "" } else { a.value(i) }.to_string());
    let key = |c: &Columns, i: usize| {
        (
            (!c.uuid.is_null(i)).then(|| c.uuid.value(i).to_ascii_lowercase()),
            (!c.created_at.is_null(i)).then(|| c.created_at.value(i)),
        )
    };
    let mut seen = HashSet::new();
    let mut keep: Vec<Vec<u32>> = vec![Vec::new(); parts.len()];
    let index = |i: usize| u32::try_from(i).map_err(|_| CliError::Lake("partition too large".into()));
    // Rows already curated win, whatever their order.
    for (p, (_, n_curated)) in parts.iter().enumerate() {
        for i in 0..*n_curated {
            if seen.insert(key(&cols[p], i)) {
                keep[p].push(index(i)?);
            }
        }
    }
    // Raw rows: ORDER BY event_name, payload, event_uuid (ascending, nulls last, as Athena
    // sorts) over the whole date.
    let mut raw_order: Vec<(usize, usize)> = parts
        .iter()
        .enumerate()
        .flat_map(|(p, (all, n_curated))| (*n_curated..all.num_rows()).map(move |i| (p, i)))
        .collect();
    raw_order.sort_by_cached_key(|&(p, i)| {
        let c = &cols[p];
        (text(&c.name, i), text(&c.payload, i), text(&c.uuid, i))
    });
    for (p, i) in raw_order {
        if seen.insert(key(&cols[p], i)) {
            keep[p].push(index(i)?);
        }
    }
    parts
        .iter()
        .zip(keep)
        .map(|((all, _), rows)| {
            take_record_batch(all, &UInt32Array::from(rows)).map_err(|e| CliError::Lake(e.to_string()))
        })
        .collect()
}

/// All rows of `files`, in order, as one batch with the table's schema.
fn read_batches(files: &[PathBuf], schema: &arrow_schema::SchemaRef) -> Result<RecordBatch, CliError> {
    let mut batches = Vec::new();
    for path in files {
        let read_error = |e: String| CliError::Lake(format!("cannot read {}: {e}", path.display()));
        let file = std::fs::File::open(path).map_err(|source| CliError::ReadInput {
            path: path.clone(),
            source,
        })?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| read_error(e.to_string()))?
            .build()
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
    concat_batches(schema, &batches).map_err(|e| CliError::Lake(e.to_string()))
}

/// Complete Parquet files of a partition directory (temporary `.…tmp` files left out), by
/// name; none if the directory does not exist.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    sorted_entries(dir, |p, name| {
        p.is_file() && name.ends_with(".parquet") && !name.starts_with('.')
    })
}

/// Subdirectories `<prefix><value>` of `dir`, by name.
fn sorted_dirs(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, CliError> {
    sorted_entries(dir, |p, name| p.is_dir() && name.starts_with(prefix))
}

/// Entries of `dir` that `keep` (given the path and the file name) accepts, sorted.
fn sorted_entries(dir: &Path, keep: impl Fn(&Path, &str) -> bool) -> Result<Vec<PathBuf>, CliError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| CliError::ReadInput {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| keep(p, &p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    entries.sort();
    Ok(entries)
}

fn dir_value(dir: &Path, prefix: &str) -> String {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    name.strip_prefix(prefix).unwrap_or(&name).to_string()
}
