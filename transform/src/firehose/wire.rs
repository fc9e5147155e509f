//! The invocation and response as Firehose sends and reads them, and what a batch reports.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::error::RecordError;
use crate::event::PartitionKeys;

/// A Firehose data-transformation invocation (Kinesis stream or Direct PUT source).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Invocation<'a> {
    /// Unique id of this invocation.
    pub invocation_id: Cow<'a, str>,
    /// ARN of the delivery stream that invoked the function.
    pub delivery_stream_arn: Cow<'a, str>,
    /// ARN of the Kinesis stream, when that is the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinesis_stream_arn: Option<Cow<'a, str>>,
    /// AWS region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Cow<'a, str>>,
    /// The records, in order.
    pub records: Vec<InputRecord<'a>>,
}

/// One record of an [`Invocation`]. Fields this function does not use (arrival timestamp,
/// Kinesis metadata) are accepted and ignored.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InputRecord<'a> {
    /// Firehose's id for the record; the response must repeat it.
    pub record_id: Cow<'a, str>,
    /// The event bytes, base64.
    #[serde(default)]
    pub data: Cow<'a, str>,
}

/// The transformation result of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordResult {
    /// Transformed; deliver `data` to the partition in `metadata`.
    Ok,
    /// Intentionally not delivered (an in-batch duplicate).
    Dropped,
    /// Rejected; Firehose writes the unchanged input to the `processing-failed` error prefix.
    ProcessingFailed,
}

impl RecordResult {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordResult::Ok => "Ok",
            RecordResult::Dropped => "Dropped",
            RecordResult::ProcessingFailed => "ProcessingFailed",
        }
    }
}

/// `metadata` of an `Ok` record: the dynamic-partitioning keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseMetadata {
    /// Keys used in the S3 prefix `!{partitionKeyFromLambda:…}`.
    pub partition_keys: PartitionKeys,
}

/// One record of the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseRecord {
    /// The input record's id.
    pub record_id: String,
    /// What happened to it.
    pub result: RecordResult,
    /// Base64 of the output (`Ok`) or the unchanged input (`Dropped`, `ProcessingFailed`).
    pub data: String,
    /// Partition keys, for `Ok` records only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ResponseMetadata>,
}

/// The response to Firehose: one record per input record, same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The records.
    pub records: Vec<ResponseRecord>,
}

/// A rejected record: where it was in the batch and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Index in the invocation's records.
    pub index: usize,
    /// Firehose's record id.
    pub record_id: String,
    /// The reason.
    pub error: RecordError,
}

/// Counts and reasons for one invocation: what logs and metrics report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Records received.
    pub records: usize,
    /// Records returned `Ok`.
    pub ok: usize,
    /// Records returned `Dropped` (in-batch duplicates).
    pub dropped: usize,
    /// Decoded event bytes received.
    pub bytes_in: usize,
    /// Decoded bytes returned in `Ok` records.
    pub bytes_out: usize,
    /// Every `ProcessingFailed` record with its reason, in batch order.
    pub rejections: Vec<Rejection>,
    /// `Ok` records whose `event_type` is not in the event catalog, by type. They are
    /// delivered like any other, but Athena's projection does not show them until the type
    /// is added to the catalog (docs/athena.md).
    pub unknown_event_types: std::collections::BTreeMap<String, usize>,
    /// `Ok` records whose catalog fields arrived in another JSON kind ([`crate::drift`]).
    pub field_drift: crate::drift::DriftReport,
}
