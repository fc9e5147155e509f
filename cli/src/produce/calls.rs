//! The PutRecords calls: sending a batch, retrying what failed, classifying errors, the failed-events file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_kinesis::Client;

use super::pacing::Backoff;
use super::records::{Batch, Record};
use super::summary::Progress;
use super::ProduceOptions;
use crate::CliError;

/// The failed-events file: JSON lines `{"reason": …, "event": …}`, created on first use.
pub(super) struct FailedEvents {
    pub(super) path: PathBuf,
    pub(super) file: Option<std::io::BufWriter<std::fs::File>>,
}

impl FailedEvents {
    pub(super) fn write(&mut self, event: &[u8], reason: &str) -> Result<(), CliError> {
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

    pub(super) fn finish(&mut self) -> Result<Option<PathBuf>, CliError> {
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
pub(super) struct Shared {
    pub(super) client: Client,
    pub(super) options: ProduceOptions,
    pub(super) progress: Arc<Progress>,
    pub(super) failed: Mutex<FailedEvents>,
    pub(super) latencies: Mutex<Vec<u32>>,
    /// Set when the run must stop: a fatal error (its message) or an interrupt.
    pub(super) stop: AtomicBool,
    pub(super) fatal: Mutex<Option<String>>,
    pub(super) calls: AtomicU64,
    pub(super) calls_retried: AtomicU64,
    pub(super) records: AtomicU64,
    pub(super) bytes: AtomicU64,
}

impl Shared {
    pub(super) fn fail_record(&self, record: &Record, reason: &str) -> Result<(), CliError> {
        let mut failed = self.failed.lock().expect("failed-events lock");
        for event in record.event_lines() {
            failed.write(event, reason)?;
        }
        self.progress.failed.fetch_add(record.events as u64, Ordering::Relaxed);
        Ok(())
    }

    pub(super) fn set_fatal(&self, message: String) {
        let mut fatal = self.fatal.lock().expect("fatal lock");
        if fatal.is_none() {
            *fatal = Some(message);
        }
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// How a failed call is handled.
pub(super) enum CallFailure {
    /// Throttling, a server error or a network problem: send again after a backoff.
    Retryable(String),
    /// Anything else (no such stream, access denied, bad request): stop the run.
    Fatal(String),
}

/// An SDK error as one line: `Code: message` for errors Kinesis returned, else the error
/// and its causes (connection refused, no credentials, timeout…).
pub(super) fn error_line<E, R>(error: &SdkError<E, R>) -> String
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

pub(super) fn classify<E, R>(error: &SdkError<E, R>) -> CallFailure
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
pub(super) async fn send_batch(shared: &Shared, batch: Batch, backoff: &mut Backoff) -> Result<(), CliError> {
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
