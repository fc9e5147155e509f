//! The response writers: records written as JSON text straight into the response.

use super::wire::{InputRecord, RecordResult};
use crate::json;

/// Writes an `Ok` record: the output base64-encoded in place, then its partition keys.
pub(super) fn write_ok(out: &mut Vec<u8>, record_id: &str, output: &[u8], event_type: &str, created_date: &[u8; 10]) {
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
pub(super) fn write_unchanged(out: &mut Vec<u8>, rec: &InputRecord<'_>, result: RecordResult) {
    out.extend_from_slice(b"{\"recordId\":");
    json::write_string(out, &rec.record_id);
    out.extend_from_slice(b",\"result\":\"");
    out.extend_from_slice(result.as_str().as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    json::write_string(out, &rec.data);
    out.push(b'}');
}

/// The length of what [`write_unchanged`] writes.
pub(super) fn unchanged_len(rec: &InputRecord<'_>, result: RecordResult) -> usize {
    "{\"recordId\":,\"result\":\"\",\"data\":}".len()
        + json::string_token_len(&rec.record_id)
        + result.as_str().len()
        + json::string_token_len(&rec.data)
}
