//! The `eventlake` command line: the library behind the thin `main.rs`.
#![warn(missing_docs)]

pub mod curated;
pub mod demo;
pub mod engine;
pub mod generate;
pub mod invoke;
#[cfg(feature = "produce")]
pub mod produce;
pub mod progress;
pub mod quality;
pub mod query;
pub mod report;
pub mod schema;
pub mod sql_functions;

use std::path::PathBuf;

/// Everything a command can fail with. Each message is one readable line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An input file could not be read.
    #[error("cannot read {path}: {source}")]
    ReadInput {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The Firehose invocation could not be handled.
    #[error("{0}")]
    Invocation(#[from] eventlake_transform::InvocationError),
    /// Output could not be written.
    #[error("cannot write output: {0}")]
    WriteOutput(#[from] std::io::Error),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lake cannot do what was asked (a store error, an unsupported column type, a bad
    /// error object…).
    #[error("{0}")]
    Lake(#[from] eventlake_lake::LakeError),
    /// A flag's value is not one the command accepts.
    #[error("{0}")]
    Flag(String),
    /// A query cannot be run or failed.
    #[error("{0}")]
    Query(String),
    /// The SQL engine could not start (the wheel engine's Python or its `datafusion` wheel is
    /// missing, or the engine asked for is not in this build).
    #[error("{0}")]
    Engine(String),
    /// `demo` refuses the lake it was given.
    #[error("{0}")]
    Demo(String),
    /// The transform's settings from the environment are invalid.
    #[error("{0}")]
    Config(String),
    /// A table definition given with --table is invalid.
    #[error("{0}")]
    Schema(#[from] eventlake_glue_schema::SchemaError),
    /// `produce` cannot go on: no such stream, no credentials, access denied, bad flags.
    #[error("{0}")]
    Produce(String),
    /// A replay stopped on Ctrl-C, after printing what the lake holds (exit status 130).
    #[error("interrupted")]
    Interrupted,
    /// Generated files differ from what the schema and catalog generate.
    #[error("{count} generated file(s) are out of date ({files}): run `just schema`")]
    SchemaDrift {
        /// How many files differ.
        count: usize,
        /// The first few of them.
        files: String,
    },
}

/// The transform's settings as the Lambda reads them (the same `EVENTLAKE_*` variables, the
/// lake window among them), for `invoke` and the emulated delivery of `replay` and `demo`.
pub fn transform_config() -> Result<eventlake_transform::handler::Config, CliError> {
    eventlake_transform::handler::Config::from_env(|k| std::env::var(k).ok())
        .map_err(|e| CliError::Config(format!("{}: {e}", eventlake_transform::handler::LAKE_DATE_RANGE_ENV)))
}

/// Reads a whole file, or stdin when `path` is `None` or `-`, as bytes.
pub fn read_input_bytes(path: Option<&std::path::Path>) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let shown = path.map_or_else(|| PathBuf::from("-"), PathBuf::from);
    let result = match path {
        Some(p) if p.as_os_str() != "-" => std::fs::read(p),
        _ => {
            // Read through a `File` of stdin's descriptor: when stdin is a file (`< event.json`)
            // the buffer is sized from its length once, instead of growing by doubling (each
            // step fresh pages the kernel zeroes: ~16 MB for a 5.6 MB invocation).
            let mut bytes = Vec::new();
            stdin_file().and_then(|mut f| f.read_to_end(&mut bytes)).map(|_| bytes)
        }
    };
    result.map_err(|source| CliError::ReadInput { path: shown, source })
}

/// Stdin as a `File` (a duplicate of its descriptor), so that reading it knows its length
/// when it is a regular file.
#[cfg(unix)]
fn stdin_file() -> std::io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    Ok(std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?))
}

/// Stdin as a reader where descriptors cannot be duplicated this way.
#[cfg(not(unix))]
fn stdin_file() -> std::io::Result<std::io::StdinLock<'static>> {
    Ok(std::io::stdin().lock())
}

/// Reads a whole text file, or stdin when `path` is `None` or `-`.
pub fn read_input(path: Option<&std::path::Path>) -> Result<String, CliError> {
    let shown = path.map_or_else(|| PathBuf::from("-"), PathBuf::from);
    String::from_utf8(read_input_bytes(path)?).map_err(|e| CliError::ReadInput {
        path: shown,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })
}
