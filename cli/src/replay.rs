//! `eventlake replay`: emulates the Firehose delivery stream on one machine. Raw events, one
//! per line, are batched like the processor's buffer, run through the very transform the
//! Lambda runs, converted to Parquet against the Glue table (or to `format-conversion-failed`),
//! partitioned by the returned keys and written to the lake; rejected records go to
//! `errors/processing-failed/`. `--errors` re-drives the records of earlier error files.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use eventlake_glue_schema::Table;
use eventlake_transform::{partition_keys, transform, InputRecord, Invocation, RecordResult};
use serde_json::json;

use crate::lake::{Converter, LakeWriter, WriteStats, FORMAT_CONVERSION_FAILED, PROCESSING_FAILED};
use crate::store::LakeStore;
use crate::CliError;

/// How replay batches and buffers.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The lake: a directory, or `s3://bucket/prefix` (see [`LakeStore::open`]).
    pub lake: PathBuf,
    /// Processor buffer: event bytes per transform invocation (Firehose: 0.2–3 MB).
    pub batch_bytes: usize,
    /// S3 buffer: a partition's file is written when its JSON records reach this size.
    pub flush_bytes: usize,
    /// Bound on all partition buffers together (the largest is written first beyond it).
    pub memory_bytes: usize,
    /// The delivery stream name used in object names.
    pub stream: String,
    /// The table to convert against.
    pub table: Table,
}

impl ReplayOptions {
    /// Defaults: 1 MiB batches (Firehose's default processor buffer), 64 MiB files (the
    /// minimum S3 buffer with dynamic partitioning), 256 MiB of buffers.
    pub fn new(lake: &Path) -> ReplayOptions {
        ReplayOptions {
            lake: lake.to_path_buf(),
            batch_bytes: 1024 * 1024,
            flush_bytes: 64 * 1024 * 1024,
            memory_bytes: 256 * 1024 * 1024,
            stream: "eventlake-local".into(),
            table: Table::embedded().clone(),
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplaySummary {
    /// Records read.
    pub records: u64,
    /// Event bytes read.
    pub bytes_in: u64,
    /// Transform invocations.
    pub invocations: u64,
    /// Records the transform returned `Ok`.
    pub ok: u64,
    /// In-batch duplicates (`Dropped`).
    pub dropped: u64,
    /// `ProcessingFailed` by reason code.
    pub rejected: BTreeMap<String, u64>,
    /// `Ok` records that did not convert to the table.
    pub conversion_failed: u64,
    /// Parquet output.
    pub written: WriteStats,
    /// Error objects written.
    pub error_files: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Time in the transform (including building its invocations).
    pub transform_time: Duration,
    /// Time converting transformed records to rows (the record-format conversion).
    pub convert_time: Duration,
    /// Time encoding and writing Parquet and error files.
    pub write_time: Duration,
}

impl ReplaySummary {
    /// Records rejected by the transform.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// A few readable lines.
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "records in:          {}\n  ok:                {}\n  duplicates dropped: {}\n  rejected:          {}\n",
            self.records,
            self.ok,
            self.dropped,
            self.rejected_total()
        );
        for (code, n) in &self.rejected {
            s.push_str(&format!("    {code}: {n}\n"));
        }
        s.push_str(&format!(
            "  conversion failed: {}\nrows written:        {} in {} Parquet files, {:.1} MB\nerror files:         {}\ninvocations:         {}\ntime:                {:.2} s, {:.0} events/s, {:.1} MB/s\n  transform {:.2} s, convert {:.2} s, Parquet {:.2} s, reading and the rest {:.2} s\n",
            self.conversion_failed,
            self.written.rows,
            self.written.files,
            self.written.bytes as f64 / 1e6,
            self.error_files,
            self.invocations,
            secs,
            self.records as f64 / secs,
            self.bytes_in as f64 / 1e6 / secs,
            self.transform_time.as_secs_f64(),
            self.convert_time.as_secs_f64(),
            self.write_time.as_secs_f64(),
            (self.elapsed.saturating_sub(self.transform_time + self.convert_time + self.write_time)).as_secs_f64(),
        ));
        s
    }
}

/// Error records waiting to be written, per error type and arrival hour.
#[derive(Default)]
struct ErrorSink {
    lines: BTreeMap<(&'static str, String), Vec<String>>,
}

impl ErrorSink {
    fn push(&mut self, kind: &'static str, hour_path: String, line: String) {
        self.lines.entry((kind, hour_path)).or_default().push(line);
    }

