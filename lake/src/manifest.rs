//! The committed progress of a replay, so that an interrupted one can be finished and a
//! finished one is not repeated by accident (docs/local-lake.md, "Resume").
//!
//! A replay reads its input in segments (about `checkpoint_bytes` of events each, ending on a
//! batch boundary). At the end of a segment every partition buffer is written, the segment's
//! error objects are already written (they go with their batch), and then the manifest
//! `_eventlake/replays/<id>.json` is written: how much of the input is in the lake (lines,
//! bytes, a CRC-32 of those bytes), the totals so far, and the run's id. Every object name
//! carries the run and the segment it was written in ([`crate::layout::RunTag`]).
//!
//! Re-running the same replay (same input, same stream) reads the manifest, removes the
//! objects the run wrote after its last checkpoint (and staging files of a directory lake),
//! skips the committed bytes of the input after checking their CRC, and goes on from there.
//! Batches are made from the input bytes alone, so the resumed run makes exactly the batches
//! (and so the in-batch duplicates) the uninterrupted run would have made.

use serde::{Deserialize, Serialize};

use crate::error::LakeError;
use crate::firehose::DeliverySummary;
use crate::layout::{manifest_key, RunTag};
use crate::store::LakeStore;

/// The manifest format's version.
pub const MANIFEST_VERSION: u32 = 1;

/// How much of the input is in the lake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// Segments committed; the next segment's number.
    pub segments: u64,
    /// Input lines in the lake (each a record: accepted, dropped or rejected).
    pub lines: u64,
    /// Input bytes those lines are, newlines included.
    pub bytes: u64,
    /// CRC-32 (IEEE) of those bytes.
    pub crc32: u32,
}

/// The committed progress of one replay into one lake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The input, as the replay named it (a canonical path, or `-` for stdin).
    pub input: String,
    /// The delivery stream name (object names start with it).
    pub stream: String,
    /// The run that wrote the objects ([`RunTag::run`]).
    pub run: u32,
    /// The processor buffer the batches were made with: a resume must use the same.
    pub batch_bytes: usize,
    /// Input bytes per segment.
    pub checkpoint_bytes: usize,
    /// What is in the lake.
    pub committed: Committed,
    /// Whether the whole input is in the lake.
    pub complete: bool,
    /// Totals of the committed segments (times are not kept).
    pub summary: DeliverySummary,
    /// When this was written (RFC 3339, UTC).
    pub updated: String,
}

impl Manifest {
    /// The id of the replay of `input` by `stream`: the stream name and a CRC-32 of both.
    pub fn id(input: &str, stream: &str) -> String {
        let mut h = crc32fast::Hasher::new();
        h.update(input.as_bytes());
        h.update(b"\n");
        h.update(stream.as_bytes());
        format!("{stream}-{:08x}", h.finalize())
    }

    /// The key of this manifest.
    pub fn key(&self) -> String {
        manifest_key(&Manifest::id(&self.input, &self.stream))
    }

    /// The manifest of the replay of `input` by `stream` in `store`, if one was written.
    pub fn read(store: &LakeStore, input: &str, stream: &str) -> Result<Option<Manifest>, LakeError> {
        read_state(
            store,
            &manifest_key(&Manifest::id(input, stream)),
            "a replay manifest",
            "replay",
        )
    }

    /// Writes it (one object: a directory lake writes it under a staging name and renames
    /// it, S3 takes it in one PUT, so a reader sees the old manifest or the new one).
    pub fn write(&self, store: &LakeStore) -> Result<(), LakeError> {
        let mut m = self.clone();
        m.updated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        write_state(store, &self.key(), &m)
    }
}

