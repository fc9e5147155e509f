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

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;

use crate::CliError;

/// Records per `PutRecords` call (the API's limit).
pub const MAX_RECORDS_PER_CALL: usize = 500;
/// Bytes per `PutRecords` call, data and partition keys together (the API's limit: 5 MiB).
pub const MAX_BYTES_PER_CALL: usize = 5 * 1024 * 1024;
/// Bytes per record, data and partition key together (the stream default: 1 MiB).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Events per record at most with `--pack` (Firehose's multi-record deaggregation limit).
pub const MAX_PACK: usize = 500;
/// Characters in a partition key at most (the API's limit).
const MAX_PARTITION_KEY_CHARS: usize = 256;

/// One Kinesis record: one event, or several separated by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record's data.
    pub data: Vec<u8>,
    /// Its partition key: the first event's `event_uuid` when it has one (an event and its
    /// duplicates land on one shard), else the event's position in the input.
    pub partition_key: String,
    /// How many events the data holds.
    pub events: usize,
}

impl Record {
    /// Bytes this record counts against the record and request limits.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }

    /// The events in the record, as they were given.
    pub fn event_lines(&self) -> impl Iterator<Item = &[u8]> {
        self.data.split(|&b| b == b'\n')
    }
}

/// An event that cannot be sent, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsendable {
    /// The event as given.
    pub event: String,
    /// Why it cannot be sent.
    pub reason: String,
}

/// The partition key for an event: its `event_uuid` if it has a usable one, else `fallback`.
pub fn partition_key(event: &str, fallback: u64) -> String {
    #[derive(serde::Deserialize)]
    struct Key<'a> {
        #[serde(borrow)]
        event_uuid: Option<&'a str>,
    }
    match serde_json::from_str::<Key>(event) {
        Ok(Key { event_uuid: Some(uuid) }) if !uuid.is_empty() && uuid.chars().count() <= MAX_PARTITION_KEY_CHARS => {
            uuid.to_string()
        }
        _ => fallback.to_string(),
    }
}

/// Packs events into records of up to `pack` events and [`MAX_RECORD_BYTES`].
#[derive(Debug)]
pub struct Packer {
    pack: usize,
    open: Option<Record>,
    seen: u64,
}

impl Packer {
    /// A packer putting up to `pack` (1 to [`MAX_PACK`]) events in a record.
    pub fn new(pack: usize) -> Packer {
        Packer {
            pack: pack.clamp(1, MAX_PACK),
            open: None,
            seen: 0,
        }
    }

    /// Adds one event; returns a record when one is complete, or the event back if it is too
    /// large for any record.
    pub fn push(&mut self, event: String) -> Result<Option<Record>, Unsendable> {
        self.seen += 1;
        let key = partition_key(&event, self.seen);
        if event.len() + key.len() > MAX_RECORD_BYTES {
            return Err(Unsendable {
                reason: format!(
                    "event is {} bytes; a Kinesis record holds at most {MAX_RECORD_BYTES} bytes with its partition key",
                    event.len()
                ),
                event,
            });
        }
        let record = Record {
            data: event.into_bytes(),
            partition_key: key,
            events: 1,
        };
        if self.pack == 1 {
            return Ok(Some(record));
        }
        if let Some(open) = &mut self.open {
            if open.size() + 1 + record.data.len() <= MAX_RECORD_BYTES {
                open.data.push(b'\n');
                open.data.extend_from_slice(&record.data);
                open.events += 1;
                return Ok(if open.events == self.pack {
                    self.open.take()
                } else {
                    None
                });
            }
        }
        Ok(self.open.replace(record))
    }

    /// The last, partly filled record.
    pub fn finish(&mut self) -> Option<Record> {
        self.open.take()
    }
}

/// Records for one `PutRecords` call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The records, in order.
    pub records: Vec<Record>,
    /// Events in them.
    pub events: usize,
    /// Bytes counted against the request limit.
    pub bytes: usize,
}

