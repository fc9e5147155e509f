//! The one error type of the lake crate. Every message is one readable line naming the
//! object, file or setting it is about.

use eventlake_transform::InvocationError;

/// Everything the lake can fail with.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The location is neither a directory nor `s3://bucket/prefix`.
    #[error("unsupported lake location {0}: use a directory or s3://bucket/prefix")]
    UnsupportedLocation(String),
    /// An `s3://` location without a bucket name.
    #[error("{0}: no bucket name (expected s3://bucket/prefix)")]
    NoBucket(String),
    /// An `s3://` location, in a build without the `s3` feature.
    #[error(
        "{0}: this eventlake was built without S3 support; build it with the default features \
         (`cargo build --release -p eventlake`, or `cargo install --locked --path cli`)"
    )]
    NoS3Support(String),
    /// The lake cannot be used at all: the directory cannot be created, the bucket cannot be
    /// listed, the S3 client cannot be configured.
    #[error("cannot use {location}: {message}")]
    Open {
        /// The lake location as given.
        location: String,
        /// Why, on one line.
        message: String,
    },
    /// A store operation on one object (or prefix) failed.
    #[error("cannot {operation} {location}/{key}: {message}")]
    Object {
        /// What was being done: `write`, `read`, `list`, `delete`, `rename`.
        operation: &'static str,
        /// The lake location.
        location: String,
        /// The key below it.
        key: String,
        /// The store's error, on one line.
        message: String,
    },
    /// There is no lake at the location (no events prefix).
    #[error("no lake at {location} (expected {location}/{prefix}): run `eventlake replay` or `eventlake demo` first")]
    NoLake {
        /// The lake location.
        location: String,
        /// The events prefix that is missing.
        prefix: String,
    },
    /// The table has a column type the local lake cannot write.
    #[error("column {column}: the local lake does not write {type_name} columns")]
    UnsupportedColumn {
        /// The column.
        column: String,
        /// Its Hive type.
        type_name: String,
    },
    /// A Parquet file could not be encoded.
    #[error("cannot encode {key}: {message}")]
    Encode {
        /// The object it was for.
        key: String,
        /// The Parquet or Arrow error.
        message: String,
    },
    /// A Parquet object could not be read, or its columns are not the table's.
    #[error("cannot read {key}: {message}")]
    Decode {
        /// The object.
        key: String,
        /// Why.
        message: String,
    },
    /// A line of an error object is not a Firehose error record.
    #[error("{key}:{line}: not a Firehose error record: {why}")]
    BadErrorRecord {
        /// The error object.
        key: String,
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// The transform could not answer a batch at all (for example, no response can fit).
    #[error("{0}")]
    Invocation(#[from] InvocationError),
    /// The input could not be read.
    #[error("cannot read {path}: {source}")]
    ReadInput {
        /// The input (`-` for stdin).
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The transform's response is not one Firehose would read (a bug in the transform).
    #[error("the transform's response cannot be delivered: {0}")]
    BadResponse(String),
    /// An interrupted replay cannot be resumed as asked (other settings, another input).
    #[error("cannot resume the replay of {manifest}: {message}")]
    Resume {
        /// The replay's manifest.
        manifest: String,
        /// Why, and what to do.
        message: String,
    },
    /// A pipeline stage stopped without saying why (a panic).
    #[error("the {0} stage stopped unexpectedly")]
    Stage(&'static str),
}

/// An error and its sources on one line.
pub(crate) fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text.replace('\n', " ")
}
