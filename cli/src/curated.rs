//! The curated table's typed columns on the local lake (issue #19): `eventlake compact` fills
//! them with the generated expressions of [`eventlake_glue_schema::curated`] in their
//! [`Dialect::Local`] form, run by `eventlake query`'s engine (DataFusion with the functions of
//! [`crate::sql_functions`]): the same readings, NULL for the same values, as the typed views
//! and Athena's daily `MERGE`.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use arrow_select::concat::concat_batches;
use eventlake_glue_schema::athena::Dialect;
use eventlake_glue_schema::curated::typed_columns;
use eventlake_glue_schema::{Catalog, Table};
use eventlake_lake::convert::arrow_schema;
use eventlake_lake::LakeError;

use crate::engine::{Session, SessionOptions};
use crate::CliError;

/// An engine error while typing rows, as a CLI error.
fn query_error(e: impl std::fmt::Display) -> CliError {
    CliError::Query(format!("typed columns: {e}"))
}

/// The name the rows being typed have in the session (a query session's too, while the
/// curated schema is planned: a name no lake table or view has).
const ROWS: &str = "eventlake_rows_to_type";

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
/// over no rows in `session` ([`ROWS`] is registered for it, then removed).
fn planned_schema(session: &Session, select: &str, table: &Table) -> Result<SchemaRef, CliError> {
    session
        .register_batch(ROWS, RecordBatch::new_empty(arrow_schema(table)?))
        .map_err(query_error)?;
    let schema = session.schema(select).map_err(query_error);
    session.deregister(ROWS).map_err(query_error)?;
    schema
}

/// The curated files' schema: `table`'s columns, then the typed columns of `catalog`, planned
/// in `session` (a query session).
pub fn curated_schema(session: &Session, table: &Table, catalog: &Catalog) -> Result<SchemaRef, CliError> {
    planned_schema(session, &select(catalog), table)
}

/// Appends the typed columns to a partition's rows with one SQL statement.
pub struct SqlTypedColumns {
    session: Session,
    select: String,
    /// The table's columns, then the typed columns.
    schema: SchemaRef,
}

impl SqlTypedColumns {
    /// The typed columns of `catalog` for `table`'s rows.
    pub fn new(table: &Table, catalog: &Catalog) -> Result<SqlTypedColumns, CliError> {
        let session = Session::new(&SessionOptions::default())?;
        let select = select(catalog);
        let schema = planned_schema(&session, &select, table)?;
        Ok(SqlTypedColumns {
            session,
            select,
            schema,
        })
    }

    /// `rows` with the typed columns appended.
    fn run(&self, rows: RecordBatch) -> Result<RecordBatch, CliError> {
        self.session.deregister(ROWS).map_err(query_error)?;
        self.session.register_batch(ROWS, rows).map_err(query_error)?;
        let batches = self.session.query(&self.select, false, None).map_err(query_error)?;
        concat_batches(&self.schema, &batches).map_err(query_error)
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