    fn finish(self, writer: &mut LakeWriter) -> Result<u64, CliError> {
        let mut files = 0;
        for ((kind, hour), lines) in self.lines {
            let name = writer.object_name();
            let key = format!("{}{kind}/{hour}/{name}", writer.table().storage.errors_prefix);
            let mut text = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
            for l in &lines {
                text.extend_from_slice(l.as_bytes());
                text.push(b'\n');
            }
            writer.store().put(&key, text)?;
            files += 1;
        }
        Ok(files)
    }
}

/// A transformed batch on its way from the transform stage to the delivery stage.
struct TransformedBatch {
    records: Vec<eventlake_transform::ResponseRecord>,
    /// (reason code, reason) of each `ProcessingFailed` record, by index.
    reasons: BTreeMap<usize, (&'static str, String)>,
    arrival_ms: i64,
    hour: String,
}

/// Stage 1: batches events like the processor buffer and invokes the transform.
struct Batcher {
    limit: usize,
    stream: String,
    batch: Vec<Vec<u8>>,
    bytes: usize,
    next_id: u64,
    records: u64,
    bytes_in: u64,
    invocations: u64,
    transform_time: Duration,
}

impl Batcher {
    fn new(options: &ReplayOptions) -> Batcher {
        Batcher {
            limit: options.batch_bytes,
            stream: options.stream.clone(),
            batch: Vec::new(),
            bytes: 0,
            next_id: 0,
            records: 0,
            bytes_in: 0,
            invocations: 0,
            transform_time: Duration::ZERO,
        }
    }

    /// Adds an event; returns a transformed batch when the buffer is full.
    fn push(&mut self, event: Vec<u8>) -> Result<Option<TransformedBatch>, CliError> {
        self.records += 1;
        self.bytes_in += event.len() as u64;
        self.bytes += event.len();
        self.batch.push(event);
        if self.bytes >= self.limit {
            return self.invoke();
        }
        Ok(None)
    }

    /// Runs the transform on the current batch, as Firehose invokes the Lambda.
    fn invoke(&mut self) -> Result<Option<TransformedBatch>, CliError> {
        if self.batch.is_empty() {
            return Ok(None);
        }
        let started = Instant::now();
        let arrival = chrono::Utc::now();
        let data: Vec<String> = self.batch.iter().map(|e| STANDARD.encode(e)).collect();
        let first = self.next_id;
        self.next_id += data.len() as u64;
        let ids: Vec<String> = (first..self.next_id).map(|n| format!("{:020}", n + 1)).collect();
        let invocation = Invocation {
            invocation_id: format!("local-{}", self.invocations).into(),
            delivery_stream_arn: format!("arn:aws:firehose:local:000000000000:deliverystream/{}", self.stream).into(),
            source_kinesis_stream_arn: None,
            region: None,
            records: ids
                .iter()
                .zip(&data)
                .map(|(id, d)| InputRecord {
                    record_id: id.as_str().into(),
                    data: d.as_str().into(),
                })
                .collect(),
        };
        let out = transform(&invocation)?;
        self.invocations += 1;
        let reasons = out
            .report
            .rejections
            .iter()
            .map(|r| (r.index, (r.error.code(), r.error.to_string())))
            .collect();
        self.batch.clear();
        self.bytes = 0;
        self.transform_time += started.elapsed();
        Ok(Some(TransformedBatch {
            records: out.response.records,
            reasons,
            arrival_ms: arrival.timestamp_millis(),
            hour: arrival.format("%Y/%m/%d/%H").to_string(),
        }))
    }
}

/// Stage 2: the record-format conversion, partition buffers, Parquet and error objects.
struct Sink {
    table: Table,
    converter: Converter,
    writer: LakeWriter,
    errors: ErrorSink,
    summary: ReplaySummary,
}

impl Sink {
    fn new(options: &ReplayOptions) -> Result<Sink, CliError> {
        let writer = LakeWriter::new(
            LakeStore::open(&options.lake)?,
            options.table.clone(),
            &options.stream,
            options.flush_bytes,
            options.memory_bytes,
        )?;
        Ok(Sink {
            table: options.table.clone(),
            converter: Converter::new(&options.table),
            writer,
            errors: ErrorSink::default(),
            summary: ReplaySummary::default(),
        })
    }

