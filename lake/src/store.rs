//! Where a lake lives: a local directory or `s3://bucket/prefix`, behind one interface over
//! `object_store` (its local file system for a directory, its S3 client for S3), so that
//! replay, re-drive, compaction and query read and write both alike.
//!
//! Writes: on a directory an object is written under a staging name (`<name>#<n>`) and
//! renamed into place (object_store's local store; listings skip staging names); on S3 each
//! object is one PUT, visible whole or not at all.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{one_line, LakeError};

/// A lake's root: every object is addressed by its `/`-separated key below it.
pub struct LakeStore {
    location: String,
    store: Arc<dyn ObjectStore>,
    /// Key prefix of the root inside `store` (`""` or `dir/`).
    root: String,
    /// Where query engines find the lake: a directory, or a bucket.
    place: Place,
    runtime: tokio::runtime::Runtime,
}

/// Where a lake is, as a query engine finds it.
enum Place {
    /// This directory (canonical).
    Dir(std::path::PathBuf),
    /// A bucket, registered under its URL (`s3://bucket/`).
    Bucket(String),
}

impl std::fmt::Debug for LakeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LakeStore").field("location", &self.location).finish()
    }
}

impl LakeStore {
    /// Opens `location`: `s3://bucket[/prefix]` (credentials, region and endpoint from the
    /// standard `AWS_*` environment variables; needs the `s3` feature) or a local directory,
    /// created if needed. Fails early with one readable line if the directory cannot be
    /// created or the bucket cannot be listed.
    pub fn open(location: &Path) -> Result<LakeStore, LakeError> {
        LakeStore::open_with(location, true)
    }

    /// Opens an existing lake location (a directory is not created).
    pub fn open_existing(location: &Path) -> Result<LakeStore, LakeError> {
        LakeStore::open_with(location, false)
    }

