//! `eventlake query`: SQL over a lake (a directory or `s3://…`) with DataFusion ([`crate::engine`]). The table `events` has the
//! Glue table's columns plus the hive partition columns `event_type` and `created_date`
//! (read from the paths, as Athena does); `events_unique` is the same view Athena gets,
//! from the same generated SQL; `events_curated` is what `eventlake compact` wrote (empty
//! before that); `field_drift` and each event's typed view (`payment_order_completed`, …),
//! registered for statements that name them, are generated for this engine from the same
//! functions as Athena's.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, FieldRef, Schema};
use eventlake_glue_schema::athena::{fill_curated_days, typed_view_in, Dialect};
use eventlake_glue_schema::{field_drift, Table};

use crate::engine::{ParquetTable, Session, SessionOptions};
use crate::CliError;
use eventlake_lake::convert::arrow_schema;
use eventlake_lake::LakeStore;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    #[default]
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row.
    Json,
}

fn lake_error(e: impl std::fmt::Display) -> CliError {
    CliError::Query(format!("query failed: {e}"))
}

/// Where a lake's tables are, found before any query runs (the store is synchronous).
pub struct LakeTables {
    /// Location of the raw table (a directory path, or an `s3://` URL).
    events: String,
    /// Location of the curated table, once `eventlake compact` has written it.
    curated: Option<String>,
    /// The days the curated table holds, per event type (sorted): the typed views' boundary,
    /// as literals the engine prunes the raw partitions by.
    curated_days: BTreeMap<String, Vec<String>>,
    /// For an S3 lake: its bucket's URL and store, registered with the session.
    object_store: Option<(String, Arc<dyn object_store::ObjectStore>)>,
}

/// Finds the tables of the lake at `lake`: a directory or `s3://…`. Every Parquet object of
/// them must be whole (an empty or cut-off file is named, not silently skipped).
pub fn locate(lake: &Path, table: &Table) -> Result<LakeTables, CliError> {
    let storage = &table.storage;
    let store = LakeStore::open_lake(lake, storage)?;
    store.check_parquet_objects(&storage.events_prefix)?;
    store.check_parquet_objects(&storage.curated_prefix)?;
    let curated_objects = store.list(&storage.curated_prefix)?;
    let mut curated_days: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, _) in &curated_objects {
        if let Some((event_type, date)) = eventlake_lake::layout::partition_of(&storage.curated_prefix, key) {
            curated_days.entry(event_type).or_default().push(date);
        }
    }
    for days in curated_days.values_mut() {
        days.sort_unstable();
        days.dedup();
    }
    Ok(LakeTables {
        curated_days,
        events: store.table_location(&storage.events_prefix),
        curated: (!curated_objects.is_empty()).then(|| store.table_location(&storage.curated_prefix)),
        object_store: store.bucket_store(),
    })
}

/// The memory, in MiB, a query's sorts, windows and aggregations may hold before they spill to
/// temporary files.
pub const QUERY_MEMORY_MB: usize = 2048;

