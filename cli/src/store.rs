//! Where a lake lives: a local directory, or an object store (`s3://bucket/prefix`) so that
//! `replay` can backfill a real lake with the same layout Firehose writes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::lake::write_atomically;
use crate::CliError;

/// A lake's root: every object is addressed by its key below it (`events/…`, `errors/…`).
pub enum LakeStore {
    /// A directory on this machine; files are written under a temporary name, then renamed.
    Dir(PathBuf),
    /// An object store; each object is one PUT, which S3 makes visible whole or not at all.
    Object(ObjectLake),
}

/// An object-store lake (`s3://bucket/prefix`).
pub struct ObjectLake {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Runtime,
}

impl LakeStore {
    /// Opens `location`: `s3://bucket[/prefix]` (credentials, region and endpoint from the
    /// standard `AWS_*` environment variables) or a local directory, created if needed.
    /// Fails early with one readable line if the directory cannot be created or the bucket
    /// cannot be listed.
    pub fn open(location: &Path) -> Result<LakeStore, CliError> {
        let text = location.to_string_lossy();
        if let Some(rest) = text.strip_prefix("s3://") {
            return ObjectLake::open(&text, rest).map(LakeStore::Object);
        }
        if text.contains("://") {
            return Err(CliError::Lake(format!(
                "unsupported lake location {text}: use a directory or s3://bucket/prefix"
            )));
        }
        std::fs::create_dir_all(location).map_err(|source| CliError::WriteFile {
            path: location.to_path_buf(),
            source,
        })?;
        Ok(LakeStore::Dir(location.to_path_buf()))
    }

    /// Writes `bytes` as the object `key` (`/`-separated, relative to the root). Returns
    /// the number of bytes written.
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> Result<u64, CliError> {
        let len = bytes.len() as u64;
        match self {
            LakeStore::Dir(root) => {
                let path = root.join(key);
                let (dir, name) = (path.parent().unwrap_or(root), path.file_name().unwrap_or_default());
                write_atomically(dir, &name.to_string_lossy(), |f| {
                    use std::io::Write;
                    f.write_all(&bytes)
                })
            }
            LakeStore::Object(lake) => lake.put(key, bytes).map(|()| len),
        }
    }
}

impl ObjectLake {
    fn open(url: &str, bucket_and_prefix: &str) -> Result<ObjectLake, CliError> {
        let (bucket, prefix) = bucket_and_prefix.split_once('/').unwrap_or((bucket_and_prefix, ""));
        if bucket.is_empty() {
            return Err(CliError::Lake(format!(
                "{url}: no bucket name (expected s3://bucket/prefix)"
            )));
        }
        let store = s3_store(url, bucket)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CliError::WriteOutput)?;
        let lake = ObjectLake {
            url: url.to_string(),
            store,
            prefix: prefix.trim_matches('/').to_string(),
            runtime,
        };
        // Reading the prefix proves the bucket exists and the credentials work, before any
        // work is done.
        let probe = lake.path("");
        lake.runtime
            .block_on(lake.store.list_with_delimiter(Some(&probe)))
            .map_err(|e| CliError::Lake(format!("cannot use {url}: {}", one_line(&e))))?;
        Ok(lake)
    }

    fn path(&self, key: &str) -> ObjectPath {
        match (self.prefix.is_empty(), key.is_empty()) {
            (true, _) => ObjectPath::from(key),
            (false, true) => ObjectPath::from(self.prefix.as_str()),
            (false, false) => ObjectPath::from(format!("{}/{key}", self.prefix)),
        }
    }

    fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), CliError> {
        let path = self.path(key);
        self.runtime
            .block_on(self.store.put(&path, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(|e| CliError::Lake(format!("cannot write {}/{key}: {}", self.url, one_line(&e))))
    }
}

/// The S3 client of `bucket`, configured from the standard `AWS_*` environment variables.
#[cfg(feature = "s3")]
fn s3_store(url: &str, bucket: &str) -> Result<Arc<dyn ObjectStore>, CliError> {
    object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| CliError::Lake(format!("{url}: {}", one_line(&e))))
}

/// Without the `s3` feature there is no S3 client: say how to get one.
#[cfg(not(feature = "s3"))]
fn s3_store(url: &str, _bucket: &str) -> Result<Arc<dyn ObjectStore>, CliError> {
    Err(CliError::Lake(format!(
        "{url}: this eventlake was built without S3 support; build it with the default features \
         (`cargo build --release -p eventlake`, or `cargo install --locked --path cli`)"
    )))
}

/// An object-store error on one line (its sources joined), for a one-line CLI message.
fn one_line(e: &dyn std::error::Error) -> String {
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
