//! Firehose's delivery emulated on one machine: events are batched like the processor
//! buffer into the very request body Firehose sends, answered by the Lambda's own entry point
//! ([`Handler::handle_body`], one handler kept across batches as a warm Lambda keeps it), and
//! the response bytes it returns are delivered as Firehose delivers them: `Ok` records through
//! the record-format conversion into their partition's Parquet (or to
//! `format-conversion-failed`), `ProcessingFailed` records to `processing-failed`, `Dropped`
//! records nowhere.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use eventlake_glue_schema::Table;
use eventlake_transform::handler::{Config, Handler};
use eventlake_transform::{BatchReport, RecordResult};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::convert::{Cell, Converter};
use crate::error::LakeError;
use crate::layout::{error_key, hour_path, ErrorKind, ObjectNames};
use crate::manifest::Manifest;
use crate::store::LakeStore;
use crate::writer::{Output, PartitionWriter, WriteStats};

/// The largest record a Kinesis data stream takes by default: 1 MiB, data and partition key
/// together (<https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html>;
/// a stream's `MaxRecordSizeInKiB` can raise it to 10 MiB, which the emulation does not
/// model). A longer line could never have been on the stream: it is rejected before the
/// transform, under `processing-failed`, with its reason.
pub const KINESIS_RECORD_LIMIT_BYTES: usize = 1024 * 1024;

/// Lambda's limit on a synchronous request payload, which Firehose's invocation must stay
/// within: 6 MB for the request and for the response
/// (<https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html>). A batch is
/// invoked early when its body could not take one more record of the largest size.
pub const REQUEST_LIMIT_BYTES: usize = eventlake_transform::firehose::RESPONSE_LIMIT_BYTES;

/// The most a record adds to a request body: its data base64-encoded, and its JSON around it.
const MAX_RECORD_IN_BODY: usize = KINESIS_RECORD_LIMIT_BYTES.div_ceil(3) * 4 + 128;

/// How the delivery is emulated.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Processor buffer: event bytes per transform invocation (Firehose: 0.2–3 MB).
    pub batch_bytes: usize,
    /// S3 buffer: a partition's file is written when its JSON records reach this size.
    pub flush_bytes: usize,
    /// Bound on all partition buffers together (the largest is written first beyond it).
    pub memory_bytes: usize,
    /// The delivery stream name used in object names and the invocation's ARN.
    pub stream: String,
    /// The table to convert against.
    pub table: Table,
    /// The transform's settings (the lake window among them).
    pub transform: Config,
}

impl Default for DeliveryOptions {
    /// 1 MiB batches (Firehose's default processor buffer), 64 MiB files (the minimum S3
    /// buffer with dynamic partitioning), 256 MiB of buffers, the embedded table, the
    /// transform's default settings.
    fn default() -> DeliveryOptions {
        DeliveryOptions {
            batch_bytes: 1024 * 1024,
            flush_bytes: 64 * 1024 * 1024,
            memory_bytes: 256 * 1024 * 1024,
            stream: "eventlake-local".into(),
            table: Table::embedded().clone(),
            transform: Config::default(),
        }
    }
}

/// What a delivery did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliverySummary {
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
    /// `Ok` records with a catalog field in another JSON kind than its type, as the
    /// transform counts them (`eventlake_transform::drift`); they are delivered like any other.
    #[serde(default)]
    pub field_drift: u64,
    /// Parquet output.
    pub written: WriteStats,
    /// Error objects written.
    pub error_files: u64,
    /// Wall time.
    #[serde(skip)]
    pub elapsed: Duration,
    /// Time in the Lambda's handler.
    #[serde(skip)]
    pub transform_time: Duration,
    /// Time delivering the handler's responses: reading them, the record-format conversion
    /// into column builders, the error records.
    #[serde(skip)]
    pub convert_time: Duration,
    /// Time encoding and writing Parquet and error objects.
    #[serde(skip)]
    pub write_time: Duration,
}