    fn open_with(location: &Path, create: bool) -> Result<LakeStore, LakeError> {
        let text = location.to_string_lossy().to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LakeError::Open {
                location: text.clone(),
                message: e.to_string(),
            })?;
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(LakeError::NoBucket(text));
            }
            let store = s3_store(&text, bucket)?;
            let prefix = prefix.trim_matches('/');
            let lake = LakeStore {
                root: if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                },
                place: Place::Bucket(format!("s3://{bucket}/")),
                location: text,
                store,
                runtime,
            };
            // Listing the prefix proves the bucket exists and the credentials work, before
            // any work is done.
            let probe = ObjectPath::from(lake.root.trim_end_matches('/'));
            lake.runtime
                .block_on(lake.store.list_with_delimiter(Some(&probe)))
                .map_err(|e| LakeError::Open {
                    location: lake.location.clone(),
                    message: one_line(&e),
                })?;
            return Ok(lake);
        }
        if text.contains("://") {
            return Err(LakeError::UnsupportedLocation(text));
        }
        let open_error = |e: &dyn std::error::Error| LakeError::Open {
            location: text.clone(),
            message: one_line(e),
        };
        if create {
            std::fs::create_dir_all(location).map_err(|e| open_error(&e))?;
        }
        let dir = location.canonicalize().map_err(|e| open_error(&e))?;
        if !dir.is_dir() {
            return Err(LakeError::Open {
                location: text,
                message: "not a directory".into(),
            });
        }
        let store = object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|e| open_error(&e))?;
        Ok(LakeStore {
            place: Place::Dir(dir),
            location: text,
            store: Arc::new(store),
            root: String::new(),
            runtime,
        })
    }

    /// The location as given (`s3://…` or the directory).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Opens the lake of `storage` at `location`, which must hold its events prefix: a
    /// directory that does not exist, or one without events, is [`LakeError::NoLake`]; an
    /// unusable bucket says why ([`LakeError::Open`]).
    pub fn open_lake(location: &Path, storage: &eventlake_glue_schema::Storage) -> Result<LakeStore, LakeError> {
        let no_lake = || LakeError::NoLake {
            location: location.display().to_string(),
            prefix: storage.events_prefix.clone(),
        };
        let store = LakeStore::open_existing(location).map_err(|e| match e {
            LakeError::Open { .. } if !location.to_string_lossy().contains("://") => no_lake(),
            other => other,
        })?;
        match store.has_any(&storage.events_prefix)? {
            true => Ok(store),
            false => Err(no_lake()),
        }
    }

    /// Whether the lake is a local directory.
    pub fn is_local(&self) -> bool {
        matches!(self.place, Place::Dir(_))
    }

    /// Where a query engine finds the objects below `prefix`: a directory path for a local
    /// lake (the engine's own local file system), a URL in the bucket for S3.
    pub fn table_location(&self, prefix: &str) -> String {
        match &self.place {
            Place::Dir(dir) => format!("{}/", dir.join(prefix).display()),
            Place::Bucket(url) => format!("{url}{}{prefix}", self.root),
        }
    }

    /// For an S3 lake, the bucket's URL (`s3://bucket/`) and its store, for a query engine to
    /// register; `None` for a directory.
    pub fn bucket_store(&self) -> Option<(String, Arc<dyn ObjectStore>)> {
        match &self.place {
            Place::Dir(_) => None,
            Place::Bucket(url) => Some((url.clone(), self.store.clone())),
        }
    }

    fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::from(format!("{}{key}", self.root).trim_end_matches('/'))
    }

    fn error(&self, operation: &'static str, key: &str, e: &dyn std::error::Error) -> LakeError {
        LakeError::Object {
            operation,
            location: self.location.trim_end_matches('/').to_string(),
            key: key.to_string(),
            message: one_line(e),
        }
    }

    /// Writes `bytes` as the object `key`. Returns the number of bytes written.
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> Result<u64, LakeError> {
        let len = bytes.len() as u64;
        self.runtime
            .block_on(self.store.put(&self.path(key), PutPayload::from(bytes)))
            .map_err(|e| self.error("write", key, &e))?;
        fault::after_put();
        Ok(len)
    }

    /// The bytes of the object `key`, or `None` if there is none.
    pub fn get_if_exists(&self, key: &str) -> Result<Option<Bytes>, LakeError> {
        let got = self
            .runtime
            .block_on(async { self.store.get(&self.path(key)).await?.bytes().await });
        match got {
            Ok(bytes) => Ok(Some(bytes)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("read", key, &e)),
        }
    }

    /// Where the object `key` is, for messages: the store's location and the key.
    pub fn shown(&self, key: &str) -> String {
        format!("{}/{key}", self.location.trim_end_matches('/'))
    }

    /// Checks that every Parquet object below `prefix` is whole: at least a header and a
    /// footer long, ending in the footer's magic `PAR1` (what a cut-off or empty file lacks,
    /// and what a query engine may skip without a word). The first that is not is named.
    pub fn check_parquet_objects(&self, prefix: &str) -> Result<(), LakeError> {
        const MAGIC: &[u8] = b"PAR1";
        for (key, size) in self.list(prefix)? {
            if !key.ends_with(".parquet") {
                continue;
            }
            let bad = |message: String| LakeError::Decode {
                key: self.shown(&key),
                message,
            };
            // Header magic, footer length (4 bytes) and footer magic at least.
            if size < 12 {
                return Err(bad(format!("not a Parquet file: {size} bytes")));
            }
            let tail = self
                .runtime
                .block_on(self.store.get_range(&self.path(&key), size - 4..size))
                .map_err(|e| self.error("read", &key, &e))?;
            if tail.as_ref() != MAGIC {
                return Err(bad("not a whole Parquet file: no footer at its end (cut off?)".into()));
            }
        }
        Ok(())
    }

    /// Reads every Parquet object below `prefix` whole (footer, every page of every column)
    /// and names the first that does not decode: for when a query engine fails on a file
    /// without saying which. Slow (it reads the table), so only for an error already met.
    pub fn find_unreadable_parquet(&self, prefix: &str) -> Result<(), LakeError> {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        for (key, _) in self.list(prefix)? {
            if !key.ends_with(".parquet") {
                continue;
            }
            let bytes = self.get(&key)?;
            let decoded: Result<(), String> = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .and_then(|b| b.build())
                .map_err(|e| e.to_string())
                .and_then(|mut reader| reader.try_for_each(|batch| batch.map(|_| ()).map_err(|e| e.to_string())));
            if let Err(message) = decoded {
                return Err(LakeError::Decode {
                    key: self.shown(&key),
                    message: format!("not a readable Parquet file: {message}"),
                });
            }
        }
        Ok(())
    }

    /// Removes the staging files (`<name>#<n>`) that writes into a directory lake leave when
    /// the process is killed mid-write; nothing on S3, where an unfinished PUT leaves nothing.
    /// Returns how many it removed.
    pub fn remove_staging_files(&self) -> Result<usize, LakeError> {
        fn walk(dir: &Path, removed: &mut usize) -> std::io::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    walk(&path, removed)?;
                } else if is_staging_name(&entry.file_name().to_string_lossy()) {
                    std::fs::remove_file(&path)?;
                    *removed += 1;
                }
            }
            Ok(())
        }
        let Place::Dir(dir) = &self.place else {
            return Ok(0);
        };
        let mut removed = 0;
        walk(dir, &mut removed).map_err(|e| self.error("clean", "", &e))?;
        Ok(removed)
    }

    /// The bytes of the object `key`.
    pub fn get(&self, key: &str) -> Result<Bytes, LakeError> {
        self.runtime
            .block_on(async { self.store.get(&self.path(key)).await?.bytes().await })
            .map_err(|e| self.error("read", key, &e))
    }

    /// Every object below `prefix` (a key prefix ending in `/`, or `""` for all), as
    /// `(key, size)` sorted by key. Staging names of unfinished writes are not listed.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, LakeError> {
        let path = self.path(prefix);
        let listed: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(Some(&path)).try_collect())
            .map_err(|e| self.error("list", prefix, &e))?;
        let mut keys: Vec<(String, u64)> = listed
            .into_iter()
            .filter_map(|m| {
                let key = m.location.as_ref().strip_prefix(self.root.as_str())?.to_string();
                key.starts_with(prefix).then_some((key, m.size))
            })
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Whether any object is below `prefix`.
    pub fn has_any(&self, prefix: &str) -> Result<bool, LakeError> {
        let path = self.path(prefix);
        let first = self
            .runtime
            .block_on(async { self.store.list(Some(&path)).try_next().await })
            .map_err(|e| self.error("list", prefix, &e))?;
        Ok(first.is_some())
    }

    /// Deletes the object `key` (nothing if there is none).
    pub fn delete(&self, key: &str) -> Result<(), LakeError> {
        self.runtime
            .block_on(self.store.delete(&self.path(key)))
            .map_err(|e| self.error("delete", key, &e))
    }

    /// Renames the object `from` to `to` (on S3: a copy, then a delete).
    pub fn rename(&self, from: &str, to: &str) -> Result<(), LakeError> {
        self.runtime
            .block_on(self.store.rename(&self.path(from), &self.path(to)))
            .map_err(|e| self.error("rename", from, &e))
    }
}

