//! `replay`: raw events, one per line, through the emulated delivery stream into a lake, and
//! `redrive`: the records of earlier error objects through it again.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use eventlake_transform::partition_keys;

use crate::error::LakeError;
use crate::firehose::{Batcher, BatcherCounts, Delivery, DeliveryOptions, DeliverySummary, TransformedBatch};
use crate::layout::{hour_path, ErrorKind, ObjectNames, REDRIVEN_SUFFIX};
use crate::manifest::{remove_uncommitted, Committed, Manifest, RedriveManifest, MANIFEST_VERSION};
use crate::store::LakeStore;
use crate::writer::encode_files;

/// A replay: where to, and how the delivery is emulated.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The lake: a directory, or `s3://bucket/prefix` (see [`LakeStore::open`]).
    pub lake: PathBuf,
    /// The emulated delivery stream.
    pub delivery: DeliveryOptions,
    /// The input's name, which (with the stream) identifies the replay in the lake: a
    /// canonical path, or `-` for stdin.
    pub input: String,
    /// Input bytes per segment: a checkpoint is committed after the first batch that ends at
    /// least this far past the previous one (see [`crate::manifest`]).
    pub checkpoint_bytes: usize,
    /// Replay even if the lake says this replay is complete (its rows are then written again).
    pub again: bool,
    /// When set (by Ctrl-C), the replay stops reading, commits what is in the lake at the last
    /// batch boundary, and returns [`ReplayState::Interrupted`].
    pub stop: Option<Arc<AtomicBool>>,
}

impl ReplayOptions {
    /// A replay of the input `-` into `lake` with the delivery's defaults and 512 MiB segments (docs/performance.md: smaller ones cost replay speed).
    pub fn new(lake: &Path) -> ReplayOptions {
        ReplayOptions {
            lake: lake.to_path_buf(),
            delivery: DeliveryOptions::default(),
            input: "-".into(),
            checkpoint_bytes: 512 * 1024 * 1024,
            again: false,
            stop: None,
        }
    }
}

/// How a replay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayState {
    /// The whole input is in the lake.
    Complete,
    /// Stopped on request; the committed part is in the lake, and the same replay again
    /// finishes it.
    Interrupted,
    /// The lake already held this whole replay; nothing was done.
    AlreadyComplete,
}

/// What a replay did and what is in the lake.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// Totals of the whole replay (the committed runs before this one included); times are
    /// this run's.
    pub summary: DeliverySummary,
    /// How it ended.
    pub state: ReplayState,
    /// Where this run started, if it resumed an interrupted one.
    pub resumed: Option<Committed>,
    /// What of the input is in the lake now.
    pub committed: Committed,
    /// Objects (and staging files) of the interrupted run removed before resuming.
    pub removed: usize,
}

/// A checkpoint the reading stage asks the delivery to commit.
struct Checkpoint {
    committed: Committed,
    complete: bool,
    counts: BatcherCounts,
}