impl Batch {
    /// Whether `record` fits without breaking the call limits or `max_events` (a batch always
    /// takes its first record).
    pub fn fits(&self, record: &Record, max_events: usize) -> bool {
        self.records.is_empty()
            || (self.records.len() < MAX_RECORDS_PER_CALL
                && self.bytes + record.size() <= MAX_BYTES_PER_CALL
                && self.events + record.events <= max_events)
    }

    /// Adds a record.
    pub fn push(&mut self, record: Record) {
        self.events += record.events;
        self.bytes += record.size();
        self.records.push(record);
    }
}

/// Events per batch at most so that a paced run sends about 20 calls a second, not one
/// burst of 500 records every few seconds.
pub fn max_batch_events(rate: Option<f64>, pack: usize) -> usize {
    let most = MAX_RECORDS_PER_CALL * pack.clamp(1, MAX_PACK);
    match rate {
        Some(r) => ((r / 20.0) as usize).clamp(1, most),
        None => most,
    }
}

/// When the batch that brings the total to `events` may go, at `rate` events per second.
pub fn due(start: Instant, events: u64, rate: Option<f64>) -> Instant {
    match rate {
        Some(r) if r > 0.0 => start + Duration::from_secs_f64(events as f64 / r),
        _ => start,
    }
}

/// Capped exponential backoff with full jitter: a random delay up to
/// `min(cap, base · 2^attempt)`.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The first ceiling.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
    rng: crate::generate::Rng,
}

impl Backoff {
    /// Backoff from `base` doubling up to `cap`.
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff {
            base,
            cap,
            rng: crate::generate::Rng::new(seed),
        }
    }

    /// The delay before retry number `attempt` (1 for the first retry).
    pub fn delay(&mut self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cap);
        let micros = ceiling.as_micros() as u64;
        Duration::from_micros(if micros == 0 { 0 } else { self.rng.below(micros + 1) })
    }
}

/// Latency percentiles of `PutRecords` calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    /// Calls measured.
    pub calls: usize,
    /// Median, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// Slowest, ms.
    pub max: f64,
}

impl Latencies {
    /// Nearest-rank percentiles of `samples` (microseconds).
    pub fn of(mut samples: Vec<u32>) -> Latencies {
        if samples.is_empty() {
            return Latencies::default();
        }
        samples.sort_unstable();
        let at = |p: f64| {
            let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            f64::from(samples[rank.clamp(1, samples.len()) - 1]) / 1000.0
        };
        Latencies {
            calls: samples.len(),
            p50: at(50.0),
            p90: at(90.0),
            p99: at(99.0),
            max: f64::from(samples[samples.len() - 1]) / 1000.0,
        }
    }
}

/// What a run sent, retried and could not send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProduceSummary {
    /// The stream.
    pub stream: String,
    /// Events read from the source.
    pub read: u64,
    /// Events the stream accepted.
    pub accepted: u64,
    /// Kinesis records accepted (events / pack).
    pub records: u64,
    /// Data bytes accepted.
    pub bytes: u64,
    /// `PutRecords` calls made (retries included).
    pub calls: u64,
    /// Calls throttled or failed as a whole and made again.
    pub calls_retried: u64,
    /// Records sent again after a failed entry.
    pub records_retried: u64,
    /// Events written to the failed-events file.
    pub failed: u64,
    /// Where failed events went (only when there were any).
    pub failed_file: Option<PathBuf>,
    /// Seconds from the first call to the last answer.
    pub seconds: f64,
    /// The target rate, events per second.
    pub target_rate: Option<f64>,
    /// Latency of the calls.
    pub latency: Latencies,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
}

impl ProduceSummary {
    /// Events accepted per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.accepted as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The summary as printed by the command.
    pub fn render(&self) -> String {
        let target = self
            .target_rate
            .map_or_else(|| "as fast as possible".to_string(), |r| format!("target {r:.0}/s"));
        let mut s = format!(
            "produced to {}: {} events accepted in {:.1} s = {:.0} events/s ({target})\n",
            self.stream,
            self.accepted,
            self.seconds,
            self.rate()
        );
        s += &format!(
            "  read {}  accepted {}  failed {}  records {}  {:.1} MB\n",
            self.read,
            self.accepted,
            self.failed,
            self.records,
            self.bytes as f64 / 1e6
        );
        s += &format!(
            "  PutRecords calls {}  retried calls {}  retried records {}\n",
            self.calls, self.calls_retried, self.records_retried
        );
        let l = &self.latency;
        s += &format!(
            "  PutRecords latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}\n",
            l.p50, l.p90, l.p99, l.max
        );
        if let Some(path) = &self.failed_file {
            s += &format!("  failed events with reasons: {}\n", path.display());
        }
        if let Some(why) = &self.stopped {
            s += &format!("  stopped early: {why}\n");
        }
        s
    }
}

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