impl DeliverySummary {
    /// Records rejected by the transform.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Adds the counts of `other` (not its times).
    pub fn add_counts(&mut self, other: &DeliverySummary) {
        self.records += other.records;
        self.bytes_in += other.bytes_in;
        self.invocations += other.invocations;
        self.ok += other.ok;
        self.dropped += other.dropped;
        for (code, n) in &other.rejected {
            *self.rejected.entry(code.clone()).or_insert(0) += n;
        }
        self.conversion_failed += other.conversion_failed;
        self.field_drift += other.field_drift;
        self.written.files += other.written.files;
        self.written.rows += other.written.rows;
        self.written.bytes += other.written.bytes;
        self.error_files += other.error_files;
    }
}

/// A transformed batch: the response bytes exactly as the Lambda returned them, with the
/// handler's report (the rejections' reasons); or, when the invocation failed as a whole,
/// the request and why (every record of it then goes to `processing-failed`, as Firehose
/// sends a batch it gave up on). Plus the records the stream would not have taken.
pub struct TransformedBatch {
    response: Vec<u8>,
    report: BatchReport,
    failure: Option<String>,
    refused: Vec<Vec<u8>>,
    arrival: chrono::DateTime<chrono::Utc>,
    /// The replay segment the batch belongs to (see [`crate::manifest`]).
    pub segment: u64,
}

/// Stage 1: batches events like the processor buffer into an invocation body and runs the
/// Lambda's handler on it.
pub struct Batcher {
    handler: Handler,
    limit: usize,
    arn: String,
    body: Vec<u8>,
    count: usize,
    bytes: usize,
    next_id: u64,
    /// `approximateArrivalTimestamp` of the batch being built: when its first event came.
    arrival_ms: i64,
    /// Records taken so far.
    pub records: u64,
    /// Event bytes taken so far.
    pub bytes_in: u64,
    /// Invocations so far.
    pub invocations: u64,
    /// Time in the handler.
    pub time: Duration,
    /// The segment of the batches made from now on.
    pub segment: u64,
    /// Records over [`KINESIS_RECORD_LIMIT_BYTES`], waiting to go with the next batch.
    refused: Vec<Vec<u8>>,
}

impl Batcher {
    /// A batcher with its own handler.
    pub fn new(options: &DeliveryOptions) -> Batcher {
        Batcher {
            handler: Handler::new(options.transform.clone()),
            limit: options.batch_bytes.max(1),
            arn: format!("arn:aws:firehose:local:000000000000:deliverystream/{}", options.stream),
            body: Vec::new(),
            count: 0,
            bytes: 0,
            next_id: 0,
            arrival_ms: 0,
            records: 0,
            bytes_in: 0,
            invocations: 0,
            time: Duration::ZERO,
            segment: 0,
            refused: Vec::new(),
        }
    }

    /// Continues after the committed part of an interrupted replay: its record ids and
    /// segments go on from there.
    /// (Its counts stay this run's: the replay adds the committed ones.)
    pub fn resume(&mut self, manifest: &Manifest) {
        self.next_id = manifest.summary.records;
        self.segment = manifest.committed.segments;
    }

    /// Its counts of this run.
    pub fn counts(&self) -> BatcherCounts {
        BatcherCounts {
            records: self.records,
            bytes_in: self.bytes_in,
            invocations: self.invocations,
        }
    }

