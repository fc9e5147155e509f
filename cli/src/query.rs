//! `eventlake query`: SQL over a lake (a directory or `s3://…`) with DataFusion. The table `events` has the
//! Glue table's columns plus the hive partition columns `event_type` and `created_date`
//! (read from the paths, as Athena does); `events_unique` is the same view Athena gets,
//! from the same generated SQL, and `field_drift` (registered for statements that name it) is
//! generated for this engine from the same function as Athena's.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use eventlake_glue_schema::athena::Dialect;
use eventlake_glue_schema::{field_drift, Table};

use crate::CliError;
use datafusion::datasource::listing::ListingTableUrl;
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
    Ok(LakeTables {
        events: store.table_location(&storage.events_prefix),
        curated: store
            .has_any(&storage.curated_prefix)?
            .then(|| store.table_location(&storage.curated_prefix)),
        object_store: store.bucket_store(),
    })
}

/// The memory, in MiB, a query's sorts, windows and aggregations may hold before they spill to
/// temporary files.
pub const QUERY_MEMORY_MB: usize = 2048;

/// A session with `events` and `events_unique` (and `events_curated`, once `eventlake
/// compact` has written it) registered over the tables of a lake, with the JSON functions the
/// generated views use ([`crate::sql_functions`]); `field_drift` is added by
/// [`register_field_drift`].
pub async fn session(tables: &LakeTables, table: &Table) -> Result<SessionContext, CliError> {
    let mb: usize = std::env::var("EVENTLAKE_QUERY_MEMORY_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(QUERY_MEMORY_MB);
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(datafusion::execution::memory_pool::FairSpillPool::new(
            mb << 20,
        )))
        .build_arc()
        .map_err(lake_error)?;
    let ctx = SessionContext::new_with_config_rt(datafusion::prelude::SessionConfig::new(), runtime);
    crate::sql_functions::register(&ctx);
    if let Some((url, store)) = &tables.object_store {
        let parsed = ListingTableUrl::parse(url).map_err(lake_error)?;
        ctx.register_object_store(parsed.object_store().as_ref(), store.clone());
    }
    let partition_cols: Vec<(String, DataType)> = table
        .partition_key_names()
        .into_iter()
        .map(|k| (k.to_string(), DataType::Utf8))
        .collect();
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols);
    let schema = arrow_schema(table)?;
    ctx.register_listing_table(&table.name, &tables.events, options.clone(), Some(schema.clone()), None)
        .await
        .map_err(lake_error)?;
    if let Some(curated) = &tables.curated {
        // The table's columns and the typed ones `eventlake compact` writes (older curated
        // files without them read NULL there).
        let schema = crate::curated::curated_schema(table, eventlake_glue_schema::Catalog::embedded()).await?;
        ctx.register_listing_table(
            &eventlake_glue_schema::athena::curated_table_name(table),
            curated,
            options,
            Some(schema),
            None,
        )
        .await
        .map_err(lake_error)?;
    }
    // The very view Athena gets, from the generated SQL, minus the database qualifier.
    let view = eventlake_glue_schema::athena::events_unique(table).replace(&format!("{}.", table.database), "");
    let view: String = view
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    ctx.sql(view.trim_end_matches(';')).await.map_err(lake_error)?;
    Ok(ctx)
}

/// Registers the `field_drift` view with a [`session`]. Not part of every session: planning its
/// ~95 KB of SQL took ~40 ms, most of a small query's start (measured 2026-12-02).
pub async fn register_field_drift(ctx: &SessionContext, table: &Table) -> Result<(), CliError> {
    let drift = field_drift::view(table, eventlake_glue_schema::Catalog::embedded(), Dialect::Local);
    ctx.sql(drift.trim_end().trim_end_matches(';'))
        .await
        .map_err(lake_error)?;
    Ok(())
}

/// Whether `sql` names the `field_drift` view (then [`query`] registers it).
fn names_field_drift(sql: &str) -> bool {
    sql.to_ascii_lowercase().contains(field_drift::VIEW)
}

/// Runs `sql` (a query: statements that write or change the catalog are refused) and returns
/// the result batches: at most `max_rows` rows if given.
pub async fn run_sql(ctx: &SessionContext, sql: &str, max_rows: Option<usize>) -> Result<Vec<RecordBatch>, CliError> {
    let read_only = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let df = ctx.sql_with_options(sql, read_only).await.map_err(|e| {
        let text = e.to_string();
        // DataFusion's own words for a refused plan: say what this command allows.
        if text.contains("not supported")
            && (text.contains("DDL") || text.contains("DML") || text.contains("Statement"))
        {
            CliError::Query(format!("query refused: `eventlake query` only reads the lake ({text})"))
        } else {
            lake_error(text)
        }
    })?;
    let df = match max_rows {
        Some(n) => df.limit(0, Some(n)).map_err(lake_error)?,
        None => df,
    };
    df.collect().await.map_err(lake_error)
}

/// Writes batches in `format`.
pub fn print(batches: &[RecordBatch], format: Format, out: &mut impl Write) -> Result<(), CliError> {
    match format {
        Format::Table => {
            let text = datafusion::arrow::util::pretty::pretty_format_batches(batches).map_err(lake_error)?;
            writeln!(out, "{text}")?;
        }
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for b in batches {
                w.write(b).map_err(lake_error)?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut *out);
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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let tables = locate(lake, table)?;
    // One row more than shown tells whether there are more.
    let limit = (max_rows > 0).then_some(max_rows + 1);
    let result = runtime.block_on(async {
        let ctx = session(&tables, table).await?;
        if names_field_drift(sql) {
            register_field_drift(&ctx, table).await?;
        }
        run_sql(&ctx, sql, limit).await
    });
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
}