/// Replays raw events, one per line (a trailing `\n` is not part of the event; every other
/// byte is, so a blank or broken line becomes a rejected record, never a skipped one). The
/// transform, the delivery (conversion into column builders) and the Parquet encoder run on
/// three threads. `progress` is called now and then with (records read, bytes read), counting
/// from the start of the input.
///
/// Safe to re-run: an interrupted replay is resumed from its last checkpoint, a complete one
/// is not repeated unless `again` is set ([`crate::manifest`]).
pub fn replay(
    input: &mut impl BufRead,
    options: &ReplayOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<Replayed, LakeError> {
    let started = Instant::now();
    let store = LakeStore::open(&options.lake)?;
    let delivery_options = &options.delivery;
    let stream = delivery_options.stream.as_str();
    let storage = &delivery_options.table.storage;
    let previous = Manifest::read(&store, &options.input, stream)?;
    let mut removed = 0;
    let (manifest, resumed) = match previous {
        Some(m) if m.complete && !options.again => {
            return Ok(Replayed {
                summary: m.summary,
                state: ReplayState::AlreadyComplete,
                resumed: None,
                committed: m.committed,
                removed: 0,
            })
        }
        Some(m) if !options.again => {
            if m.batch_bytes != delivery_options.batch_bytes || m.checkpoint_bytes != options.checkpoint_bytes {
                return Err(LakeError::Resume {
                    manifest: manifest_location(&store, &m),
                    message: format!(
                        "the interrupted replay used --batch-mb {} and --checkpoint-mb {}; resume with the same (or pass --again to replay from the start)",
                        mib_text(m.batch_bytes),
                        mib_text(m.checkpoint_bytes)
                    ),
                });
            }
            removed = remove_uncommitted(&store, storage, stream, m.run, m.committed.segments)?;
            let committed = m.committed;
            (m, Some(committed))
        }
        previous => {
            if let Some(m) = previous.filter(|m| !m.complete) {
                removed = remove_uncommitted(&store, storage, stream, m.run, m.committed.segments)?;
            }
            let m = Manifest {
                version: MANIFEST_VERSION,
                input: options.input.clone(),
                stream: stream.to_string(),
                run: ObjectNames::new(stream).tag.run,
                batch_bytes: delivery_options.batch_bytes,
                checkpoint_bytes: options.checkpoint_bytes,
                committed: Committed::default(),
                complete: false,
                summary: DeliverySummary::default(),
                updated: String::new(),
            };
            // Written before any object, so that a run killed at once can be cleaned up.
            m.write(&store)?;
            (m, None)
        }
    };
    let mut crc = crc32fast::Hasher::new();
    if let Some(committed) = &resumed {
        skip_committed(
            input,
            committed,
            &mut crc,
            &manifest_location(&store, &manifest),
            &options.input,
        )?;
    }
    let base = manifest.summary.clone();
    let mut batcher = Batcher::new(delivery_options);
    batcher.resume(&manifest);
    let mut delivery = Delivery::new(&store, delivery_options)?;
    delivery.run_as(manifest.run);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Option<TransformedBatch>, Option<Checkpoint>)>(4);
    // Three stages: the transform (this thread), the delivery, the Parquet encoder.
    let (files_tx, files_rx) = std::sync::mpsc::sync_channel(2);
    delivery.encode_on(files_tx);
    let this_run = std::thread::scope(|scope| {
        let store = &store;
        let manifest = &manifest;
        let base = &base;
        let encoding = scope.spawn(move || encode_files(store, files_rx));
        let delivering = scope.spawn(move || -> Result<Delivery<'_>, LakeError> {
            for (batch, checkpoint) in rx {
                if let Some(batch) = batch {
                    delivery.deliver(batch)?;
                }
                if let Some(c) = checkpoint {
                    let mut m = manifest.clone();
                    m.committed = c.committed;
                    m.complete = c.complete;
                    delivery.commit(&m, base, &c.counts)?;
                }
            }
            delivery.flush_partitions()?;
            Ok(delivery)
        });
        let read = (|| -> Result<(), LakeError> {
            let start = resumed.unwrap_or_default();
            let (mut lines, mut read) = (start.lines, start.bytes);
            // The input up to the end of the last batch made: where a stop commits.
            let mut at_batch_end = (start, batcher.counts());
            let mut last_commit = start.bytes;
            let mut line = Vec::new();
            let mut stopped = false;
            loop {
                if options.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
                    stopped = true;
                    break;
                }
                line.clear();
                let n = input
                    .read_until(b'\n', &mut line)
                    .map_err(|source| LakeError::ReadInput {
                        path: options.input.clone(),
                        source,
                    })?;
                if n == 0 {
                    break;
                }
                read += n as u64;
                lines += 1;
                crc.update(&line);
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                if let Some(batch) = batcher.push(&line)? {
                    let committed = committed_at(batcher.segment, lines, read, &crc);
                    at_batch_end = (committed, batcher.counts());
                    let checkpoint = (read - last_commit >= options.checkpoint_bytes as u64).then(|| {
                        last_commit = read;
                        batcher.segment += 1;
                        Checkpoint {
                            committed,
                            complete: false,
                            counts: batcher.counts(),
                        }
                    });
                    if tx.send((Some(batch), checkpoint)).is_err() {
                        return Ok(()); // the delivery stage stopped; its error is reported below
                    }
                }
                if batcher.records % 4096 == 0 {
                    progress(start.lines + batcher.records, read);
                }
            }
            let last = if stopped {
                // The events read since the last batch are not invoked: a resumed run makes
                // exactly the batches an uninterrupted one would have.
                let (mut committed, counts) = at_batch_end;
                committed.segments = batcher.segment + 1;
                Checkpoint {
                    committed,
                    complete: false,
                    counts,
                }
            } else {
                let batch = batcher.invoke()?;
                let committed = committed_at(batcher.segment, lines, read, &crc);
                if let Some(batch) = batch {
                    if tx.send((Some(batch), None)).is_err() {
                        return Ok(());
                    }
                }
                Checkpoint {
                    committed,
                    complete: true,
                    counts: batcher.counts(),
                }
            };
            progress(start.lines + batcher.records, read);
            let _ = tx.send((None, Some(last)));
            Ok(())
        })();
        drop(tx);
        let delivered = delivering.join().map_err(|_| LakeError::Stage("delivery"))?;
        let encoded = encoding.join().map_err(|_| LakeError::Stage("Parquet encoder"))?;
        // The encoder's own error first: when it stops, the delivery stops too, saying only
        // that the encoder is gone.
        let encoded = encoded?;
        let delivery = delivered?;
        read?;
        delivery.finish(&batcher, started, Some(encoded))
    })?;
    // What is in the lake is what the last manifest says.
    let now = Manifest::read(&store, &options.input, stream)?.ok_or_else(|| LakeError::Resume {
        manifest: manifest_location(&store, &manifest),
        message: "the replay's manifest disappeared while it ran".into(),
    })?;
    let mut summary = now.summary;
    summary.elapsed = this_run.elapsed;
    summary.transform_time = this_run.transform_time;
    summary.convert_time = this_run.convert_time;
    summary.write_time = this_run.write_time;
    Ok(Replayed {
        summary,
        state: if now.complete {
            ReplayState::Complete
        } else {
            ReplayState::Interrupted
        },
        resumed,
        committed: now.committed,
        removed,
    })
}