    /// Adds an event; returns the transformed batch when the buffer is full (the processor
    /// buffer's size, or as much as a request can take).
    pub fn push(&mut self, event: &[u8]) -> Result<Option<TransformedBatch>, LakeError> {
        if event.len() > KINESIS_RECORD_LIMIT_BYTES {
            self.next_id += 1;
            self.records += 1;
            self.bytes_in += event.len() as u64;
            self.refused.push(event.to_vec());
            return Ok(None);
        }
        if self.count == 0 {
            self.arrival_ms = chrono::Utc::now().timestamp_millis();
            self.body.clear();
            self.body.extend_from_slice(br#"{"invocationId":"local-"#);
            // Fixed width: a batch's size does not depend on how many came before it.
            self.body
                .extend_from_slice(format!("{:020}", self.invocations).as_bytes());
            self.body.extend_from_slice(br#"","deliveryStreamArn":""#);
            self.body.extend_from_slice(self.arn.as_bytes());
            self.body.extend_from_slice(br#"","region":"local","records":["#);
        } else {
            self.body.push(b',');
        }
        self.next_id += 1;
        self.body.extend_from_slice(
            format!(
                r#"{{"recordId":"{:020}","approximateArrivalTimestamp":{},"data":""#,
                self.next_id, self.arrival_ms
            )
            .as_bytes(),
        );
        base64_simd::STANDARD.encode_append(event, &mut self.body);
        self.body.extend_from_slice(b"\"}");
        self.count += 1;
        self.records += 1;
        self.bytes_in += event.len() as u64;
        self.bytes += event.len();
        if self.bytes >= self.limit || self.body.len() + MAX_RECORD_IN_BODY > REQUEST_LIMIT_BYTES {
            return self.invoke();
        }
        Ok(None)
    }

    /// Runs the handler on the current batch, as Firehose invokes the Lambda (and returns
    /// the refused records waiting, with or without a batch).
    pub fn invoke(&mut self) -> Result<Option<TransformedBatch>, LakeError> {
        let refused = std::mem::take(&mut self.refused);
        let arrival = chrono::Utc::now();
        if self.count == 0 {
            return Ok((!refused.is_empty()).then(|| TransformedBatch {
                response: Vec::new(),
                report: BatchReport::default(),
                failure: None,
                refused,
                arrival,
                segment: self.segment,
            }));
        }
        let started = Instant::now();
        self.body.extend_from_slice(b"]}");
        let mut response = Vec::with_capacity(self.body.len() + self.body.len() / 4);
        let (report, failure) = match self
            .handler
            .handle_body(&self.body, &mut response, &mut std::io::sink())
        {
            Ok(report) => (report, None),
            // The invocation failed as a whole: its records are kept, with why.
            Err(e) => {
                response.clear();
                response.extend_from_slice(&self.body);
                (BatchReport::default(), Some(e.to_string()))
            }
        };
        self.invocations += 1;
        self.count = 0;
        self.bytes = 0;
        self.time += started.elapsed();
        Ok(Some(TransformedBatch {
            response,
            report,
            failure,
            refused,
            arrival,
            segment: self.segment,
        }))
    }
}

/// The records of a request, for a batch whose invocation failed.
#[derive(Deserialize)]
struct WireRequest<'a> {
    #[serde(borrow)]
    records: Vec<WireRequestRecord<'a>>,
}

#[derive(Deserialize)]
struct WireRequestRecord<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// The response as Firehose reads it, borrowed from its bytes.
#[derive(Deserialize)]
struct WireResponse<'a> {
    #[serde(borrow)]
    records: Vec<WireRecord<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRecord<'a> {
    #[serde(borrow)]
    record_id: Cow<'a, str>,
    result: RecordResult,
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(borrow, default)]
    metadata: Option<WireMetadata<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMetadata<'a> {
    #[serde(borrow)]
    partition_keys: WireKeys<'a>,
}

#[derive(Deserialize)]
struct WireKeys<'a> {
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    created_date: Cow<'a, str>,
}

/// Error records waiting to be written, per error kind and arrival hour.
#[derive(Default)]
struct ErrorObjects {
    lines: BTreeMap<(ErrorKind, String), Vec<u8>>,
}

impl ErrorObjects {
    fn push(&mut self, kind: ErrorKind, hour: &str, line: &serde_json::Value) {
        let text = self.lines.entry((kind, hour.to_string())).or_default();
        // A `Value` always serializes.
        let _ = serde_json::to_writer(&mut *text, line);
        text.push(b'\n');
    }

    /// Writes every error object waiting and forgets them.
    fn write(&mut self, table: &Table, store: &LakeStore, names: &mut ObjectNames) -> Result<u64, LakeError> {
        let mut files = 0;
        for ((kind, hour), text) in std::mem::take(&mut self.lines) {
            store.put(&error_key(&table.storage, kind, &hour, &names.delivery_object()), text)?;
            files += 1;
        }
        Ok(files)
    }
}

/// A batcher's counts of this run, as the reading stage sends them with a checkpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatcherCounts {
    /// Records taken.
    pub records: u64,
    /// Event bytes taken.
    pub bytes_in: u64,
    /// Invocations.
    pub invocations: u64,
}