/// Counters shared by the reader and the workers, read by the progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Events read.
    pub read: AtomicU64,
    /// Events accepted.
    pub accepted: AtomicU64,
    /// Events failed.
    pub failed: AtomicU64,
    /// Records re-sent.
    pub retried: AtomicU64,
}

/// The failed-events file: JSON lines `{"reason": …, "event": …}`, created on first use.
struct FailedEvents {
    path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl FailedEvents {
    fn write(&mut self, event: &[u8], reason: &str) -> Result<(), CliError> {
        let err = |source| CliError::WriteFile {
            path: self.path.clone(),
            source,
        };
        if self.file.is_none() {
            self.file = Some(std::io::BufWriter::new(std::fs::File::create(&self.path).map_err(err)?));
        }
        let line = serde_json::json!({ "reason": reason, "event": String::from_utf8_lossy(event) });
        let file = self.file.as_mut().expect("opened above");
        writeln!(file, "{line}").map_err(err)
    }

    fn finish(&mut self) -> Result<Option<PathBuf>, CliError> {
        match self.file.take() {
            Some(mut f) => {
                f.flush().map_err(|source| CliError::WriteFile {
                    path: self.path.clone(),
                    source,
                })?;
                Ok(Some(self.path.clone()))
            }
            None => Ok(None),
        }
    }
}

/// State the workers share.
struct Shared {
    client: Client,
    options: ProduceOptions,
    progress: Arc<Progress>,
    failed: Mutex<FailedEvents>,
    latencies: Mutex<Vec<u32>>,
    /// Set when the run must stop: a fatal error (its message) or an interrupt.
    stop: AtomicBool,
    fatal: Mutex<Option<String>>,
    calls: AtomicU64,
    calls_retried: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
}

impl Shared {
    fn fail_record(&self, record: &Record, reason: &str) -> Result<(), CliError> {
        let mut failed = self.failed.lock().expect("failed-events lock");
        for event in record.event_lines() {
            failed.write(event, reason)?;
        }
        self.progress.failed.fetch_add(record.events as u64, Ordering::Relaxed);
        Ok(())
    }

    fn set_fatal(&self, message: String) {
        let mut fatal = self.fatal.lock().expect("fatal lock");
        if fatal.is_none() {
            *fatal = Some(message);
        }
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// How a failed call is handled.
enum CallFailure {
    /// Throttling, a server error or a network problem: send again after a backoff.
    Retryable(String),
    /// Anything else (no such stream, access denied, bad request): stop the run.
    Fatal(String),
}

/// An SDK error as one line: `Code: message` for errors Kinesis returned, else the error
/// and its causes (connection refused, no credentials, timeout…).
fn error_line<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (error, error.code(), error.message()) {
        (SdkError::ServiceError(_), Some(code), Some(message)) => format!("{code}: {message}"),
        (SdkError::ServiceError(_), Some(code), None) => code.to_string(),
        _ => {
            let mut line = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                line = format!("{line}: {cause}");
                source = cause.source();
            }
            let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
            if line.contains("no credentials found") {
                format!(
                    "{line} (set AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
                )
            } else {
                line
            }
        }
    }
}

fn classify<E, R>(error: &SdkError<E, R>) -> CallFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = error_line(error);
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            CallFailure::Retryable(message)
        }
        SdkError::ServiceError(e) => {
            let retryable = matches!(
                e.err().code(),
                Some(
                    "ProvisionedThroughputExceededException"
                        | "LimitExceededException"
                        | "KMSThrottlingException"
                        | "InternalFailure"
                        | "InternalFailureException"
                        | "ServiceUnavailable"
                        | "ServiceUnavailableException"
                        | "ThrottlingException"
                )
            );
            if retryable {
                CallFailure::Retryable(message)
            } else {
                CallFailure::Fatal(message)
            }
        }
        _ => CallFailure::Fatal(message),
    }
}