    fn handle(&mut self, batch: TransformedBatch) -> Result<(), CliError> {
        for (i, rec) in batch.records.iter().enumerate() {
            match rec.result {
                RecordResult::Dropped => self.summary.dropped += 1,
                RecordResult::ProcessingFailed => {
                    let (code, reason) = batch.reasons.get(&i).cloned().unwrap_or(("unknown", String::new()));
                    *self.summary.rejected.entry(code.to_string()).or_insert(0) += 1;
                    let line = json!({
                        "attemptsMade": 1,
                        "arrivalTimestamp": batch.arrival_ms,
                        "errorCode": "Lambda.ProcessingFailedStatus",
                        "errorMessage": "ProcessingFailed status set for record",
                        "attemptEndingTimestamp": chrono::Utc::now().timestamp_millis(),
                        "rawData": rec.data,
                        "lambdaARN": "local:eventlake-transform",
                        "reason": reason,
                        "reasonCode": code,
                    });
                    self.errors
                        .push(PROCESSING_FAILED, batch.hour.clone(), line.to_string());
                }
                RecordResult::Ok => {
                    self.summary.ok += 1;
                    let keys = &rec
                        .metadata
                        .as_ref()
                        .expect("Ok records carry partition keys")
                        .partition_keys;
                    let record = STANDARD.decode(&rec.data).map_err(|e| CliError::Lake(e.to_string()))?;
                    self.deliver(&record, keys, batch.arrival_ms, &batch.hour, &rec.record_id)?;
                }
            }
        }
        Ok(())
    }

    /// Record-format conversion and delivery of one transformed record.
    fn deliver(
        &mut self,
        record: &[u8],
        keys: &eventlake_transform::PartitionKeys,
        arrival_ms: i64,
        hour: &str,
        record_id: &str,
    ) -> Result<(), CliError> {
        let t_convert = Instant::now();
        let converted = self.converter.convert(record);
        self.summary.convert_time += t_convert.elapsed();
        match converted {
            Ok(row) => {
                let t_write = Instant::now();
                let pushed = self.writer.push(keys, row, record.len());
                self.summary.write_time += t_write.elapsed();
                pushed
            }
            Err(message) => {
                self.summary.conversion_failed += 1;
                let line = json!({
                    "attemptsMade": 1,
                    "arrivalTimestamp": arrival_ms,
                    "ErrorCode": "DataFormatConversion.MalformedData",
                    "ErrorMessage": message,
                    "attemptEndingTimestamp": chrono::Utc::now().timestamp_millis(),
                    "rawData": STANDARD.encode(record),
                    "sequenceNumber": record_id,
                    "subSequenceNumber": 0,
                    "dataCatalogTable": { "databaseName": self.table.database, "tableName": self.table.name },
                });
                self.errors
                    .push(FORMAT_CONVERSION_FAILED, hour.to_string(), line.to_string());
                Ok(())
            }
        }
    }

