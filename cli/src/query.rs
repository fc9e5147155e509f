//! `eventlake query`: SQL over the local lake with DataFusion. The table `events` has the
//! Glue table's columns plus the hive partition columns `event_type` and `created_date`
//! (read from the paths, as Athena does); `events_unique` is the same view Athena gets,
//! from the same generated SQL.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::SessionContext;
use eventlake_glue_schema::Table;

use crate::lake::arrow_schema;
use crate::CliError;

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
    CliError::Lake(format!("query failed: {e}"))
}

/// A session with `events` and `events_unique` registered over the lake at `lake`.
pub async fn session(lake: &Path, table: &Table) -> Result<SessionContext, CliError> {
    if lake.to_string_lossy().contains("://") {
        return Err(CliError::Lake(format!(
            "query reads a local lake; for {} use Athena (or copy it down with `aws s3 sync`)",
            lake.display()
        )));
    }
    let events = lake.join(&table.storage.events_prefix);
    if !events.is_dir() {
        return Err(CliError::Lake(format!(
            "no lake at {} (expected {}): run `eventlake replay` or `eventlake demo` first",
            lake.display(),
            events.display()
        )));
    }
    let ctx = SessionContext::new();
    let partition_cols: Vec<(String, DataType)> = table
        .partition_key_names()
        .into_iter()
        .map(|k| (k.to_string(), DataType::Utf8))
        .collect();
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols);
    let url = format!(
        "{}/",
        events
            .canonicalize()
            .map_err(|e| lake_error(format!("{}: {e}", events.display())))?
            .display()
    );
    let schema = arrow_schema(table)?;
    ctx.register_listing_table(&table.name, &url, options.clone(), Some(schema.clone()), None)
        .await
        .map_err(lake_error)?;
    // The curated table, once `eventlake compact` has written it.
    let curated = lake.join(&table.storage.curated_prefix);
    if curated.is_dir() {
        let url = format!("{}/", curated.canonicalize().map_err(lake_error)?.display());
        ctx.register_listing_table(&format!("{}_curated", table.name), &url, options, Some(schema), None)
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

/// Runs `sql` and returns the result batches.
pub async fn run_sql(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, CliError> {
    let df = ctx
        .sql(sql)
        .await
        .map_err(|e| CliError::Lake(format!("SQL error: {e}")))?;
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

/// `eventlake query`: one statement over the lake, printed.
pub fn query(lake: &Path, table: &Table, sql: &str, format: Format, out: &mut impl Write) -> Result<usize, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let batches = runtime.block_on(async {
        let ctx = session(lake, table).await?;
        run_sql(&ctx, sql).await
    })?;
    print(&batches, format, out)?;
    Ok(batches.iter().map(RecordBatch::num_rows).sum())
}
