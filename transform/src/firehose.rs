//! The Firehose data-transformation adapter: the invocation and response wire types, the
//! envelope reader and the batch loop around [`Enricher`](crate::Enricher), which writes the
//! response text directly.
//!
//! Wire format: <https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html>.
//! The input types read `data` as text and decode it per record, so one record with bad
//! base64 fails alone instead of failing the whole invocation (as a typed `Base64Data` field
//! would). [`parse_invocation`] borrows their strings from the body; with serde they
//! deserialize owned (`Cow::Owned`), as lambda_runtime's own handler path needs. Tests check
//! that the types stay compatible with `aws_lambda_events`.

use std::borrow::Cow;
use std::collections::HashSet;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::{Deserialize, Serialize};

use eventlake_glue_schema::window::utc_day;
use eventlake_glue_schema::{DayRange, LakeWindow};

use crate::error::{DayText, InvocationError, RecordError, WindowBound};
use crate::event::{Enricher, EventFacts, EventKey, EventKeyHasher, PartitionKeys};
use crate::json::{self, Scanner, ValueKind};

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
    // Hashed with the duplicate set's multiply-xor hasher: names are short, and SipHash
    // cost more than the rest of the record's bookkeeping.
    static KNOWN: std::sync::OnceLock<HashSet<&'static str, EventKeyHasher>> = std::sync::OnceLock::new();
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

/// Parses an invocation from its JSON text. The envelope as Firehose sends it (plain keys,
/// string values) is read directly, borrowing every unescaped string from `body`; anything
/// else goes to serde_json, which gives the same result or names what is wrong.
pub fn parse_invocation(body: &str) -> Result<Invocation<'_>, InvocationError> {
    match read_envelope(body) {
        Some(invocation) => Ok(invocation),
        None => Ok(serde_json::from_str(body)?),
    }
}

/// Reads the envelope Firehose sends; `None` for any other shape or any doubt (an escaped
/// key, a repeated field, a `null` record id, invalid JSON), which [`parse_invocation`]
/// leaves to serde_json. Whatever it returns equals serde_json's reading.
fn read_envelope(body: &str) -> Option<Invocation<'_>> {
    let mut s = Scanner {
        b: body.as_bytes(),
        pos: 0,
    };
    let (mut id, mut arn, mut source, mut region, mut records) = (None, None, None, None, None);
    s.skip_ws();
    object_members(&mut s, body, |s, key| match key {
        "invocationId" => set_once(&mut id, string_value(s, body)?),
        "deliveryStreamArn" => set_once(&mut arn, string_value(s, body)?),
        "sourceKinesisStreamArn" => set_once(&mut source, optional_string(s, body)?),
        "region" => set_once(&mut region, optional_string(s, body)?),
        "records" => set_once(&mut records, read_records(s, body)?),
        _ => s.value(json::MAX_DEPTH - 1).ok().map(drop),
    })?;
    s.skip_ws();
    if s.pos != body.len() {
        return None;
    }
    Some(Invocation {
        invocation_id: id?,
        delivery_stream_arn: arn?,
        source_kinesis_stream_arn: source.flatten(),
        region: region.flatten(),
        records: records?,
    })
}

/// The records array of the envelope.
fn read_records<'a>(s: &mut Scanner<'_>, body: &'a str) -> Option<Vec<InputRecord<'a>>> {
    if s.peek() != Some(b'[') {
        return None;
    }
    s.pos += 1;
    s.skip_ws();
    let mut records = Vec::with_capacity(1024);
    if s.peek() == Some(b']') {
        s.pos += 1;
        return Some(records);
    }
    loop {
        let (mut id, mut data) = (None, None);
        object_members(s, body, |s, key| match key {
            "recordId" => set_once(&mut id, string_value(s, body)?),
            "data" => set_once(&mut data, string_value(s, body)?),
            _ => s.value(json::MAX_DEPTH - 3).ok().map(drop),
        })?;
        records.push(InputRecord {
            record_id: id?,
            data: data.unwrap_or_default(),
        });
        if !next_item(s, b']')? {
            return Some(records);
        }
    }
}

