//! `replay`: raw events, one per line, through the emulated delivery stream into a lake, and
//! `redrive`: the records of earlier error objects through it again.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use eventlake_transform::partition_keys;

use crate::error::LakeError;
use crate::firehose::{Batcher, Delivery, DeliveryOptions, DeliverySummary, TransformedBatch};
use crate::layout::{hour_path, ErrorKind, REDRIVEN_SUFFIX};
use crate::store::LakeStore;
use crate::writer::encode_files;

/// A replay: where to, and how the delivery is emulated.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The lake: a directory, or `s3://bucket/prefix` (see [`LakeStore::open`]).
    pub lake: PathBuf,
    /// The emulated delivery stream.
    pub delivery: DeliveryOptions,
}

impl ReplayOptions {
    /// A replay into `lake` with the delivery's defaults.
    pub fn new(lake: &Path) -> ReplayOptions {
        ReplayOptions {
            lake: lake.to_path_buf(),
            delivery: DeliveryOptions::default(),
        }
    }
}

/// Replays raw events, one per line (a trailing `\n` is not part of the event; every other
/// byte is, so a blank or broken line becomes a rejected record, never a skipped one). The
/// transform, the delivery (conversion into column builders) and the Parquet encoder run on
/// three threads. `progress` is called now and then with (records read, bytes read).
pub fn replay(
    input: &mut impl BufRead,
    options: &ReplayOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<DeliverySummary, LakeError> {
    let started = Instant::now();
    let store = LakeStore::open(&options.lake)?;
    let mut batcher = Batcher::new(&options.delivery);
    let mut delivery = Delivery::new(&store, &options.delivery)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<TransformedBatch>(4);
    // Three stages: the transform (this thread), the delivery, the Parquet encoder.
    let (files_tx, files_rx) = std::sync::mpsc::sync_channel(2);
    delivery.encode_on(files_tx);
    std::thread::scope(|scope| {
        let store = &store;
        let encoding = scope.spawn(move || encode_files(store, files_rx));
        let delivering = scope.spawn(move || -> Result<Delivery<'_>, LakeError> {
            for batch in rx {
                delivery.deliver(batch)?;
            }
            delivery.flush_partitions()?;
            Ok(delivery)
        });
        let read = (|| -> Result<(), LakeError> {
            let mut line = Vec::new();
            let mut read = 0u64;
            loop {
                line.clear();
                let n = input
                    .read_until(b'\n', &mut line)
                    .map_err(|source| LakeError::ReadInput {
                        path: "input".into(),
                        source,
                    })?;
                if n == 0 {
                    break;
                }
                read += n as u64;
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                if let Some(batch) = batcher.push(&line)? {
                    if tx.send(batch).is_err() {
                        break; // the delivery stage stopped; its error is reported below
                    }
                }
                if batcher.records % 4096 == 0 {
                    progress(batcher.records, read);
                }
            }
            if let Some(batch) = batcher.invoke()? {
                let _ = tx.send(batch);
            }
            progress(batcher.records, read);
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
    })
}

/// Re-drives the records of the error objects under `errors` (a lake's `errors/` or one of
/// its folders, a directory or `s3://…`) into the lake of `options`: `processing-failed`
/// records go through the transform again, `format-conversion-failed` records through the
/// conversion again; which is which is the folder the object is in. Each object read is
/// renamed to `<name>.redriven`, so a second re-drive does not repeat it; records that fail
/// again land in new error objects.
pub fn redrive(errors: &Path, options: &ReplayOptions) -> Result<DeliverySummary, LakeError> {
    let started = Instant::now();
    let source = LakeStore::open_existing(errors)?;
    let store = LakeStore::open(&options.lake)?;
    let objects: Vec<String> = source
        .list("")?
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| {
            let name = key.rsplit('/').next().unwrap_or_default();
            !name.starts_with('.') && !name.ends_with(REDRIVEN_SUFFIX)
        })
        .collect();
    let mut batcher = Batcher::new(&options.delivery);
    let mut delivery = Delivery::new(&store, &options.delivery)?;
    let now = chrono::Utc::now();
    let hour = hour_path(now);
    for key in &objects {
        let shown = format!("{}/{key}", source.location().trim_end_matches('/'));
        let kind = ErrorKind::of_key(&shown).ok_or_else(|| LakeError::BadErrorRecord {
            key: shown.clone(),
            line: 0,
            why: format!(
                "it is in neither a {} nor a {} folder",
                ErrorKind::ProcessingFailed.folder(),
                ErrorKind::FormatConversionFailed.folder()
            ),
        })?;
        let bytes = source.get(key)?;
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
    }
    if let Some(batch) = batcher.invoke()? {
        delivery.deliver(batch)?;
    }
    let summary = delivery.finish(&batcher, started, None)?;
    for key in &objects {
        source.rename(key, &format!("{key}{REDRIVEN_SUFFIX}"))?;
    }
    Ok(summary)
}