    fn finish(mut self, batcher: &Batcher, started: Instant) -> Result<ReplaySummary, CliError> {
        let t_write = Instant::now();
        self.summary.written = self.writer.finish()?;
        self.summary.error_files = self.errors.finish(&mut self.writer)?;
        self.summary.write_time += t_write.elapsed();
        let mut s = self.summary;
        s.records += batcher.records;
        s.bytes_in += batcher.bytes_in;
        s.invocations = batcher.invocations;
        s.transform_time = batcher.transform_time;
        s.elapsed = started.elapsed();
        Ok(s)
    }
}

/// Replays raw events, one per line (a trailing `\n` is not part of the event; every other
/// byte is, so a blank or broken line becomes a rejected record, never a skipped one).
/// The transform and the delivery (conversion, Parquet) run on two threads.
/// `progress` is called now and then with (records read, bytes read).
pub fn replay(
    input: &mut impl BufRead,
    options: ReplayOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<ReplaySummary, CliError> {
    let started = Instant::now();
    let mut batcher = Batcher::new(&options);
    let mut sink = Sink::new(&options)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<TransformedBatch>(4);
    std::thread::scope(|scope| {
        let delivery = scope.spawn(move || -> Result<Sink, CliError> {
            for batch in rx {
                sink.handle(batch)?;
            }
            Ok(sink)
        });
        let read = (|| -> Result<(), CliError> {
            let mut line = Vec::new();
            let mut read = 0u64;
            loop {
                line.clear();
                let n = input
                    .read_until(b'\n', &mut line)
                    .map_err(|source| CliError::ReadInput {
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
                if let Some(batch) = batcher.push(line.clone())? {
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
        let sink = delivery
            .join()
            .map_err(|_| CliError::Lake("the delivery stage panicked".into()))??;
        read?;
        sink.finish(&batcher, started)
    })
}

/// Re-drives the records of error files under `errors_dir` (a lake's `errors/` or one of
/// its subfolders): `processing-failed` records go through the transform again,
/// `format-conversion-failed` records through the conversion again. Each error file read is
/// renamed to `<name>.redriven`, so a second re-drive does not repeat it; records that fail
/// again land in new error files.
pub fn redrive(errors_dir: &Path, options: ReplayOptions) -> Result<ReplaySummary, CliError> {
    let started = Instant::now();
    let mut files = Vec::new();
    collect_files(errors_dir, &mut files).map_err(|source| CliError::ReadInput {
        path: errors_dir.to_path_buf(),
        source,
    })?;
    files.sort();
    let mut batcher = Batcher::new(&options);
    let mut sink = Sink::new(&options)?;
    let now = chrono::Utc::now();
    let hour = now.format("%Y/%m/%d/%H").to_string();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|source| CliError::ReadInput {
            path: file.clone(),
            source,
        })?;
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let bad = |why: &str| {
                CliError::Lake(format!(
                    "{}:{}: not a Firehose error record: {why}",
                    file.display(),
                    n + 1
                ))
            };
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
            let raw = STANDARD
                .decode(v["rawData"].as_str().ok_or_else(|| bad("no rawData"))?)
                .map_err(|e| bad(&e.to_string()))?;
            if v.get("ErrorCode").is_some() {
                // A transformed record that did not convert: convert it again.
                let record: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| bad(&e.to_string()))?;
                let event_type = record["event_type"].as_str().unwrap_or_default();
                let created_at = record["created_at"].as_u64().unwrap_or_default();
                sink.summary.records += 1;
                sink.summary.ok += 1;
                sink.deliver(
                    &raw,
                    &partition_keys(event_type, created_at),
                    now.timestamp_millis(),
                    &hour,
                    "redrive",
                )?;
            } else if let Some(batch) = batcher.push(raw)? {
                sink.handle(batch)?;
            }
        }
    }
    if let Some(batch) = batcher.invoke()? {
        sink.handle(batch)?;
    }
    let summary = sink.finish(&batcher, started)?;
    for file in &files {
        let mut done = file.clone().into_os_string();
        done.push(".redriven");
        std::fs::rename(file, &done).map_err(|source| CliError::WriteFile {
            path: file.clone(),
            source,
        })?;
    }
    Ok(summary)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if !name.starts_with('.') && !name.ends_with(".redriven") {
            out.push(path);
        }
    }
    Ok(())
}
