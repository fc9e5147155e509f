//! `eventlake produce`: drive a Kinesis data stream with events at a chosen rate and report
//! what the stream accepted — the load test of a deployed stage.
//!
//! Events (generated from the catalog, or one per line from a file) are packed into Kinesis
//! records (`--pack N`: up to N newline-separated events per record, for Firehose's JSON
//! deaggregation), grouped into `PutRecords` calls within the API's limits, paced to the target
//! rate and sent by a few concurrent workers. Throttled calls and failed entries are sent again
//! with capped, jittered exponential backoff; an event that still fails, or one that cannot be
//! sent at all (too large), is written with its reason to the failed-events file. Nothing is
//! dropped without a trace.
//!
//! The pure parts (packing, batching, pacing, backoff, latency statistics) are here; the
//! Kinesis client is the AWS SDK for Rust with the standard credential chain.

mod calls;
mod client;
mod pacing;
mod records;
mod source;
mod summary;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::Client;

use crate::CliError;

pub use client::{client, describe, http_client, StreamInfo};
pub use pacing::{due, Backoff};
pub use records::{
    max_batch_events, partition_key, Batch, Packer, Record, Unsendable, MAX_BYTES_PER_CALL, MAX_PACK,
    MAX_RECORDS_PER_CALL, MAX_RECORD_BYTES,
};
pub use summary::{Latencies, ProduceSummary, Progress};

use calls::{send_batch, FailedEvents, Shared};
use source::read_batches;

/// Where the events come from.
pub enum Source {
    /// Generated from the event catalog.
    Generated(crate::generate::GenerateOptions),
    /// One event per line (empty lines skipped): a file, read to its end.
    Lines(Box<dyn std::io::BufRead + Send>),
    /// One event per line from a pipe (stdin) that may go quiet: read on a thread of its own,
    /// and what is buffered is sent after 200 ms without a new line.
    Live(Box<dyn std::io::BufRead + Send>),
}

/// How to produce.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    /// Stream name, or its ARN.
    pub stream: String,
    /// Events per second; `None` for as fast as the stream takes them.
    pub rate: Option<f64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many events.
    pub events: Option<u64>,
    /// Events per Kinesis record.
    pub pack: usize,
    /// `PutRecords` calls in flight at once.
    pub concurrency: usize,
    /// Sends per record before it counts as failed.
    pub max_attempts: u32,
    /// Backoff before retries.
    pub backoff_base: Duration,
    /// Longest backoff.
    pub backoff_cap: Duration,
    /// Where events that could not be sent go, with reasons (created on the first one).
    pub failed_file: PathBuf,
}

impl ProduceOptions {
    /// Defaults for `stream`.
    pub fn new(stream: &str) -> ProduceOptions {
        ProduceOptions {
            stream: stream.to_string(),
            rate: None,
            duration: None,
            events: None,
            pack: 1,
            concurrency: 4,
            max_attempts: 20,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(10),
            failed_file: PathBuf::from("eventlake-produce-failed.jsonl"),
        }
    }
}

/// Sends the events of `source` to the stream. `progress` is updated as events are read,
/// accepted and failed; setting `interrupt` stops reading (in-flight calls finish).
pub async fn produce(
    client: Client,
    options: ProduceOptions,
    source: Source,
    progress: Arc<Progress>,
    interrupt: Arc<AtomicBool>,
) -> Result<ProduceSummary, CliError> {
    if !(1..=MAX_PACK).contains(&options.pack) {
        return Err(CliError::Produce(format!(
            "--pack {}: use 1 to {MAX_PACK}",
            options.pack
        )));
    }
    if options.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(CliError::Produce(
            "--rate: use a positive number of events per second".into(),
        ));
    }
    let shared = Arc::new(Shared {
        client,
        failed: Mutex::new(FailedEvents {
            path: options.failed_file.clone(),
            file: None,
        }),
        options: options.clone(),
        progress: progress.clone(),
        latencies: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
        fatal: Mutex::new(None),
        calls: AtomicU64::new(0),
        calls_retried: AtomicU64::new(0),
        records: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    });
    let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(options.concurrency.max(1));
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let mut workers = Vec::new();
    for worker in 0..options.concurrency.max(1) {
        let shared = shared.clone();
        let rx = rx.clone();
        workers.push(tokio::spawn(async move {
            let mut backoff = Backoff::new(
                shared.options.backoff_base,
                shared.options.backoff_cap,
                worker as u64 + 1,
            );
            loop {
                let batch = rx.lock().await.recv().await;
                match batch {
                    Some(batch) => send_batch(&shared, batch, &mut backoff).await?,
                    None => return Ok::<(), CliError>(()),
                }
            }
        }));
    }
    let started = Instant::now();
    let reader_shared = shared.clone();
    let reader = tokio::task::spawn_blocking(move || read_batches(source, &reader_shared, &interrupt, started, tx));
    let read_result = reader
        .await
        .map_err(|e| CliError::Produce(format!("reader stopped: {e}")))?;
    for worker in workers {
        worker
            .await
            .map_err(|e| CliError::Produce(format!("worker stopped: {e}")))??;
    }
    read_result?;
    let seconds = started.elapsed().as_secs_f64();
    let failed_file = shared.failed.lock().expect("failed-events lock").finish()?;
    let latencies = std::mem::take(&mut *shared.latencies.lock().expect("latency lock"));
    let stopped = shared.fatal.lock().expect("fatal lock").clone().or_else(|| {
        shared
            .stop
            .load(Ordering::SeqCst)
            .then(|| "interrupted; every event read was sent or written to the failed-events file".to_string())
    });
    Ok(ProduceSummary {
        stream: options.stream.clone(),
        read: progress.read.load(Ordering::Relaxed),
        accepted: progress.accepted.load(Ordering::Relaxed),
        records: shared.records.load(Ordering::Relaxed),
        bytes: shared.bytes.load(Ordering::Relaxed),
        calls: shared.calls.load(Ordering::Relaxed),
        calls_retried: shared.calls_retried.load(Ordering::Relaxed),
        records_retried: progress.retried.load(Ordering::Relaxed),
        failed: progress.failed.load(Ordering::Relaxed),
        failed_file,
        seconds,
        target_rate: options.rate,
        latency: Latencies::of(latencies),
        stopped,
    })
}