/// A session with `events` and `events_unique` registered over the tables of a lake, with the
/// JSON functions the generated views use ([`crate::sql_functions`]); `field_drift`,
/// `events_curated` and the typed views are added by [`register_field_drift`],
/// [`register_curated`] and [`register_event_views`].
pub fn session(tables: &LakeTables, table: &Table) -> Result<Session, CliError> {
    let mb: usize = std::env::var("EVENTLAKE_QUERY_MEMORY_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(QUERY_MEMORY_MB);
    let session = Session::new(&SessionOptions { memory_mb: Some(mb) })?;
    if let Some((url, store)) = &tables.object_store {
        session.register_object_store(url, store.clone()).map_err(lake_error)?;
    }
    let schema = arrow_schema(table)?;
    session
        .register_parquet(ParquetTable {
            name: &table.name,
            location: &tables.events,
            schema,
            partition_cols: &partition_columns(table),
        })
        .map_err(lake_error)?;
    // The very view Athena gets, from the generated SQL, minus the database qualifier.
    let view = eventlake_glue_schema::athena::events_unique(table).replace(&format!("{}.", table.database), "");
    session.execute(&statement(&view)).map_err(lake_error)?;
    Ok(session)
}

/// A generated statement as an engine runs it: without its `--` comment lines and the
/// trailing `;`.
fn statement(sql: &str) -> String {
    let lines: Vec<&str> = sql.lines().filter(|l| !l.starts_with("--")).collect();
    lines.join("\n").trim_end().trim_end_matches(';').to_string()
}

/// Registers `events_curated` with a [`session`]: the table's columns and the typed ones
/// `eventlake compact` writes (older curated files without them read NULL there). Before any
/// compaction, an empty table of that shape, as the deploy creates the Iceberg table empty: the
/// per-event views read it. Not part of every session: planning the typed columns' schema took
/// ~10 ms, half of a small query's start (measured 2026-12-03); [`query`] registers it for a
/// statement that names it or an event's view.
pub fn register_curated(session: &Session, tables: &LakeTables, table: &Table) -> Result<(), CliError> {
    let partition_cols = partition_columns(table);
    let curated_name = eventlake_glue_schema::athena::curated_table_name(table);
    let curated_schema = crate::curated::curated_schema(session, table, eventlake_glue_schema::Catalog::embedded())?;
    match &tables.curated {
        Some(curated) => session
            .register_parquet(ParquetTable {
                name: &curated_name,
                location: curated,
                schema: curated_schema,
                partition_cols: &partition_cols,
            })
            .map_err(lake_error)?,
        None => {
            let mut fields: Vec<FieldRef> = curated_schema.fields().iter().cloned().collect();
            for (key, ty) in &partition_cols {
                fields.push(Arc::new(Field::new(key, ty.clone(), true)));
            }
            let empty = RecordBatch::new_empty(Arc::new(Schema::new(fields)));
            session.register_batch(&curated_name, empty).map_err(lake_error)?;
        }
    }
    Ok(())
}

/// The partition columns of the lake's tables (strings: path segments).
fn partition_columns(table: &Table) -> Vec<(String, DataType)> {
    table
        .partition_key_names()
        .into_iter()
        .map(|k| (k.to_string(), DataType::Utf8))
        .collect()
}

/// Registers the `field_drift` view with a [`session`]. Not part of every session: planning its
/// ~95 KB of SQL took ~40 ms, most of a small query's start (measured 2026-12-02).
pub fn register_field_drift(session: &Session, table: &Table) -> Result<(), CliError> {
    let drift = field_drift::view(table, eventlake_glue_schema::Catalog::embedded(), Dialect::Local);
    session.execute(&statement(&drift)).map_err(lake_error)
}

/// Whether `sql` names the `field_drift` view (then [`query`] registers it).
fn names_field_drift(sql: &str) -> bool {
    sql.to_ascii_lowercase().contains(field_drift::VIEW)
}

/// Registers the typed view of each catalog event that `sql` names (`payment_order_completed`,
/// …): the same view Athena gets, generated for this engine ([`typed_view_in`]), curated days
/// from `events_curated`'s typed columns and the others from the raw payload. The curated days,
/// listed by [`locate`], are written into the view as literals ([`fill_curated_days`], as the
/// Athena layer does after each daily run), so each side skips the other's partitions unread.
/// Only the views named: the catalog has ~100.
pub fn register_event_views(session: &Session, tables: &LakeTables, table: &Table, sql: &str) -> Result<(), CliError> {
    for event in eventlake_glue_schema::Catalog::embedded().events() {
        if !names_object(sql, &event.view_name()) {
            continue;
        }
        let view = fill_curated_days(&typed_view_in(Dialect::Local, table, event), |event_type| {
            tables
                .curated_days
                .get(event_type)
                .map(Vec::as_slice)
                .unwrap_or_default()
        })
        .map_err(|e| CliError::Query(format!("view {}: {e}", event.view_name())))?;
        session.execute(&statement(&view)).map_err(lake_error)?;
    }
    Ok(())
}

/// Whether `sql` has `name` as a whole word (case-insensitive, quoted or not).
fn names_object(sql: &str, name: &str) -> bool {
    let text = sql.to_ascii_lowercase();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    text.match_indices(name)
        .any(|(at, _)| !word(text[..at].chars().next_back()) && !word(text[at + name.len()..].chars().next()))
}

/// Runs `sql` (a query: statements that write or change the catalog are refused) and returns
/// the result batches: at most `max_rows` rows if given.
pub fn run_sql(session: &Session, sql: &str, max_rows: Option<usize>) -> Result<Vec<RecordBatch>, CliError> {
    session.query(sql, true, max_rows).map_err(|text| {
        // DataFusion's own words for a refused plan: say what this command allows.
        if text.contains("not supported")
            && (text.contains("DDL") || text.contains("DML") || text.contains("Statement"))
        {
            CliError::Query(format!("query refused: `eventlake query` only reads the lake ({text})"))
        } else {
            lake_error(text)
        }
    })
}

/// Writes batches in `format`.
pub fn print(batches: &[RecordBatch], format: Format, out: &mut impl Write) -> Result<(), CliError> {
    match format {
        Format::Table => {
            let text = arrow_cast::pretty::pretty_format_batches(batches).map_err(lake_error)?;
            writeln!(out, "{text}")?;
        }
        Format::Csv => {
            let mut w = arrow_csv::WriterBuilder::new().with_header(true).build(&mut *out);
            for b in batches {
                w.write(b).map_err(lake_error)?;
            }
        }
        Format::Json => {
            let mut w = arrow_json::LineDelimitedWriter::new(&mut *out);
            for b in batches {
                w.write(b).map_err(lake_error)?;
            }
            w.finish().map_err(lake_error)?;
        }
    }
    Ok(())
}

/// The rows `--format table` prints unless `--max-rows` says otherwise: a table of more is
/// not read on a terminal, and the printer holds all of it in memory.
pub const DEFAULT_TABLE_ROWS: usize = 1000;

/// `eventlake query`: one statement over the lake, printed. `max_rows`: at most this many
/// rows (0: all); if more exist, a notice on stderr says so. Returns the rows printed.
pub fn query(
    lake: &Path,
    table: &Table,
    sql: &str,
    format: Format,
    max_rows: usize,
    out: &mut impl Write,
) -> Result<usize, CliError> {
    let tables = locate(lake, table)?;
    // One row more than shown tells whether there are more.
    let limit = (max_rows > 0).then_some(max_rows + 1);
    let result = (|| {
        let session = session(&tables, table)?;
        if names_field_drift(sql) {
            register_field_drift(&session, table)?;
        }
        let views_named = eventlake_glue_schema::Catalog::embedded()
            .events()
            .any(|e| names_object(sql, &e.view_name()));
        if views_named || names_object(sql, &eventlake_glue_schema::athena::curated_table_name(table)) {
            register_curated(&session, &tables, table)?;
            register_event_views(&session, &tables, table, sql)?;
        }
        run_sql(&session, sql, limit)
    })();
    let mut batches = match result {
        Err(CliError::Query(text)) if text.contains("Parquet") => {
            // DataFusion does not say which file it could not decode: find it.
            let storage = &table.storage;
            let store = LakeStore::open_lake(lake, storage)?;
            store.find_unreadable_parquet(&storage.events_prefix)?;
            store.find_unreadable_parquet(&storage.curated_prefix)?;
            return Err(CliError::Query(text));
        }
        result => result?,
    };
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let cut = max_rows > 0 && rows > max_rows;
    if cut {
        batches = first_rows(batches, max_rows);
    }
    print(&batches, format, out)?;
    if cut {
        eprintln!(
            "eventlake: the first {max_rows} rows are shown and more exist: pass --max-rows 0 for all, or add a LIMIT"
        );
    }
    Ok(rows.min(if max_rows > 0 { max_rows } else { usize::MAX }))
}

/// The first `n` rows of `batches`.
fn first_rows(batches: Vec<RecordBatch>, n: usize) -> Vec<RecordBatch> {
    let mut left = n;
    let mut out = Vec::new();
    for b in batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        out.push(b.slice(0, take));
        left -= take;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn statements_that_name_the_drift_view_get_it() {
        assert!(super::names_field_drift("SELECT * FROM Field_Drift"));
        assert!(super::names_field_drift("select * from \"field_drift\""));
        assert!(!super::names_field_drift("SELECT count(*) FROM events_unique"));
    }

    #[test]
    fn statements_that_name_an_event_view_get_it_and_no_other() {
        assert!(super::names_object("SELECT * FROM cart_item_added", "cart_item_added"));
        assert!(super::names_object(
            "select * from \"Cart_Item_Added\"",
            "cart_item_added"
        ));
        assert!(!super::names_object(
            "SELECT * FROM cart_item_added_x",
            "cart_item_added"
        ));
        assert!(!super::names_object(
            "SELECT * FROM xcart_item_added",
            "cart_item_added"
        ));
    }
}