/// Sends one batch until every record is accepted, has failed `max_attempts` times, or the
/// run stops.
async fn send_batch(shared: &Shared, batch: Batch, backoff: &mut Backoff) -> Result<(), CliError> {
    let options = &shared.options;
    let mut pending: Vec<(Record, u32)> = batch.records.into_iter().map(|r| (r, 0)).collect();
    let mut call_attempt = 0u32;
    while !pending.is_empty() {
        if let Some(fatal) = shared.fatal.lock().expect("fatal lock").clone() {
            for (record, _) in &pending {
                shared.fail_record(record, &format!("not sent: the run stopped ({fatal})"))?;
            }
            return Ok(());
        }
        let entries = pending
            .iter()
            .map(|(r, _)| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(r.data.clone()))
                    .partition_key(&r.partition_key)
                    .build()
                    .expect("data and partition key are set")
            })
            .collect::<Vec<_>>();
        let mut request = shared.client.put_records().set_records(Some(entries));
        request = if options.stream.starts_with("arn:") {
            request.stream_arn(&options.stream)
        } else {
            request.stream_name(&options.stream)
        };
        for (_, attempts) in &mut pending {
            *attempts += 1;
        }
        let started = Instant::now();
        let result = request.send().await;
        let micros = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        shared.latencies.lock().expect("latency lock").push(micros);
        shared.calls.fetch_add(1, Ordering::Relaxed);
        let result = match result {
            // One result per record, in order, is the API's promise; anything else is retried
            // whole rather than trusted (records may then arrive twice, never not at all).
            Ok(output) if output.records().len() != pending.len() => Err(CallFailure::Retryable(format!(
                "PutRecords answered {} results for {} records",
                output.records().len(),
                pending.len()
            ))),
            Ok(output) => Ok(output),
            Err(error) => Err(classify(&error)),
        };
        match result {
            Ok(output) => {
                call_attempt = 0;
                let mut retry = Vec::new();
                let mut last_error = None;
                for ((record, attempts), entry) in pending.drain(..).zip(output.records()) {
                    match entry.error_code() {
                        None => {
                            shared.records.fetch_add(1, Ordering::Relaxed);
                            shared.bytes.fetch_add(record.data.len() as u64, Ordering::Relaxed);
                            shared
                                .progress
                                .accepted
                                .fetch_add(record.events as u64, Ordering::Relaxed);
                        }
                        Some(code) => {
                            let reason = format!("{code}: {}", entry.error_message().unwrap_or("no message"));
                            if attempts >= options.max_attempts {
                                shared.fail_record(&record, &format!("failed {attempts} times, last: {reason}"))?;
                            } else {
                                last_error = Some(reason);
                                retry.push((record, attempts));
                            }
                        }
                    }
                }
                if retry.is_empty() {
                    continue;
                }
                let attempt = retry.iter().map(|(_, a)| *a).max().unwrap_or(1);
                shared.progress.retried.fetch_add(retry.len() as u64, Ordering::Relaxed);
                tracing::debug!(records = retry.len(), error = last_error, "retrying failed entries");
                pending = retry;
                tokio::time::sleep(backoff.delay(attempt)).await;
            }
            Err(failure) => match failure {
                CallFailure::Fatal(message) => {
                    shared.set_fatal(message.clone());
                    for (record, _) in &pending {
                        shared.fail_record(record, &format!("not sent: {message}"))?;
                    }
                    return Ok(());
                }
                CallFailure::Retryable(message) => {
                    call_attempt += 1;
                    let mut keep = Vec::new();
                    for (record, attempts) in pending.drain(..) {
                        if attempts >= options.max_attempts {
                            shared.fail_record(&record, &format!("failed {attempts} times, last: {message}"))?;
                        } else {
                            keep.push((record, attempts));
                        }
                    }
                    pending = keep;
                    if !pending.is_empty() {
                        shared.calls_retried.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(error = message, "retrying call");
                        tokio::time::sleep(backoff.delay(call_attempt)).await;
                    }
                }
            },
        }
    }
    Ok(())
}