/// Whether a file name is object_store's staging name of an unfinished write: `<name>#<n>`.
fn is_staging_name(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(base, n)| !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Fault-injection hooks for the resume tests (docs/local-lake.md, "Faults"):
/// - `EVENTLAKE_FAULT_ABORT_AFTER_PUTS=N`: the process aborts (as a SIGKILL would end it: no
///   unwinding, no cleanup) right after its N-th object write;
/// - `EVENTLAKE_FAULT_SLOW_PUTS_MS=M`: every object write takes M ms longer (a slow store), so
///   that a test can interrupt a run between two writes without racing it.
mod fault {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    static SLOW: OnceLock<Option<u64>> = OnceLock::new();
    static PUTS: AtomicU64 = AtomicU64::new(0);

    fn setting(cell: &'static OnceLock<Option<u64>>, name: &str) -> Option<u64> {
        *cell.get_or_init(|| std::env::var(name).ok().and_then(|v| v.parse().ok()))
    }

    pub(super) fn after_put() {
        if let Some(ms) = setting(&SLOW, "EVENTLAKE_FAULT_SLOW_PUTS_MS") {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        if let Some(limit) = setting(&LIMIT, "EVENTLAKE_FAULT_ABORT_AFTER_PUTS") {
            if PUTS.fetch_add(1, Ordering::SeqCst) + 1 >= limit {
                eprintln!("eventlake: EVENTLAKE_FAULT_ABORT_AFTER_PUTS={limit}: aborting after {limit} object writes");
                std::process::abort();
            }
        }
    }
}

/// The S3 client of `bucket`, configured from the standard `AWS_*` environment variables.
#[cfg(feature = "s3")]
fn s3_store(url: &str, bucket: &str) -> Result<Arc<dyn ObjectStore>, LakeError> {
    object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| LakeError::Open {
            location: url.to_string(),
            message: one_line(&e),
        })
}

/// Without the `s3` feature there is no S3 client: say how to get one.
#[cfg(not(feature = "s3"))]
fn s3_store(url: &str, _bucket: &str) -> Result<Arc<dyn ObjectStore>, LakeError> {
    Err(LakeError::NoS3Support(url.to_string()))
}