/// Walks the members of the object at the scanner (which must be at `{`), calling `member`
/// with each plain key and the scanner at the value; `member` reads the value.
fn object_members<'b>(
    s: &mut Scanner<'b>,
    body: &str,
    mut member: impl FnMut(&mut Scanner<'b>, &str) -> Option<()>,
) -> Option<()> {
    if s.peek() != Some(b'{') {
        return None;
    }
    s.pos += 1;
    s.skip_ws();
    if s.peek() == Some(b'}') {
        s.pos += 1;
        return Some(());
    }
    loop {
        let key = s.key_colon().ok()?;
        if key.escaped {
            return None;
        }
        member(s, &body[key.start + 1..key.end - 1])?;
        if !next_item(s, b'}')? {
            return Some(());
        }
    }
}

/// After an array element or object member: `Some(true)` past a `,` (another follows),
/// `Some(false)` past the container's `close`, `None` for anything else.
fn next_item(s: &mut Scanner<'_>, close: u8) -> Option<bool> {
    s.skip_ws();
    let more = match s.peek()? {
        b',' => true,
        c if c == close => false,
        _ => return None,
    };
    s.pos += 1;
    if more {
        s.skip_ws();
    }
    Some(more)
}

/// Stores a field's value; `None` when it was already set (serde_json refuses duplicates).
fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.replace(value).is_none().then_some(())
}

/// A string value: borrowed when it has no escapes, decoded otherwise.
fn string_value<'a>(s: &mut Scanner<'_>, body: &'a str) -> Option<Cow<'a, str>> {
    if s.peek() != Some(b'"') {
        return None;
    }
    let span = s.string().ok()?;
    let token = &body[span.start..span.end];
    Some(if span.escaped {
        Cow::Owned(json::decode_string(token))
    } else {
        Cow::Borrowed(&token[1..token.len() - 1])
    })
}

/// A string value or `null`.
fn optional_string<'a>(s: &mut Scanner<'_>, body: &'a str) -> Option<Option<Cow<'a, str>>> {
    if s.peek() == Some(b'n') {
        return matches!(s.value(0), Ok((ValueKind::Null, _))).then_some(None);
    }
    string_value(s, body).map(Some)
}

/// Transforms every record of an invocation: the whole per-invocation logic of the Lambda.
/// Never fails because of a record; fails only when no response can fit Lambda's limit.
///
/// The lake window is the embedded table's (`glue-schema/table.json`) at the system clock's
/// time, as the Lambda has it with no `EVENTLAKE_LAKE_DATE_RANGE` set.
pub fn transform(invocation: &Invocation<'_>) -> Result<Transformed, InvocationError> {
    transform_with_limit(invocation, embedded_lake_days(), RESPONSE_LIMIT_BYTES)
}

/// The days the embedded table's lake window allows now (system clock).
pub fn embedded_lake_days() -> DayRange {
    LakeWindow::embedded().days_at(crate::handler::system_clock())
}

/// [`transform`] with explicit lake days and response size limit (for tests of the window and
/// the size guard). The response is [`Transformer::transform_into`]'s wire text, read back as
/// Firehose reads it.
pub fn transform_with_limit(
    invocation: &Invocation<'_>,
    days: DayRange,
    limit: usize,
) -> Result<Transformed, InvocationError> {
    let mut wire = Vec::new();
    let report = Transformer::new().transform_into(invocation, days, limit, &mut wire)?;
    let response = serde_json::from_slice(&wire).expect("the transform writes a valid response");
    Ok(Transformed { response, report })
}

/// Where a record starts in the written response and what it became.
#[derive(Debug, Clone, Copy)]
struct Written {
    /// Offset of the record's text (its leading comma included).
    start: usize,
    /// The record's result.
    result: RecordResult,
    /// Decoded bytes of an `Ok` record's output.
    output_bytes: usize,
}

