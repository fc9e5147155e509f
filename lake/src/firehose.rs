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
use serde::Deserialize;
use serde_json::json;

use crate::convert::{Cell, Converter};
use crate::error::LakeError;
use crate::layout::{error_key, hour_path, ErrorKind, ObjectNames};
use crate::store::LakeStore;
use crate::writer::{PartitionWriter, WriteStats};

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
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// Parquet output.
    pub written: WriteStats,
    /// Error objects written.
    pub error_files: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Time in the Lambda's handler.
    pub transform_time: Duration,
    /// Time delivering the handler's responses: reading them, the record-format conversion
    /// into column builders, the error records.
    pub convert_time: Duration,
    /// Time encoding and writing Parquet and error objects.
    pub write_time: Duration,
}

impl DeliverySummary {
    /// Records rejected by the transform.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// A transformed batch: the response bytes exactly as the Lambda returned them, with the
/// handler's report (the rejections' reasons).
pub struct TransformedBatch {
    response: Vec<u8>,
    report: BatchReport,
    arrival: chrono::DateTime<chrono::Utc>,
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
        }
    }

    /// Adds an event; returns the transformed batch when the buffer is full.
    pub fn push(&mut self, event: &[u8]) -> Result<Option<TransformedBatch>, LakeError> {
        if self.count == 0 {
            self.arrival_ms = chrono::Utc::now().timestamp_millis();
            self.body.clear();
            self.body.extend_from_slice(br#"{"invocationId":"local-"#);
            self.body.extend_from_slice(self.invocations.to_string().as_bytes());
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
        if self.bytes >= self.limit {
            return self.invoke();
        }
        Ok(None)
    }

    /// Runs the handler on the current batch, as Firehose invokes the Lambda.
    pub fn invoke(&mut self) -> Result<Option<TransformedBatch>, LakeError> {
        if self.count == 0 {
            return Ok(None);
        }
        let started = Instant::now();
        self.body.extend_from_slice(b"]}");
        let arrival = chrono::Utc::now();
        let mut response = Vec::with_capacity(self.body.len() + self.body.len() / 4);
        let report = self
            .handler
            .handle_body(&self.body, &mut response, &mut std::io::sink())?;
        self.invocations += 1;
        self.count = 0;
        self.bytes = 0;
        self.time += started.elapsed();
        Ok(Some(TransformedBatch {
            response,
            report,
            arrival,
        }))
    }
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

    fn write(self, table: &Table, store: &LakeStore, names: &mut ObjectNames) -> Result<u64, LakeError> {
        let mut files = 0;
        for ((kind, hour), text) in self.lines {
            store.put(&error_key(&table.storage, kind, &hour, &names.delivery_object()), text)?;
            files += 1;
        }
        Ok(files)
    }
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

    /// Delivers every record of a transformed batch.
    pub fn deliver(&mut self, batch: TransformedBatch) -> Result<(), LakeError> {
        let started = Instant::now();
        let delivered = self.deliver_records(batch);
        self.summary.convert_time += started.elapsed();
        delivered
    }

    fn deliver_records(&mut self, batch: TransformedBatch) -> Result<(), LakeError> {
        let response: WireResponse<'_> =
            serde_json::from_slice(&batch.response).map_err(|e| LakeError::BadResponse(e.to_string()))?;
        let hour = hour_path(batch.arrival);
        let arrival_ms = batch.arrival.timestamp_millis();
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
                    *self.summary.rejected.entry(code.to_string()).or_insert(0) += 1;
                    let line = json!({
                        "attemptsMade": 1,
                        "arrivalTimestamp": arrival_ms,
                        "errorCode": "Lambda.ProcessingFailedStatus",
                        "errorMessage": "ProcessingFailed status set for record",
                        "attemptEndingTimestamp": chrono::Utc::now().timestamp_millis(),
                        "rawData": rec.data,
                        "lambdaARN": "local:eventlake-transform",
                        "reason": reason,
                        "reasonCode": code,
                    });
                    self.errors.push(ErrorKind::ProcessingFailed, &hour, &line);
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
    pub fn encode_on(&mut self, files: std::sync::mpsc::SyncSender<(String, arrow_array::RecordBatch)>) {
        self.writer.encode_on(files);
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
        let t_write = Instant::now();
        self.summary.error_files =
            std::mem::take(&mut self.errors).write(self.converter.table(), self.store, &mut self.names)?;
        self.summary.write_time += t_write.elapsed();
        let mut s = self.summary;
        s.records += batcher.records;
        s.bytes_in += batcher.bytes_in;
        s.invocations = batcher.invocations;
        s.transform_time = batcher.time;
        s.elapsed = started.elapsed();
        Ok(s)
    }
}
