//! The curated table's typed columns on the local lake (issue #19): `eventlake compact` fills
//! them with the generated expressions of [`eventlake_glue_schema::curated`] in their
//! [`Dialect::Local`] form, run by `eventlake query`'s engine (DataFusion with the functions of
//! [`crate::sql_functions`]): the same readings, NULL for the same values, as the typed views
//! and Athena's daily `MERGE`.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use eventlake_glue_schema::athena::Dialect;
use eventlake_glue_schema::curated::typed_columns;
use eventlake_glue_schema::{Catalog, Table};
use eventlake_lake::convert::arrow_schema;
use eventlake_lake::LakeError;

use crate::CliError;

/// An engine error while typing rows, as a CLI error.
fn query_error(e: impl std::fmt::Display) -> CliError {
    CliError::Query(format!("typed columns: {e}"))
}

/// The name the rows being typed have in the session.
const ROWS: &str = "rows";

/// The statement that appends the typed columns to the rows of [`ROWS`].
fn select(catalog: &Catalog) -> String {
    let expressions: Vec<String> = typed_columns(catalog)
        .iter()
        .map(|c| format!("{} AS \"{}\"", c.expression(Dialect::Local), c.name))
        .collect();
    match expressions.is_empty() {
        true => format!("SELECT * FROM {ROWS}"),
        false => format!("SELECT *, {} FROM {ROWS}", expressions.join(", ")),
    }
}

/// The output's schema of `select` over `table`'s rows: the expressions' own types, planned
/// over no rows in `ctx` (which gets a [`ROWS`] table).
async fn planned_schema(ctx: &SessionContext, select: &str, table: &Table) -> Result<SchemaRef, CliError> {
    ctx.register_batch(ROWS, RecordBatch::new_empty(arrow_schema(table)?))
        .map_err(query_error)?;
    let frame = ctx.sql(select).await.map_err(query_error)?;
    Ok(Arc::new(frame.schema().as_arrow().clone()))
}

/// The curated files' schema: `table`'s columns, then the typed columns of `catalog` (for a
/// query session, which is already async).
pub async fn curated_schema(table: &Table, catalog: &Catalog) -> Result<SchemaRef, CliError> {
    let ctx = SessionContext::new();
    crate::sql_functions::register(&ctx);
    planned_schema(&ctx, &select(catalog), table).await
}

/// Appends the typed columns to a partition's rows with one SQL statement.
pub struct SqlTypedColumns {
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
    select: String,
    /// The table's columns, then the typed columns.
    schema: SchemaRef,
}

impl SqlTypedColumns {
    /// The typed columns of `catalog` for `table`'s rows.
    pub fn new(table: &Table, catalog: &Catalog) -> Result<SqlTypedColumns, CliError> {
        let runtime = tokio::runtime::Builder::new_current_thread().build()?;
        let ctx = SessionContext::new();
        crate::sql_functions::register(&ctx);
        let select = select(catalog);
        let schema = runtime.block_on(planned_schema(&ctx, &select, table))?;
        Ok(SqlTypedColumns {
            runtime,
            ctx,
            select,
            schema,
        })
    }

    /// `rows` with the typed columns appended.
    fn run(&self, rows: RecordBatch) -> Result<RecordBatch, CliError> {
        self.runtime.block_on(async {
            self.ctx.deregister_table(ROWS).map_err(query_error)?;
            self.ctx.register_batch(ROWS, rows).map_err(query_error)?;
            let frame = self.ctx.sql(&self.select).await.map_err(query_error)?;
            let batches = frame.collect().await.map_err(query_error)?;
            concat_batches(&self.schema, &batches).map_err(query_error)
        })
    }
}

impl eventlake_lake::TypedColumns for SqlTypedColumns {
    fn append(&self, rows: RecordBatch) -> Result<RecordBatch, LakeError> {
        let out = self.run(rows).map_err(|e| LakeError::Encode {
            key: "the curated partition".into(),
            message: e.to_string(),
        })?;
        // The schema without metadata the engine may have added.
        RecordBatch::try_new(
            Arc::new(Schema::new(self.schema.fields().clone())),
            out.columns().to_vec(),
        )
        .map_err(|e| LakeError::Encode {
            key: "the curated partition".into(),
            message: e.to_string(),
        })
    }
}