/// Transforms invocations into response text, keeping its scratch space (decoded and enriched
/// record bytes, the duplicate set) from one invocation to the next: one per Lambda instance.
#[derive(Debug, Default)]
pub struct Transformer {
    enricher: Enricher,
    decoded: Vec<u8>,
    enriched: Vec<u8>,
    seen: HashSet<EventKey, EventKeyHasher>,
    written: Vec<Written>,
}

impl Transformer {
    /// Creates a transformer with empty scratch space.
    pub fn new() -> Transformer {
        Transformer::default()
    }

    /// Transforms every record of `invocation` and writes the response JSON to `out` (after
    /// clearing it): the same text as `serde_json::to_vec(&Response)`, written in one pass,
    /// each `Ok` record's output base64-encoded straight into place. Never fails because of
    /// a record; fails only when no response can fit `limit` bytes. An event whose UTC date
    /// is outside `days` (the lake window at processing time) is `ProcessingFailed`.
    pub fn transform_into(
        &mut self,
        invocation: &Invocation<'_>,
        days: DayRange,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<BatchReport, InvocationError> {
        let n = invocation.records.len();
        let mut report = BatchReport {
            records: n,
            ..BatchReport::default()
        };
        self.seen.clear();
        self.seen.reserve(n);
        self.written.clear();
        out.clear();
        out.extend_from_slice(b"{\"records\":[");
        for (index, rec) in invocation.records.iter().enumerate() {
            let start = out.len();
            if index > 0 {
                out.push(b',');
            }
            self.decoded.clear();
            self.enriched.clear();
            let outcome = match decode_data(&rec.data, &mut self.decoded) {
                Err(e) => Err(e),
                Ok(()) => {
                    report.bytes_in += self.decoded.len();
                    self.enricher.enrich(&self.decoded, &mut self.enriched)
                }
            };
            let outcome = outcome.and_then(|facts| outside_window(&facts, days).map_or(Ok(facts), Err));
            let (result, output_bytes) = match outcome {
                Ok(facts) if !self.seen.insert(facts.key) => {
                    report.dropped += 1;
                    write_unchanged(out, rec, RecordResult::Dropped);
                    (RecordResult::Dropped, 0)
                }
                Ok(facts) => {
                    report.ok += 1;
                    report.bytes_out += self.enriched.len();
                    let event_type = facts.event_type.as_str();
                    if !is_known_event_type(event_type) {
                        *report.unknown_event_types.entry(event_type.to_string()).or_insert(0) += 1;
                    }
                    write_ok(out, &rec.record_id, &self.enriched, event_type, &facts.created_date);
                    (RecordResult::Ok, self.enriched.len())
                }
                Err(error) => {
                    report.rejections.push(Rejection {
                        index,
                        record_id: rec.record_id.to_string(),
                        error,
                    });
                    write_unchanged(out, rec, RecordResult::ProcessingFailed);
                    (RecordResult::ProcessingFailed, 0)
                }
            };
            self.written.push(Written {
                start,
                result,
                output_bytes,
            });
        }
        out.extend_from_slice(b"]}");
        if out.len() > limit {
            self.fit(invocation, limit, out, &mut report)?;
        }
        Ok(report)
    }

    /// Keeps the response within `limit` bytes: returns `Ok` records unchanged as
    /// `ProcessingFailed` (so nothing is lost), last first, until it fits, and rewrites the
    /// response from the first one changed.
    fn fit(
        &mut self,
        invocation: &Invocation<'_>,
        limit: usize,
        out: &mut Vec<u8>,
        report: &mut BatchReport,
    ) -> Result<(), InvocationError> {
        let n = self.written.len();
        let records_end = out.len() - "]}".len();
        let mut size = out.len();
        let mut first = n;
        for i in (0..n).rev() {
            if size <= limit {
                break;
            }
            let w = self.written[i];
            if w.result != RecordResult::Ok {
                continue;
            }
            let end = self.written.get(i + 1).map_or(records_end, |next| next.start);
            let unchanged = usize::from(i > 0) + unchanged_len(&invocation.records[i], RecordResult::ProcessingFailed);
            size = size - (end - w.start) + unchanged;
            first = i;
        }
        if size > limit {
            return Err(InvocationError::ResponseTooLarge { size, limit });
        }
        out.truncate(self.written[first].start);
        for (i, w) in self.written.iter_mut().enumerate().skip(first) {
            let rec = &invocation.records[i];
            w.start = out.len();
            if i > 0 {
                out.push(b',');
            }
            if w.result == RecordResult::Ok {
                report.ok -= 1;
                report.bytes_out -= w.output_bytes;
                report.rejections.push(Rejection {
                    index: i,
                    record_id: rec.record_id.to_string(),
                    error: RecordError::ResponseTooLarge { limit },
                });
                w.result = RecordResult::ProcessingFailed;
                w.output_bytes = 0;
            }
            write_unchanged(out, rec, w.result);
        }
        out.extend_from_slice(b"]}");
        debug_assert_eq!(out.len(), size);
        report.rejections.sort_by_key(|r| r.index);
        Ok(())
    }
}

/// The rejection of an event whose date is outside the lake window, if it is.
#[inline]
fn outside_window(facts: &EventFacts, days: DayRange) -> Option<RecordError> {
    let created_at = facts.key.created_at;
    if days.contains(created_at) {
        return None;
    }
    let bound = if utc_day(created_at) < days.first {
        WindowBound::BeforeFirstDay {
            first: DayText::of_day(days.first),
        }
    } else {
        WindowBound::AfterLastDay {
            last: DayText::of_day(days.last),
        }
    };
    Some(RecordError::OutsideLakeWindow {
        value: created_at,
        date: DayText(facts.created_date),
        bound,
    })
}

/// Writes an `Ok` record: the output base64-encoded in place, then its partition keys.
fn write_ok(out: &mut Vec<u8>, record_id: &str, output: &[u8], event_type: &str, created_date: &[u8; 10]) {
    out.extend_from_slice(b"{\"recordId\":");
    json::write_string(out, record_id);
    out.extend_from_slice(b",\"result\":\"Ok\",\"data\":\"");
    base64_simd::STANDARD.encode_append(output, out);
    // Event types are `[a-z0-9_-]` and dates digits and dashes: nothing to escape.
    out.extend_from_slice(b"\",\"metadata\":{\"partitionKeys\":{\"event_type\":\"");
    out.extend_from_slice(event_type.as_bytes());
    out.extend_from_slice(b"\",\"created_date\":\"");
    out.extend_from_slice(created_date);
    out.extend_from_slice(b"\"}}}");
}

/// Writes a record returned unchanged (`Dropped`, `ProcessingFailed`): its input data as is.
fn write_unchanged(out: &mut Vec<u8>, rec: &InputRecord<'_>, result: RecordResult) {
    out.extend_from_slice(b"{\"recordId\":");
    json::write_string(out, &rec.record_id);
    out.extend_from_slice(b",\"result\":\"");
    out.extend_from_slice(result.as_str().as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    json::write_string(out, &rec.data);
    out.push(b'}');
}

/// The length of what [`write_unchanged`] writes.
fn unchanged_len(rec: &InputRecord<'_>, result: RecordResult) -> usize {
    "{\"recordId\":,\"result\":\"\",\"data\":}".len()
        + json::string_token_len(&rec.record_id)
        + result.as_str().len()
        + json::string_token_len(&rec.data)
}

/// The delivery stream's name from its ARN (`…:deliverystream/NAME`), for metric dimensions.
pub fn delivery_stream_name(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, name)| name)
}