/// The SDK's HTTP client with rustls on ring (the TLS stack object_store already builds).
pub fn http_client() -> aws_sdk_kinesis::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// A Kinesis client from the standard AWS configuration chain (environment, profiles, SSO,
/// container and instance roles), with `region` and `endpoint_url` overriding it. The SDK's own
/// retries are off: [`produce`] retries and counts every call itself.
pub async fn client(region: Option<&str>, endpoint_url: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(aws_config::retry::RetryConfig::disabled());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    Client::new(&loader.load().await)
}

/// What the stream looks like before the run: open shards and capacity mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Open shards.
    pub shards: i32,
    /// `PROVISIONED` or `ON_DEMAND`.
    pub mode: String,
}

/// Checks that the stream exists and is writable before any event is read.
pub async fn describe(client: &Client, stream: &str) -> Result<StreamInfo, CliError> {
    let request = client.describe_stream_summary();
    let request = if stream.starts_with("arn:") {
        request.stream_arn(stream)
    } else {
        request.stream_name(stream)
    };
    let summary = request
        .send()
        .await
        .map_err(|e| CliError::Produce(format!("stream {stream}: {}", error_line(&e))))?;
    let description = summary.stream_description_summary().ok_or_else(|| {
        CliError::Produce(format!(
            "stream {stream}: DescribeStreamSummary returned no description"
        ))
    })?;
    let status = description.stream_status().as_str();
    if status != "ACTIVE" && status != "UPDATING" {
        return Err(CliError::Produce(format!(
            "stream {stream} is {status}; it takes records when ACTIVE"
        )));
    }
    Ok(StreamInfo {
        shards: description.open_shard_count(),
        mode: description
            .stream_mode_details()
            .map_or_else(|| "PROVISIONED".to_string(), |m| m.stream_mode().as_str().to_string()),
    })
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

/// How long a quiet input may leave events buffered before they are sent anyway.
const IDLE_FLUSH: Duration = Duration::from_millis(200);

/// One step of reading the source.
enum NextEvent {
    /// The next event.
    Event(String),
    /// Nothing arrived for [`IDLE_FLUSH`] ([`Source::Live`] only).
    Idle,
    /// The source is exhausted.
    End,
}

/// The events of a [`Source`]. Generated events are made on demand, just before they are
/// sent, so their `created_at` is the sending time.
enum EventSource {
    Generated(crate::generate::Generator<'static>),
    Lines(std::io::Lines<Box<dyn std::io::BufRead + Send>>),
    Live(std::sync::mpsc::Receiver<std::io::Result<String>>),
}

impl EventSource {
    fn new(source: Source) -> EventSource {
        match source {
            Source::Generated(options) => EventSource::Generated(crate::generate::Generator::new(
                eventlake_glue_schema::Catalog::embedded(),
                options,
            )),
            Source::Lines(reader) => EventSource::Lines(std::io::BufRead::lines(reader)),
            Source::Live(reader) => {
                let (tx, rx) = std::sync::mpsc::sync_channel(4096);
                std::thread::spawn(move || {
                    for line in std::io::BufRead::lines(reader) {
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                });
                EventSource::Live(rx)
            }
        }
    }

    /// The next non-blank line or generated event.
    fn next(&mut self) -> Result<NextEvent, CliError> {
        let read_error = |source| CliError::ReadInput {
            path: PathBuf::from("--input"),
            source,
        };
        loop {
            let line = match self {
                EventSource::Generated(g) => return Ok(g.next().map_or(NextEvent::End, NextEvent::Event)),
                EventSource::Lines(lines) => match lines.next() {
                    Some(line) => line.map_err(read_error)?,
                    None => return Ok(NextEvent::End),
                },
                EventSource::Live(rx) => match rx.recv_timeout(IDLE_FLUSH) {
                    Ok(line) => line.map_err(read_error)?,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return Ok(NextEvent::Idle),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(NextEvent::End),
                },
            };
            if !line.trim().is_empty() {
                return Ok(NextEvent::Event(line));
            }
        }
    }
}

/// The reader: events from the source → records → paced batches for the workers.
fn read_batches(
    source: Source,
    shared: &Shared,
    interrupt: &AtomicBool,
    started: Instant,
    tx: tokio::sync::mpsc::Sender<Batch>,
) -> Result<(), CliError> {
    let options = &shared.options;
    let mut source = EventSource::new(source);
    let max_events = max_batch_events(options.rate, options.pack);
    let mut packer = Packer::new(options.pack);
    let mut batch = Batch::default();
    let mut queued: u64 = 0;
    let mut send = |batch: Batch| -> bool {
        queued += batch.events as u64;
        let at = due(started, queued, options.rate);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        tx.blocking_send(batch).is_ok()
    };
    // Adds a record to the open batch, sending the batch first when the record does not fit;
    // false when the workers are gone.
    let enqueue = |batch: &mut Batch, record: Record, send: &mut dyn FnMut(Batch) -> bool| -> bool {
        if !batch.fits(&record, max_events) && !send(std::mem::take(batch)) {
            return false;
        }
        batch.push(record);
        true
    };
    let mut read: u64 = 0;
    let stop = || {
        interrupt.load(Ordering::SeqCst)
            || shared.stop.load(Ordering::SeqCst)
            || options.duration.is_some_and(|d| started.elapsed() >= d)
    };
    loop {
        if options.events.is_some_and(|n| read >= n) || stop() {
            break;
        }
        let event = match source.next()? {
            NextEvent::Event(event) => event,
            NextEvent::End => break,
            NextEvent::Idle => {
                // A quiet input (a pipe): send what is buffered instead of waiting for more.
                if let Some(record) = packer.finish() {
                    if !enqueue(&mut batch, record, &mut send) {
                        break;
                    }
                }
                if !batch.records.is_empty() && !send(std::mem::take(&mut batch)) {
                    break;
                }
                continue;
            }
        };
        read += 1;
        shared.progress.read.store(read, Ordering::Relaxed);
        let record = match packer.push(event) {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(unsendable) => {
                shared.fail_record(
                    &Record {
                        data: unsendable.event.into_bytes(),
                        partition_key: String::new(),
                        events: 1,
                    },
                    &unsendable.reason,
                )?;
                continue;
            }
        };
        if !enqueue(&mut batch, record, &mut send) {
            break;
        }
    }
    if interrupt.load(Ordering::SeqCst) {
        shared.stop.store(true, Ordering::SeqCst);
    }
    if let Some(record) = packer.finish() {
        if !enqueue(&mut batch, record, &mut send) {
            return Ok(());
        }
    }
    if !batch.records.is_empty() {
        send(batch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uuid: &str, filler: usize) -> String {
        format!(
            r#"{{"event_uuid":"{uuid}","event_name":"a:b:c","created_at":1,"x":"{}"}}"#,
            "y".repeat(filler)
        )
    }

    #[test]
    fn partition_key_is_the_uuid_or_the_position() {
        assert_eq!(partition_key(&event("u-1", 0), 7), "u-1");
        assert_eq!(partition_key("not json", 7), "7");
        assert_eq!(partition_key(r#"{"event_uuid":""}"#, 8), "8");
        assert_eq!(partition_key(r#"{"event_uuid":12}"#, 9), "9");
        let long = "u".repeat(257);
        assert_eq!(partition_key(&format!(r#"{{"event_uuid":"{long}"}}"#), 10), "10");
    }

    #[test]
    fn pack_one_makes_one_record_per_event() {
        let mut p = Packer::new(1);
        let r = p.push(event("a", 0)).unwrap().unwrap();
        assert_eq!((r.events, r.partition_key.as_str()), (1, "a"));
        assert_eq!(r.data, event("a", 0).into_bytes());
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn packs_up_to_n_events_separated_by_newlines() {
        let mut p = Packer::new(3);
        assert_eq!(p.push(event("a", 0)).unwrap(), None);
        assert_eq!(p.push(event("b", 0)).unwrap(), None);
        let r = p.push(event("c", 0)).unwrap().unwrap();
        assert_eq!(r.events, 3);
        assert_eq!(r.partition_key, "a");
        let lines: Vec<_> = r
            .event_lines()
            .map(|l| String::from_utf8(l.to_vec()).unwrap())
            .collect();
        assert_eq!(lines, [event("a", 0), event("b", 0), event("c", 0)]);
        assert_eq!(p.push(event("d", 0)).unwrap(), None);
        assert_eq!(p.finish().unwrap().events, 1);
    }

    #[test]
    fn a_record_never_exceeds_one_mib() {
        let mut p = Packer::new(500);
        let big = 400 * 1024;
        assert_eq!(p.push(event("a", big)).unwrap(), None);
        assert_eq!(p.push(event("b", big)).unwrap(), None);
        // The third does not fit: the first two leave as a record, the third starts the next.
        let r = p.push(event("c", big)).unwrap().unwrap();
        assert_eq!(r.events, 2);
        assert!(r.size() <= MAX_RECORD_BYTES);
        assert_eq!(p.finish().unwrap().partition_key, "c");
    }

    #[test]
    fn an_event_too_large_for_any_record_comes_back_with_a_reason() {
        let mut p = Packer::new(1);
        let e = p.push(event("a", MAX_RECORD_BYTES)).unwrap_err();
        assert!(e.reason.contains("at most 1048576 bytes"), "{}", e.reason);
        assert!(e.event.starts_with(r#"{"event_uuid":"a""#));
    }

    #[test]
    fn batches_respect_the_call_limits() {
        let small = Record {
            data: vec![b'x'; 10],
            partition_key: "k".into(),
            events: 1,
        };
        let mut b = Batch::default();
        for _ in 0..MAX_RECORDS_PER_CALL {
            assert!(b.fits(&small, usize::MAX));
            b.push(small.clone());
        }
        assert!(!b.fits(&small, usize::MAX), "501st record");

        let big = Record {
            data: vec![b'x'; MAX_RECORD_BYTES - 1],
            partition_key: "k".into(),
            events: 1,
        };
        let mut b = Batch::default();
        for _ in 0..5 {
            assert!(b.fits(&big, usize::MAX));
            b.push(big.clone());
        }
        assert!(!b.fits(&small, usize::MAX) || b.bytes + small.size() <= MAX_BYTES_PER_CALL);
        assert!(!b.fits(&big, usize::MAX), "over 5 MiB");

        let mut b = Batch::default();
        b.push(small.clone());
        assert!(!b.fits(&small, 1), "event cap");
    }

    #[test]
    fn pacing_spreads_batches_over_time() {
        assert_eq!(max_batch_events(None, 1), 500);
        assert_eq!(max_batch_events(None, 10), 5000);
        assert_eq!(max_batch_events(Some(1000.0), 1), 50);
        assert_eq!(max_batch_events(Some(5.0), 1), 1);
        assert_eq!(max_batch_events(Some(1e9), 2), 1000);
        let t = Instant::now();
        assert_eq!(due(t, 500, Some(1000.0)), t + Duration::from_millis(500));
        assert_eq!(due(t, 500, None), t);
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 1);
        for attempt in 1..40 {
            let ceiling = Duration::from_millis(100 * (1u64 << (attempt - 1).min(20))).min(Duration::from_secs(2));
            let d = b.delay(attempt);
            assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
        }
        let many: Vec<_> = (0..50).map(|_| b.delay(10)).collect();
        assert!(
            many.iter().any(|d| *d > Duration::from_secs(1)),
            "jitter spans the range"
        );
        assert!(many.iter().any(|d| *d < Duration::from_secs(1)));
    }

    #[test]
    fn latency_percentiles_use_nearest_rank() {
        let l = Latencies::of((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!((l.calls, l.p50, l.p90, l.p99, l.max), (100, 50.0, 90.0, 99.0, 100.0));
        assert_eq!(Latencies::of(vec![]), Latencies::default());
        assert_eq!(Latencies::of(vec![2500]).p99, 2.5);
    }
}