/// Why a record goes to `processing-failed`: the reason code and reason (ours), and the
/// `errorCode` and `errorMessage` Firehose writes.
struct Failure<'a> {
    code: &'a str,
    reason: &'a str,
    error_code: &'a str,
    error_message: &'a str,
}

/// Stage 2: delivers transformed batches: the record-format conversion, partition buffers,
/// Parquet and error objects.
pub struct Delivery<'s> {
    store: &'s LakeStore,
    converter: Converter,
    writer: PartitionWriter,
    names: ObjectNames,
    errors: ErrorObjects,
    decoded: Vec<u8>,
    /// Totals so far.
    pub summary: DeliverySummary,
}

impl<'s> Delivery<'s> {
    /// A delivery into `store`.
    pub fn new(store: &'s LakeStore, options: &DeliveryOptions) -> Result<Delivery<'s>, LakeError> {
        Ok(Delivery {
            store,
            converter: Converter::new(&options.table)?,
            writer: PartitionWriter::new(&options.table, options.flush_bytes, options.memory_bytes)?,
            names: ObjectNames::new(&options.stream),
            errors: ErrorObjects::default(),
            decoded: Vec::new(),
            summary: DeliverySummary::default(),
        })
    }

    /// Tags the objects it writes with the run `run` ([`crate::layout::RunTag`]).
    pub fn run_as(&mut self, run: u32) {
        self.names.tag.run = run;
    }

    /// Tags the objects it writes from now on with segment `segment`.
    pub fn tag_segment(&mut self, segment: u64) {
        self.names.tag.segment = segment;
    }

    /// Commits one object of a re-drive (inline writes): every buffer, the error objects,
    /// then `manifest` with `this_run`'s counts added to its summary.
    pub fn commit_redrive(
        &mut self,
        manifest: &mut crate::manifest::RedriveManifest,
        mut this_run: DeliverySummary,
    ) -> Result<(), LakeError> {
        let started = Instant::now();
        self.writer.flush_all(self.store, &mut self.names)?;
        self.write_errors()?;
        this_run.written = self.writer.stats();
        manifest.summary.add_counts(&this_run);
        manifest.write(self.store)?;
        self.summary.write_time += started.elapsed();
        Ok(())
    }

    /// Delivers every record of a transformed batch, then writes its error objects (rejects
    /// are written with their batch, not held back to the end).
    pub fn deliver(&mut self, batch: TransformedBatch) -> Result<(), LakeError> {
        let started = Instant::now();
        self.names.tag.segment = batch.segment;
        let delivered = self.deliver_records(batch);
        self.summary.convert_time += started.elapsed();
        delivered?;
        self.write_errors()
    }

    /// Writes the error objects waiting.
    pub fn write_errors(&mut self) -> Result<(), LakeError> {
        let started = Instant::now();
        self.summary.error_files += self.errors.write(self.converter.table(), self.store, &mut self.names)?;
        self.summary.write_time += started.elapsed();
        Ok(())
    }

    /// A `processing-failed` error record: the input `raw_data` (base64) with why.
    fn processing_failed(&mut self, hour: &str, arrival_ms: i64, raw_data: &str, failure: Failure<'_>) {
        *self.summary.rejected.entry(failure.code.to_string()).or_insert(0) += 1;
        let line = json!({
            "attemptsMade": 1,
            "arrivalTimestamp": arrival_ms,
            "errorCode": failure.error_code,
            "errorMessage": failure.error_message,
            "attemptEndingTimestamp": chrono::Utc::now().timestamp_millis(),
            "rawData": raw_data,
            "lambdaARN": "local:eventlake-transform",
            "reason": failure.reason,
            "reasonCode": failure.code,
        });
        self.errors.push(ErrorKind::ProcessingFailed, hour, &line);
    }

    fn deliver_records(&mut self, batch: TransformedBatch) -> Result<(), LakeError> {
        let hour = hour_path(batch.arrival);
        let arrival_ms = batch.arrival.timestamp_millis();
        for raw in &batch.refused {
            let reason = format!(
                "the record is {} bytes, over the {KINESIS_RECORD_LIMIT_BYTES}-byte limit of a Kinesis record: the stream would not have taken it",
                raw.len()
            );
            let failure = Failure {
                code: "record_too_large",
                reason: &reason,
                error_code: "Kinesis.RecordTooLarge",
                error_message: "record over the Kinesis record size limit (emulated: the stream refuses it)",
            };
            self.processing_failed(&hour, arrival_ms, &STANDARD.encode(raw), failure);
        }
        if let Some(why) = &batch.failure {
            let request: WireRequest<'_> =
                serde_json::from_slice(&batch.response).map_err(|e| LakeError::BadResponse(e.to_string()))?;
            for rec in &request.records {
                let failure = Failure {
                    code: "invocation_failed",
                    reason: why,
                    // Firehose's code for a batch it skipped after the invocation failed
                    // (unverified: AWS's pages describe the skipping, not the code).
                    error_code: "Lambda.FunctionError",
                    error_message: "The Lambda invocation failed for the batch",
                };
                self.processing_failed(&hour, arrival_ms, &rec.data, failure);
            }
            return Ok(());
        }
        if batch.response.is_empty() {
            return Ok(());
        }
        self.summary.field_drift += batch.report.field_drift.records as u64;
        let response: WireResponse<'_> =
            serde_json::from_slice(&batch.response).map_err(|e| LakeError::BadResponse(e.to_string()))?;
        let mut reasons = batch.report.rejections.iter().peekable();
        for (index, rec) in response.records.iter().enumerate() {
            match rec.result {
                RecordResult::Dropped => self.summary.dropped += 1,
                RecordResult::ProcessingFailed => {
                    while reasons.next_if(|r| r.index < index).is_some() {}
                    let (code, reason) = match reasons.next_if(|r| r.index == index) {
                        Some(r) => (r.error.code(), r.error.to_string()),
                        None => ("unknown", String::new()),
                    };
                    let failure = Failure {
                        code,
                        reason: &reason,
                        error_code: "Lambda.ProcessingFailedStatus",
                        error_message: "ProcessingFailed status set for record",
                    };
                    self.processing_failed(&hour, arrival_ms, &rec.data, failure);
                }
                RecordResult::Ok => {
                    self.summary.ok += 1;
                    let Some(meta) = &rec.metadata else {
                        return Err(LakeError::BadResponse(format!(
                            "Ok record {} has no partition keys",
                            rec.record_id
                        )));
                    };
                    let mut decoded = std::mem::take(&mut self.decoded);
                    decoded.clear();
                    let decoding = base64_simd::STANDARD.decode_append(rec.data.as_bytes(), &mut decoded);
                    let delivered = match decoding {
                        Ok(_) => self.deliver_record(
                            &decoded,
                            &meta.partition_keys.event_type,
                            &meta.partition_keys.created_date,
                            arrival_ms,
                            &hour,
                            &rec.record_id,
                        ),
                        Err(e) => Err(LakeError::BadResponse(format!("Ok record {}: {e}", rec.record_id))),
                    };
                    self.decoded = decoded;
                    delivered?;
                }
            }
        }
        Ok(())
    }

    /// Record-format conversion and delivery of one transformed record.
    pub fn deliver_record(
        &mut self,
        record: &[u8],
        event_type: &str,
        created_date: &str,
        arrival_ms: i64,
        hour: &str,
        record_id: &str,
    ) -> Result<(), LakeError> {
        let mut row: Vec<Cell<'_>> = Vec::with_capacity(self.converter.table().columns.len());
        match self.converter.convert(record, &mut row) {
            Ok(()) => self.writer.push(
                event_type,
                created_date,
                &row,
                record.len(),
                self.store,
                &mut self.names,
            ),
            Err(message) => {
                self.summary.conversion_failed += 1;
                let table = self.converter.table();
                let line = json!({
                    "attemptsMade": 1,
                    "arrivalTimestamp": arrival_ms,
                    "ErrorCode": "DataFormatConversion.MalformedData",
                    "ErrorMessage": message,
                    "attemptEndingTimestamp": chrono::Utc::now().timestamp_millis(),
                    "rawData": STANDARD.encode(record),
                    "sequenceNumber": record_id,
                    "subSequenceNumber": 0,
                    "dataCatalogTable": { "databaseName": table.database, "tableName": table.name },
                });
                self.errors.push(ErrorKind::FormatConversionFailed, hour, &line);
                Ok(())
            }
        }
    }

    /// Sends finished Parquet files to an encoder thread ([`crate::writer::encode_files`]).
    pub fn encode_on(&mut self, files: std::sync::mpsc::SyncSender<Output>) {
        self.writer.encode_on(files);
    }

    /// Commits a checkpoint: writes every partition buffer and the error objects waiting,
    /// then `manifest` (its summary: `base`, the totals committed before this run, plus this
    /// run's so far, with the batcher's counts of `batcher`). With an encoder thread, the
    /// manifest goes to it after the files, so it is written only once they are.
    pub fn commit(
        &mut self,
        manifest: &Manifest,
        base: &DeliverySummary,
        batcher: &BatcherCounts,
    ) -> Result<(), LakeError> {
        let started = Instant::now();
        self.writer.flush_all(self.store, &mut self.names)?;
        self.summary.write_time += started.elapsed();
        self.write_errors()?;
        let mut manifest = manifest.clone();
        let mut totals = base.clone();
        let mut this_run = self.summary.clone();
        this_run.written = self.writer.stats();
        this_run.records = batcher.records;
        this_run.bytes_in = batcher.bytes_in;
        this_run.invocations = batcher.invocations;
        totals.add_counts(&this_run);
        manifest.summary = totals;
        let started = Instant::now();
        let committed = self.writer.commit(manifest, self.store);
        self.summary.write_time += started.elapsed();
        committed
    }

    /// Writes what is buffered into Parquet (inline, or to the encoder thread, which then
    /// ends: its sender is dropped).
    pub fn flush_partitions(&mut self) -> Result<(), LakeError> {
        let t_write = Instant::now();
        self.summary.written = self.writer.finish(self.store, &mut self.names)?;
        self.writer.encode_inline();
        self.summary.write_time += t_write.elapsed();
        Ok(())
    }

    /// Writes what is buffered (Parquet, then the error objects) and returns the totals with
    /// the batcher's. `encoded`: the bytes and time of an encoder thread, if one wrote files.
    pub fn finish(
        mut self,
        batcher: &Batcher,
        started: Instant,
        encoded: Option<(u64, Duration)>,
    ) -> Result<DeliverySummary, LakeError> {
        self.flush_partitions()?;
        if let Some((bytes, time)) = encoded {
            self.summary.written.bytes += bytes;
            self.summary.write_time += time;
        }
        self.write_errors()?;
        let mut s = self.summary;
        s.records += batcher.records;
        s.bytes_in += batcher.bytes_in;
        s.invocations = batcher.invocations;
        s.transform_time = batcher.time;
        s.elapsed = started.elapsed();
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_request_exceeds_lambdas_limit_however_small_the_records() {
        // 3 MiB of one-byte records would be a 270 MB request: batches are cut at the
        // request limit instead, and every record is answered.
        let options = DeliveryOptions {
            batch_bytes: 3 * 1024 * 1024,
            ..DeliveryOptions::default()
        };
        let mut batcher = Batcher::new(&options);
        let mut batches = Vec::new();
        for _ in 0..200_000 {
            if let Some(b) = batcher.push(b"x").unwrap() {
                batches.push(b);
            }
        }
        batches.extend(batcher.invoke().unwrap());
        assert!(batches.len() > 1);
        for b in &batches {
            assert!(b.failure.is_none(), "{:?}", b.failure);
            assert!(b.response.len() <= REQUEST_LIMIT_BYTES);
        }
        let answered: usize = batches.iter().map(|b| b.report.records).sum();
        assert_eq!(answered, 200_000);
    }

    #[test]
    fn a_record_kinesis_would_refuse_waits_for_the_next_batch_as_a_reject() {
        let mut batcher = Batcher::new(&DeliveryOptions::default());
        let big = vec![b'x'; KINESIS_RECORD_LIMIT_BYTES + 1];
        assert!(batcher.push(&big).unwrap().is_none());
        let batch = batcher.invoke().unwrap().expect("the refused record travels alone");
        assert_eq!(batch.refused, vec![big]);
        assert!(batch.response.is_empty());
        assert_eq!(batcher.records, 1);
    }
}
