//! The Firehose data-transformation adapter: the invocation and response wire types and the
//! batch loop around [`Enricher`](crate::Enricher).
//!
//! Wire format: <https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html>.
//! The input types read `data` as text and decode it per record, so one record with bad
//! base64 fails alone instead of failing the whole invocation (as a typed `Base64Data` field
//! would). They deserialize owned (`Cow::Owned`), so the Lambda runtime parses the body once,
//! straight into them. Tests check that both types stay compatible with `aws_lambda_events`.

use std::borrow::Cow;
use std::collections::HashSet;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::{InvocationError, RecordError};
use crate::event::{Enricher, PartitionKeys};
use crate::json;

/// Lambda's limit on a synchronous response payload (6 MB).
pub const RESPONSE_LIMIT_BYTES: usize = 6 * 1024 * 1024;

/// Decodes record data: standard alphabet, padding optional (hand-made console test events
/// often omit it). SIMD on the hot path; the `base64` crate only to describe a failure.
fn decode_data(data: &str, out: &mut Vec<u8>) -> Result<(), RecordError> {
    let b = data.as_bytes();
    if base64_simd::STANDARD.decode_append(b, out).is_ok() {
        return Ok(());
    }
    out.clear();
    if b.len() % 4 != 0 && base64_simd::STANDARD_NO_PAD.decode_append(b, out).is_ok() {
        return Ok(());
    }
    out.clear();
    Err(RecordError::NotBase64(match DESCRIBING_DECODER.decode(b) {
        Err(e) => e.to_string(),
        Ok(_) => "invalid padding".to_string(),
    }))
}

/// The lenient decoder used to describe why data is not base64.
const DESCRIBING_DECODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

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
}

/// Whether `event_type` is one of the catalog's event types (the Athena projection enum).
pub fn is_known_event_type(event_type: &str) -> bool {
    static KNOWN: std::sync::OnceLock<HashSet<&'static str>> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| {
            eventlake_glue_schema::Catalog::embedded()
                .event_type_names()
                .into_iter()
                .collect()
        })
        .contains(event_type)
}

/// The result of transforming one invocation.
#[derive(Debug, Clone)]
pub struct Transformed {
    /// What goes back to Firehose.
    pub response: Response,
    /// What happened, for logs and metrics.
    pub report: BatchReport,
}

/// Parses an invocation from its JSON text.
pub fn parse_invocation(body: &str) -> Result<Invocation<'_>, InvocationError> {
    Ok(serde_json::from_str(body)?)
}

/// Transforms every record of an invocation: the whole per-invocation logic of the Lambda.
/// Never fails because of a record; fails only when no response can fit Lambda's limit.
pub fn transform(invocation: &Invocation<'_>) -> Result<Transformed, InvocationError> {
    transform_with_limit(invocation, RESPONSE_LIMIT_BYTES)
}

/// [`transform`] with an explicit response size limit (for tests of the size guard).
pub fn transform_with_limit(invocation: &Invocation<'_>, limit: usize) -> Result<Transformed, InvocationError> {
    let n = invocation.records.len();
    let mut report = BatchReport {
        records: n,
        ..BatchReport::default()
    };
    let mut records = Vec::with_capacity(n);
    let mut seen = HashSet::with_capacity_and_hasher(n, crate::event::EventKeyHasher);
    let mut enricher = Enricher::new();
    let mut decoded = Vec::new();
    let mut out = Vec::new();
    for (index, rec) in invocation.records.iter().enumerate() {
        decoded.clear();
        out.clear();
        let outcome = match decode_data(&rec.data, &mut decoded) {
            Err(e) => Err(e),
            Ok(()) => {
                report.bytes_in += decoded.len();
                enricher.enrich(&decoded, &mut out)
            }
        };
        let (result, data, metadata) = match outcome {
            Ok(info) if !seen.insert(info.key) => {
                report.dropped += 1;
                (RecordResult::Dropped, rec.data.to_string(), None)
            }
            Ok(info) => {
                report.ok += 1;
                report.bytes_out += out.len();
                if !is_known_event_type(&info.partition_keys.event_type) {
                    *report
                        .unknown_event_types
                        .entry(info.partition_keys.event_type.clone())
                        .or_insert(0) += 1;
                }
                (
                    RecordResult::Ok,
                    base64_simd::STANDARD.encode_to_string(&out),
                    Some(ResponseMetadata {
                        partition_keys: info.partition_keys,
                    }),
                )
            }
            Err(error) => {
                report.rejections.push(Rejection {
                    index,
                    record_id: rec.record_id.to_string(),
                    error,
                });
                (RecordResult::ProcessingFailed, rec.data.to_string(), None)
            }
        };
        records.push(ResponseRecord {
            record_id: rec.record_id.to_string(),
            result,
            data,
            metadata,
        });
    }
    let mut response = Response { records };
    enforce_size_limit(invocation, &mut response, &mut report, limit)?;
    Ok(Transformed { response, report })
}

