//! The SQL engine behind `query`, `quality`, `compact` and the demo's queries: DataFusion,
//! either linked into this process (feature `engine`, the default) or the same engine from
//! PyPI's wheel (`datafusion` 55) in a Python child process ([`wheel`]), which a build without
//! the feature uses. A first build without DataFusion takes minutes instead of half an hour
//! (docs/performance.md, "First build"); the engine, its SQL and this crate's functions
//! ([`crate::sql_functions`], run in this process either way) are the same, so the results
//! are too (`cli/tests/engines.rs` compares the two).
//!
//! [`Session`] is one engine session: tables and views registered by name, then statements.
//! Engine errors are the engine's own text; callers say what was being done.

#[cfg(feature = "engine")]
mod in_process;
mod wheel;

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};

use crate::CliError;

/// What an engine call gives: its result, or the engine's error text.
pub type EngineResult<T> = Result<T, String>;

/// The environment variable that picks the engine: `in-process` or `wheel`.
pub const ENGINE_VAR: &str = "EVENTLAKE_ENGINE";

/// The environment variable naming the Python interpreter the wheel engine runs (default
/// `python3`).
pub const PYTHON_VAR: &str = "EVENTLAKE_PYTHON";

/// The Python packages the wheel engine needs, pinned (`requirements.txt` beside this file,
/// which `just demo` installs with pip).
pub const REQUIREMENTS: &str = include_str!("requirements.txt");

/// The pins of [`REQUIREMENTS`] as pip's arguments: `datafusion==55.0.0 pyarrow==…`.
pub fn wheel_pins() -> String {
    let pins: Vec<&str> = REQUIREMENTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    pins.join(" ")
}

/// The version of `package` that [`REQUIREMENTS`] pins.
pub fn pinned_version(package: &str) -> Option<&'static str> {
    REQUIREMENTS
        .lines()
        .find_map(|l| l.trim().strip_prefix(package)?.strip_prefix("=="))
}

/// Which engine runs the SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// DataFusion linked into this process (feature `engine`).
    InProcess,
    /// DataFusion's wheel in a Python child process.
    Wheel,
}

impl Backend {
    /// The engine [`ENGINE_VAR`] names; unset, the linked one if this build has it, else the
    /// wheel.
    pub fn chosen() -> Result<Backend, CliError> {
        match std::env::var(ENGINE_VAR).ok().as_deref() {
            None | Some("") => Ok(match cfg!(feature = "engine") {
                true => Backend::InProcess,
                false => Backend::Wheel,
            }),
            Some("in-process") if cfg!(feature = "engine") => Ok(Backend::InProcess),
            Some("in-process") => Err(CliError::Engine(format!(
                "{ENGINE_VAR}=in-process: this eventlake was built without the feature `engine` (DataFusion in the process); unset {ENGINE_VAR} to use the wheel, or build with --features engine"
            ))),
            Some("wheel") => Ok(Backend::Wheel),
            Some(other) => Err(CliError::Engine(format!(
                "{ENGINE_VAR}={other:?}: the engines are `in-process` and `wheel`"
            ))),
        }
    }
}

/// How a session is set up.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// The memory, in MiB, sorts, windows and aggregations may hold before they spill to
    /// temporary files; None: the engine's default (no limit).
    pub memory_mb: Option<usize>,
}

/// A table of Parquet files (`.parquet`) under `location` (a directory path ending in `/`, or
/// an `s3://` URL), of `schema`, with hive partition folders `partition_cols` (read from the
/// paths, appended after the schema's columns).
pub struct ParquetTable<'a> {
    /// The table's name in the session.
    pub name: &'a str,
    /// Where its files are.
    pub location: &'a str,
    /// Its columns, without the partition columns.
    pub schema: SchemaRef,
    /// The partition columns, in folder order.
    pub partition_cols: &'a [(String, DataType)],
}

/// What an engine does: tables and views registered by name, then statements. Engine
/// errors are the engine's own text.
pub trait Engine {
    /// Registers `table`.
    fn register_parquet(&self, table: ParquetTable<'_>) -> EngineResult<()>;

    /// Registers `batch` as table `name`.
    fn register_batch(&self, name: &str, batch: RecordBatch) -> EngineResult<()>;

    /// Removes table `name`, if registered.
    fn deregister(&self, name: &str) -> EngineResult<()>;

    /// Runs a statement that changes the session (`CREATE VIEW …`).
    fn execute(&self, sql: &str) -> EngineResult<()>;

    /// Runs query `sql` and returns its batches: at most `max_rows` rows if given. With
    /// `read_only`, statements that write or change the catalog are refused.
    fn query(&self, sql: &str, read_only: bool, max_rows: Option<usize>) -> EngineResult<Vec<RecordBatch>>;

    /// The schema of query `sql`'s result, planned, not run.
    fn schema(&self, sql: &str) -> EngineResult<SchemaRef>;

    /// Registers an S3 bucket's store (`s3://bucket/`) for the tables under it. Only the
    /// in-process engine reads S3; the wheel engine reads local lakes.
    fn register_object_store(&self, url: &str, store: Arc<dyn object_store::ObjectStore>) -> EngineResult<()> {
        drop(store);
        Err(s3_needs_in_process(url))
    }
}

/// The error for an S3 lake given to the wheel engine.
fn s3_needs_in_process(url: &str) -> String {
    format!(
        "{url}: the wheel engine reads local lakes only; an S3 lake needs eventlake built with the feature `engine` (the default)"
    )
}

/// One engine session, of the engine [`Backend::chosen`] picks; its calls are [`Engine`]'s.
pub struct Session {
    engine: Box<dyn Engine>,
}

impl std::ops::Deref for Session {
    type Target = dyn Engine;

    fn deref(&self) -> &Self::Target {
        self.engine.as_ref()
    }
}

impl Session {
    /// A session of the [`Backend::chosen`] engine, with [`crate::sql_functions`] registered.
    pub fn new(options: &SessionOptions) -> Result<Session, CliError> {
        let engine: Box<dyn Engine> = match Backend::chosen()? {
            #[cfg(feature = "engine")]
            Backend::InProcess => Box::new(in_process::InProcess::new(options)?),
            #[cfg(not(feature = "engine"))]
            Backend::InProcess => unreachable!("Backend::chosen refuses in-process without the feature"),
            Backend::Wheel => Box::new(wheel::Wheel::start(options)?),
        };
        Ok(Session { engine })
    }
}