/// The manifest of the replay `options` describes, if the lake has one: what an interrupted
/// or failed replay left committed.
pub fn committed(options: &ReplayOptions) -> Result<Option<Manifest>, LakeError> {
    let store = LakeStore::open_existing(&options.lake)?;
    Manifest::read(&store, &options.input, &options.delivery.stream)
}

/// What is committed once segment `segment` ends after `lines` lines, `bytes` bytes of input
/// whose CRC so far is `crc`.
fn committed_at(segment: u64, lines: u64, bytes: u64, crc: &crc32fast::Hasher) -> Committed {
    Committed {
        segments: segment + 1,
        lines,
        bytes,
        crc32: crc.clone().finalize(),
    }
}

/// Where a manifest is, for messages.
fn manifest_location(store: &LakeStore, manifest: &Manifest) -> String {
    store.shown(&manifest.key())
}

/// A number of bytes as MiB, as the flags take it.
fn mib_text(bytes: usize) -> String {
    format!("{}", bytes as f64 / (1024.0 * 1024.0))
}

/// Reads past the committed part of the input, checking it is the input the interrupted run
/// read (its length on a line boundary, and its CRC-32).
fn skip_committed(
    input: &mut impl BufRead,
    committed: &Committed,
    crc: &mut crc32fast::Hasher,
    manifest: &str,
    name: &str,
) -> Result<(), LakeError> {
    let mut read = 0u64;
    let mut line = Vec::new();
    while read < committed.bytes {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|source| LakeError::ReadInput {
                path: name.to_string(),
                source,
            })?;
        if n == 0 {
            break;
        }
        read += n as u64;
        crc.update(&line);
    }
    if read != committed.bytes || crc.clone().finalize() != committed.crc32 {
        return Err(LakeError::Resume {
            manifest: manifest.to_string(),
            message: format!(
                "{name} is not the input the interrupted replay read: its first {} bytes differ; pass --again to replay it from the start",
                committed.bytes
            ),
        });
    }
    Ok(())
}