/// Keeps the response within `limit` bytes: turns `Ok` records into `ProcessingFailed`
/// (input unchanged, so nothing is lost), last first, until it fits.
fn enforce_size_limit(
    invocation: &Invocation<'_>,
    response: &mut Response,
    report: &mut BatchReport,
    limit: usize,
) -> Result<(), InvocationError> {
    let mut size = response_len(response);
    if size <= limit {
        return Ok(());
    }
    let mut downgraded = Vec::new();
    for index in (0..response.records.len()).rev() {
        if size <= limit {
            break;
        }
        let rec = &mut response.records[index];
        if rec.result != RecordResult::Ok {
            continue;
        }
        let before = record_len(rec);
        let output_bytes = base64_decoded_len(&rec.data);
        rec.result = RecordResult::ProcessingFailed;
        rec.data = invocation.records[index].data.to_string();
        rec.metadata = None;
        size = size - before + record_len(rec);
        report.ok -= 1;
        report.bytes_out -= output_bytes;
        downgraded.push(Rejection {
            index,
            record_id: rec.record_id.clone(),
            error: RecordError::ResponseTooLarge { limit },
        });
    }
    if size > limit {
        return Err(InvocationError::ResponseTooLarge { size, limit });
    }
    report.rejections.extend(downgraded);
    report.rejections.sort_by_key(|r| r.index);
    Ok(())
}

fn base64_decoded_len(b64: &str) -> usize {
    let pad = b64.bytes().rev().take_while(|&c| c == b'=').count();
    b64.len() / 4 * 3 - pad
}

/// The exact length of `serde_json::to_vec(response)`, computed without serializing.
pub fn response_len(response: &Response) -> usize {
    let records: usize = response.records.iter().map(record_len).sum();
    let commas = response.records.len().saturating_sub(1);
    "{\"records\":[]}".len() + records + commas
}

fn record_len(r: &ResponseRecord) -> usize {
    // `Ok` data is base64 written by us: no byte of it needs escaping.
    let data_len = if r.result == RecordResult::Ok {
        r.data.len() + 2
    } else {
        json::string_token_len(&r.data)
    };
    let mut n = "{\"recordId\":,\"result\":\"\",\"data\":}".len()
        + json::string_token_len(&r.record_id)
        + r.result.as_str().len()
        + data_len;
    if let Some(m) = &r.metadata {
        n += ",\"metadata\":{\"partitionKeys\":{\"event_type\":,\"created_date\":}}".len()
            + json::string_token_len(&m.partition_keys.event_type)
            + json::string_token_len(&m.partition_keys.created_date);
    }
    n
}

/// Writes `response` as JSON: the same text as `serde_json::to_string(response)`, without
/// escaping checks on the base64 `Ok` data (the bulk of the bytes) and without a UTF-8 pass.
pub fn write_response(response: &Response) -> String {
    // A close upper estimate, without scanning the strings (`response_len` does that).
    let estimate: usize = response
        .records
        .iter()
        .map(|r| r.record_id.len() + r.data.len() + 192)
        .sum();
    let mut out = String::with_capacity(estimate + 16);
    out.push_str("{\"records\":[");
    for (i, r) in response.records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"recordId\":");
        json::push_string_token(&mut out, &r.record_id);
        out.push_str(",\"result\":\"");
        out.push_str(r.result.as_str());
        out.push_str("\",\"data\":");
        if r.result == RecordResult::Ok {
            out.push('"');
            out.push_str(&r.data);
            out.push('"');
        } else {
            json::push_string_token(&mut out, &r.data);
        }
        if let Some(m) = &r.metadata {
            out.push_str(",\"metadata\":{\"partitionKeys\":{\"event_type\":");
            json::push_string_token(&mut out, &m.partition_keys.event_type);
            out.push_str(",\"created_date\":");
            json::push_string_token(&mut out, &m.partition_keys.created_date);
            out.push_str("}}");
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// The delivery stream's name from its ARN (`…:deliverystream/NAME`), for metric dimensions.
pub fn delivery_stream_name(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, name)| name)
}
