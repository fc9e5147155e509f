//! The `eventlake` command line: the library behind the thin `main.rs`.
#![warn(missing_docs)]

pub mod compact;
pub mod demo;
pub mod generate;
pub mod invoke;
pub mod lake;
#[cfg(feature = "produce")]
pub mod produce;
pub mod query;
pub mod replay;
pub mod schema;
pub mod store;

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
    /// The local lake cannot do what was asked (unsupported column type, bad error file…).
    #[error("{0}")]
    Lake(String),
    /// A table definition given with --table is invalid.
    #[error("{0}")]
    Schema(#[from] eventlake_glue_schema::SchemaError),
    /// `produce` cannot go on: no such stream, no credentials, access denied, bad flags.
    #[error("{0}")]
    Produce(String),
    /// Generated files differ from what the schema and catalog generate.
    #[error("{count} generated file(s) are out of date ({files}): run `just schema`")]
    SchemaDrift {
        /// How many files differ.
        count: usize,
        /// The first few of them.
        files: String,
    },
}

/// Reads a whole file, or stdin when `path` is `None` or `-`.
pub fn read_input(path: Option<&std::path::Path>) -> Result<String, CliError> {
    use std::io::Read;
    let shown = path.map_or_else(|| PathBuf::from("-"), PathBuf::from);
    let mut text = String::new();
    let result = match path {
        Some(p) if p.as_os_str() != "-" => std::fs::File::open(p).and_then(|mut f| f.read_to_string(&mut text)),
        _ => std::io::stdin().read_to_string(&mut text),
    };
    result.map_err(|source| CliError::ReadInput { path: shown, source })?;
    Ok(text)
}