/// The committed progress of a re-drive: the error objects it re-drives (listed once, when it
/// starts, so that the error objects it writes itself are not among them) and how many of
/// them are done. Each source object is one segment: its records are delivered, every buffer
/// is written, this manifest is written, and only then is the object renamed `.redriven`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedriveManifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The error folder re-driven, as given.
    pub errors: String,
    /// The delivery stream name.
    pub stream: String,
    /// The run that writes the objects.
    pub run: u32,
    /// The source objects' keys below `errors`, in order.
    pub sources: Vec<String>,
    /// How many of them are done (their outputs committed).
    pub done: usize,
    /// Whether all are done and renamed.
    pub complete: bool,
    /// Totals of the done objects (times are not kept).
    pub summary: DeliverySummary,
}

impl RedriveManifest {
    /// The key of the re-drive of `errors` by `stream`.
    pub fn key_of(errors: &str, stream: &str) -> String {
        format!(
            "{}redrives/{}.json",
            crate::layout::STATE_PREFIX,
            Manifest::id(errors, stream)
        )
    }

    /// The re-drive of `errors` by `stream` in `store`, if one was started.
    pub fn read(store: &LakeStore, errors: &str, stream: &str) -> Result<Option<RedriveManifest>, LakeError> {
        read_state(
            store,
            &RedriveManifest::key_of(errors, stream),
            "a re-drive manifest",
            "re-drive",
        )
    }

    /// The unfinished re-drive of `errors` by `stream` in `store`, if there is one.
    pub fn read_unfinished(
        store: &LakeStore,
        errors: &str,
        stream: &str,
    ) -> Result<Option<RedriveManifest>, LakeError> {
        Ok(RedriveManifest::read(store, errors, stream)?.filter(|m| !m.complete))
    }

    /// Writes it (one object, replaced whole).
    pub fn write(&self, store: &LakeStore) -> Result<(), LakeError> {
        write_state(store, &RedriveManifest::key_of(&self.errors, &self.stream), self)
    }
}

/// Reads the state object `key` (`what` it is, for the error; `job` to say what deleting it
/// restarts), if there is one.
fn read_state<T: serde::de::DeserializeOwned>(
    store: &LakeStore,
    key: &str,
    what: &str,
    job: &str,
) -> Result<Option<T>, LakeError> {
    let Some(bytes) = store.get_if_exists(key)? else {
        return Ok(None);
    };
    let state = serde_json::from_slice(&bytes).map_err(|e| LakeError::Decode {
        key: store.shown(key),
        message: format!("not {what} ({e}); delete it to {job} from the start"),
    })?;
    Ok(Some(state))
}

/// Writes a state object as pretty JSON, in one put (a directory lake writes it under a
/// staging name and renames it, S3 takes it in one PUT: a reader sees the old one or the new).
fn write_state<T: Serialize>(store: &LakeStore, key: &str, state: &T) -> Result<(), LakeError> {
    // The state types are structs of numbers, strings and maps with string keys: they always
    // serialize.
    let bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
    store.put(key, bytes).map(|_| ())
}

/// Removes what run `run` of `stream` wrote in segment `from` and later (below the events and
/// errors prefixes), and the staging files of unfinished writes of a directory lake. Returns
/// how many objects it removed.
pub fn remove_uncommitted(
    store: &LakeStore,
    storage: &eventlake_glue_schema::Storage,
    stream: &str,
    run: u32,
    from: u64,
) -> Result<usize, LakeError> {
    let mut removed = 0;
    for prefix in [&storage.events_prefix, &storage.errors_prefix] {
        for (key, _) in store.list(prefix)? {
            let name = key.rsplit('/').next().unwrap_or_default();
            if RunTag::of_name(name, stream).is_some_and(|tag| tag.run == run && tag.segment >= from) {
                store.delete(&key)?;
                removed += 1;
            }
        }
    }
    removed += store.remove_staging_files()?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_by_input_and_stream_and_name_the_stream() {
        let a = Manifest::id("/data/a.jsonl", "s");
        assert!(a.starts_with("s-") && a.len() == 2 + 8, "{a}");
        assert_ne!(a, Manifest::id("/data/b.jsonl", "s"));
        assert_ne!(a, Manifest::id("/data/a.jsonl", "t"));
        assert_eq!(a, Manifest::id("/data/a.jsonl", "s"));
    }
}