/// Re-drives the records of the error objects under `errors` (a lake's `errors/` or one of
/// its folders, a directory or `s3://…`) into the lake of `options`: `processing-failed`
/// records go through the transform again, `format-conversion-failed` records through the
/// conversion again; which is which is the folder the object is in. Each object read is
/// renamed to `<name>.redriven`, so a second re-drive does not repeat it; records that fail
/// again land in new error objects.
///
/// Safe to re-run: one object at a time, its outputs are committed (a
/// [`RedriveManifest`] in the lake) before it is renamed, so a re-drive killed at any point,
/// run again, removes what it wrote after its last commit and goes on from there.
pub fn redrive(errors: &Path, options: &ReplayOptions) -> Result<Redriven, LakeError> {
    let started = Instant::now();
    let source = LakeStore::open_existing(errors)?;
    let store = LakeStore::open(&options.lake)?;
    let stream = options.delivery.stream.as_str();
    let errors_name = errors.display().to_string();
    let mut manifest = match RedriveManifest::read_unfinished(&store, &errors_name, stream)? {
        Some(m) => {
            let storage = &options.delivery.table.storage;
            remove_uncommitted(&store, storage, stream, m.run, m.done as u64)?;
            m
        }
        None => {
            let sources = source
                .list("")?
                .into_iter()
                .map(|(key, _)| key)
                .filter(|key| {
                    let name = key.rsplit('/').next().unwrap_or_default();
                    !name.starts_with('.') && !name.ends_with(REDRIVEN_SUFFIX)
                })
                .collect();
            let m = RedriveManifest {
                version: MANIFEST_VERSION,
                errors: errors_name.clone(),
                stream: stream.to_string(),
                run: ObjectNames::new(stream).tag.run,
                sources,
                done: 0,
                complete: false,
                summary: DeliverySummary::default(),
            };
            m.write(&store)?;
            m
        }
    };
    let base = manifest.summary.clone();
    let mut batcher = Batcher::new(&options.delivery);
    let mut delivery = Delivery::new(&store, &options.delivery)?;
    delivery.run_as(manifest.run);
    let now = chrono::Utc::now();
    let hour = hour_path(now);
    let sources = manifest.sources.clone();
    // Objects committed before an interruption but not yet renamed.
    for key in &sources[..manifest.done] {
        rename_redriven(&source, key)?;
    }
    let mut stopped = false;
    for (index, key) in sources.iter().enumerate().skip(manifest.done) {
        if options.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
            // Between objects: everything before this one is committed and renamed.
            stopped = true;
            break;
        }
        batcher.segment = index as u64;
        let shown = source.shown(key);
        let kind = ErrorKind::of_key(&shown).ok_or_else(|| LakeError::BadErrorRecord {
            key: shown.clone(),
            line: 0,
            why: format!(
                "it is in neither a {} nor a {} folder",
                ErrorKind::ProcessingFailed.folder(),
                ErrorKind::FormatConversionFailed.folder()
            ),
        })?;
        let Some(bytes) = source.get_if_exists(key)? else {
            continue; // renamed by a re-drive that stopped after its commit
        };
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let bad = |why: String| LakeError::BadErrorRecord {
                key: shown.clone(),
                line: n + 1,
                why,
            };
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            let raw = STANDARD
                .decode(v["rawData"].as_str().ok_or_else(|| bad("no rawData".into()))?)
                .map_err(|e| bad(e.to_string()))?;
            match kind {
                ErrorKind::FormatConversionFailed => {
                    // A transformed record that did not convert: convert it again, into the
                    // partition its own keys name.
                    let record: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| bad(e.to_string()))?;
                    let keys = partition_keys(
                        record["event_type"].as_str().unwrap_or_default(),
                        record["created_at"].as_u64().unwrap_or_default(),
                    );
                    delivery.summary.records += 1;
                    delivery.summary.ok += 1;
                    delivery.tag_segment(index as u64);
                    delivery.deliver_record(
                        &raw,
                        &keys.event_type,
                        &keys.created_date,
                        now.timestamp_millis(),
                        &hour,
                        "redrive",
                    )?;
                }
                ErrorKind::ProcessingFailed => {
                    if let Some(batch) = batcher.push(&raw)? {
                        delivery.deliver(batch)?;
                    }
                }
            }
        }
        // The object's records are all delivered: commit them, then mark it.
        if let Some(batch) = batcher.invoke()? {
            delivery.deliver(batch)?;
        }
        delivery.tag_segment(index as u64);
        manifest.done = index + 1;
        let mut m = manifest.clone();
        m.summary = base.clone();
        let mut this_run = delivery.summary.clone();
        let counts = batcher.counts();
        this_run.records += counts.records;
        this_run.bytes_in += counts.bytes_in;
        this_run.invocations = counts.invocations;
        delivery.commit_redrive(&mut m, this_run)?;
        rename_redriven(&source, key)?;
    }
    let summary = delivery.finish(&batcher, started, None)?;
    let mut total = base;
    total.add_counts(&summary);
    total.elapsed = summary.elapsed;
    total.transform_time = summary.transform_time;
    total.convert_time = summary.convert_time;
    total.write_time = summary.write_time;
    if !stopped {
        manifest.done = sources.len();
        manifest.complete = true;
        manifest.summary = total.clone();
        manifest.write(&store)?;
    }
    Ok(Redriven {
        summary: total,
        state: if stopped {
            ReplayState::Interrupted
        } else {
            ReplayState::Complete
        },
        done: manifest.done,
        objects: sources.len(),
    })
}

/// What a re-drive did.
#[derive(Debug, Clone)]
pub struct Redriven {
    /// Totals of the whole re-drive (committed runs before this one included); times are
    /// this run's.
    pub summary: DeliverySummary,
    /// [`ReplayState::Complete`], or [`ReplayState::Interrupted`] when stopped between objects.
    pub state: ReplayState,
    /// Source objects re-driven and committed.
    pub done: usize,
    /// Source objects the re-drive has (listed when it started).
    pub objects: usize,
}

/// The manifest of the re-drive of `errors` that `options` describes, if the lake has one:
/// what an interrupted or failed re-drive left committed.
pub fn redrive_committed(errors: &Path, options: &ReplayOptions) -> Result<Option<RedriveManifest>, LakeError> {
    let store = LakeStore::open_existing(&options.lake)?;
    RedriveManifest::read(&store, &errors.display().to_string(), &options.delivery.stream)
}

/// Renames a re-driven error object to `<key>.redriven` (nothing if that is done already).
fn rename_redriven(source: &LakeStore, key: &str) -> Result<(), LakeError> {
    if source.get_if_exists(key)?.is_some() {
        source.rename(key, &format!("{key}{REDRIVEN_SUFFIX}"))?;
    }
    Ok(())
}
