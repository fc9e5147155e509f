//! The batch loop: every record of an invocation through the enricher, the lake window and
//! the duplicate set, written into the response as it goes, and the response size guard.

use std::collections::HashSet;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use eventlake_glue_schema::window::utc_day;
use eventlake_glue_schema::{DayRange, LakeWindow};

use super::wire::{BatchReport, Invocation, RecordResult, Rejection, Response};
use super::writer::{unchanged_len, write_ok, write_unchanged};
use super::RESPONSE_LIMIT_BYTES;
use crate::error::{DayText, InvocationError, RecordError, WindowBound};
use crate::event::{Enricher, EventFacts, EventKey, EventKeyHasher};

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
    /// Skip the field-drift check ([`Transformer::without_field_checks`]).
    skip_field_checks: bool,
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

    /// The same transformer without the field-drift count (`BatchReport::field_drift` stays
    /// empty): what `just bench` compares against to measure the check's cost.
    pub fn without_field_checks(mut self) -> Transformer {
        self.skip_field_checks = true;
        self
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
                    } else if !self.skip_field_checks {
                        self.enricher.field_drift(&self.decoded, &mut report.field_drift);
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
