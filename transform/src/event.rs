//! The record contract: one event in, one enriched record out.
//!
//! [`Enricher::enrich`] validates an event and writes the `Ok` record data:
//! `{"event_uuid":…,"event_name":…,"created_at":…,"created_datetime":"…Z","event_type":…,
//! "event_subtype":…,"payload":"{…}"}` and a newline, where `payload` holds every other
//! top-level member byte-for-byte.

use crate::error::{Excerpt, Quoted, RangeHint, RecordError, RequiredField, MAX_CREATED_AT};
use crate::json::{self, Member, ObjectScanError, StrSpan, ValueKind};

/// The identity of an event for duplicate detection: (`event_uuid`, `created_at`).
/// The UUID is compared as a number, so upper- and lower-case spellings are the same event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventKey {
    /// `event_uuid` as a 128-bit number.
    pub uuid: u128,
    /// `created_at`, Unix seconds.
    pub created_at: u64,
}

/// Hashes [`EventKey`]s for the per-invocation duplicate set (and the catalog's event-type
/// names). The keys come from one batch of producer-made UUIDs (not attacker-chosen hash
/// inputs against a long-lived table), and UUID bits are already well mixed, so a
/// multiply-xor is enough and much cheaper than SipHash.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventKeyHasher;

impl std::hash::BuildHasher for EventKeyHasher {
    type Hasher = EventKeyHash;
    fn build_hasher(&self) -> EventKeyHash {
        EventKeyHash(0)
    }
}

/// The hasher of [`EventKeyHasher`].
#[derive(Debug, Clone, Copy)]
pub struct EventKeyHash(u64);

impl std::hash::Hasher for EventKeyHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.write_u64(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    // A name's length prefix (`[u8]`) and end marker (`str`) are one word each, not a pass
    // of `write` over a few bytes.
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64);
        self.write_u64((v >> 64) as u64);
    }
}

/// The dynamic-partitioning keys of an `Ok` record (`metadata.partitionKeys`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct PartitionKeys {
    /// First segment of `event_name`.
    pub event_type: String,
    /// UTC date of `created_at`, `YYYY-MM-DD`.
    pub created_date: String,
}

/// What enrichment learned about a valid event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInfo {
    /// Duplicate-detection key.
    pub key: EventKey,
    /// Partition keys for Firehose.
    pub partition_keys: PartitionKeys,
}

/// An `event_type` held inline: at most 64 ASCII bytes
/// ([`eventlake_glue_schema::is_event_type`]), so no allocation per record.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    len: u8,
    bytes: [u8; 64],
}

impl EventType {
    /// `s` when it is a valid event type, else `None`.
    pub fn new(s: &str) -> Option<EventType> {
        if !eventlake_glue_schema::is_event_type(s) {
            return None;
        }
        let mut bytes = [0u8; 64];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(EventType {
            len: s.len() as u8,
            bytes,
        })
    }

    /// The event type.
    pub fn as_str(&self) -> &str {
        // Only ever built from a valid (ASCII) event type.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// What [`Enricher::enrich`] learned about a valid event, without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFacts {
    /// Duplicate-detection key.
    pub key: EventKey,
    /// First segment of `event_name`.
    pub event_type: EventType,
    /// UTC date of `created_at`, `YYYY-MM-DD`.
    pub created_date: [u8; 10],
}

impl EventFacts {
    /// The facts as owned [`EventInfo`].
    pub fn info(&self) -> EventInfo {
        EventInfo {
            key: self.key,
            partition_keys: partition_keys(self.event_type.as_str(), self.key.created_at),
        }
    }
}

/// Reusable enrichment state (scratch buffers), one per batch or thread.
#[derive(Debug, Default)]
pub struct Enricher {
    members: Vec<Member>,
    /// The `event_name` member of the event last enriched.
    name: Option<Member>,
}

/// Where the required fields stand in the input.
#[derive(Default)]
struct Required {
    uuid: Option<Member>,
    name: Option<Member>,
    created_at: Option<Member>,
}

impl Enricher {
    /// Creates an enricher with empty scratch space.
    pub fn new() -> Enricher {
        Enricher::default()
    }

    /// Validates one event (`data`, the record's decoded bytes) and appends its `Ok` record
    /// data to `out`. On error nothing useful is left in `out` beyond its previous length.
    pub fn enrich(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<EventFacts, RecordError> {
        // SIMD validation on the hot path; std only to find the offset of a failure.
        let text = match simdutf8::basic::from_utf8(data) {
            Ok(text) => text,
            Err(_) => {
                let offset = std::str::from_utf8(data).map_or_else(|e| e.valid_up_to(), |_| 0);
                return Err(RecordError::NotUtf8 { offset });
            }
        };
        if text.bytes().all(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t')) {
            return Err(RecordError::Empty);
        }
        self.members.clear();
        self.name = None;
        let mut req = Required::default();
        let members = &mut self.members;
        json::scan_object(text, |m| {
            let field = match required_field(text, m.key) {
                Some(f) => f,
                None => {
                    members.push(m);
                    return Ok(());
                }
            };
            let slot = match field {
                RequiredField::EventUuid => &mut req.uuid,
                RequiredField::EventName => &mut req.name,
                RequiredField::CreatedAt => &mut req.created_at,
            };
            if slot.replace(m).is_some() {
                return Err(RecordError::DuplicateField(field));
            }
            Ok(())
        })
        .map_err(|e| match e {
            ObjectScanError::Json(e) => RecordError::Json(e),
            ObjectScanError::Member(e) => e,
        })?;

        let uuid_m = req.uuid.ok_or(RecordError::MissingField(RequiredField::EventUuid))?;
        let name_m = req.name.ok_or(RecordError::MissingField(RequiredField::EventName))?;
        let created_m = req
            .created_at
            .ok_or(RecordError::MissingField(RequiredField::CreatedAt))?;

        let uuid_text = string_value(text, &uuid_m, RequiredField::EventUuid)?;
        let uuid = parse_uuid(&uuid_text).ok_or_else(|| RecordError::InvalidUuid(Quoted::new(&uuid_text)))?;
        let name = string_value(text, &name_m, RequiredField::EventName)?;
        self.name = Some(name_m);
        let (event_type, event_subtype) = name_segments(&name)?;
        let checked_type =
            EventType::new(event_type).ok_or_else(|| RecordError::InvalidEventType(Quoted::new(event_type)))?;
        let created_at = parse_created_at(text, &created_m)?;
        let (datetime, date) = utc_datetime(created_at);

        // Write the record. Values with no escapes are copied as written; otherwise the
        // decoded value is written in canonical JSON form.
        let raw = |m: &Member| &text.as_bytes()[m.value_start..m.value_end];
        out.reserve(text.len() + text.len() / 8 + 160);
        out.extend_from_slice(b"{\"event_uuid\":");
        write_value(out, text, &uuid_m, &uuid_text);
        out.extend_from_slice(b",\"event_name\":");
        write_value(out, text, &name_m, &name);
        out.extend_from_slice(b",\"created_at\":");
        out.extend_from_slice(itoa_u64(created_at, &mut [0u8; 20]));
        out.extend_from_slice(b",\"created_datetime\":\"");
        out.extend_from_slice(&datetime);
        out.extend_from_slice(b"\",\"event_type\":\"");
        out.extend_from_slice(event_type.as_bytes());
        out.extend_from_slice(b"\",\"event_subtype\":");
        match event_subtype {
            Some(s) => json::write_string(out, s),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"payload\":\"{");
        // Members written as `key:value` joined by `,`. Where the input already reads exactly
        // so (no whitespace around `:` and `,`, no required field in between), the whole run
        // is escaped in one call.
        let bytes = text.as_bytes();
        // A compact run of members not written yet: `start..end` of the input.
        let mut run: Option<(usize, usize)> = None;
        for (i, m) in self.members.iter().enumerate() {
            let compact = m.value_start == m.key.end + 1;
            if let Some((start, end)) = run {
                if compact && m.key.start == end + 1 {
                    run = Some((start, m.value_end));
                    continue;
                }
                json::escape_json_text(out, &bytes[start..end]);
                run = None;
            }
            if i > 0 {
                out.push(b',');
            }
            if compact {
                run = Some((m.key.start, m.value_end));
            } else {
                json::escape_json_text(out, &bytes[m.key.start..m.key.end]);
                out.push(b':');
                json::escape_json_text(out, raw(m));
            }
        }
        if let Some((start, end)) = run {
            json::escape_json_text(out, &bytes[start..end]);
        }
        out.extend_from_slice(b"}\"}\n");

        Ok(EventFacts {
            key: EventKey { uuid, created_at },
            event_type: checked_type,
            created_date: date,
        })
    }
}

impl Enricher {
    /// Adds the field drift of the event last enriched without error (`data`, the bytes given
    /// to [`Enricher::enrich`]) to `report` ([`crate::drift`]).
    pub fn field_drift(&self, data: &[u8], report: &mut crate::drift::DriftReport) {
        let Some(m) = self.name else {
            return;
        };
        // Only the name's token is read again: as bytes between the quotes when it has no
        // escape (the event was checked to be UTF-8 whole), decoded when it has.
        let Some(token) = data.get(m.value_start..m.value_end) else {
            return;
        };
        if !m.escaped {
            crate::drift::check(&token[1..token.len() - 1], data, &self.members, report);
        } else if let Ok(token) = std::str::from_utf8(token) {
            let name = json::string_text(token, true);
            crate::drift::check(name.as_bytes(), data, &self.members, report);
        }
    }
}

/// Validates one event and returns its `Ok` record data and facts; a convenience over
/// [`Enricher::enrich`] for one-off use.
pub fn enrich(data: &[u8]) -> Result<(Vec<u8>, EventInfo), RecordError> {
    let mut out = Vec::with_capacity(data.len() + 192);
    let facts = Enricher::new().enrich(data, &mut out)?;
    Ok((out, facts.info()))
}

/// The partition keys Firehose uses for an event: `event_type` and the UTC `created_date`.
pub fn partition_keys(event_type: &str, created_at: u64) -> PartitionKeys {
    let (_, date) = utc_datetime(created_at);
    PartitionKeys {
        event_type: event_type.to_string(),
        created_date: String::from_utf8_lossy(&date).into_owned(),
    }
}

/// The first two `:`-separated segments of `event_name` (the second, if any); no segment
/// may be empty.
fn name_segments(name: &str) -> Result<(&str, Option<&str>), RecordError> {
    let b = name.as_bytes();
    let (mut first, mut second) = (None, None);
    // Empty segments: at either end, or two colons in a row anywhere.
    let mut empty = b.first().is_none_or(|&c| c == b':') || b.last() == Some(&b':');
    for (i, &c) in b.iter().enumerate() {
        if c == b':' {
            empty |= i > 0 && b[i - 1] == b':';
            if first.is_none() {
                first = Some(i);
            } else if second.is_none() {
                second = Some(i);
            }
        }
    }
    if empty {
        return Err(RecordError::EmptySegment(Quoted::new(name)));
    }
    Ok(match (first, second) {
        (None, _) => (name, None),
        (Some(i), None) => (&name[..i], Some(&name[i + 1..])),
        (Some(i), Some(j)) => (&name[..i], Some(&name[i + 1..j])),
    })
}

fn required_field(text: &str, key: StrSpan) -> Option<RequiredField> {
    let name = json::string_text(&text[key.start..key.end], key.escaped);
    match name.as_ref() {
        "event_uuid" => Some(RequiredField::EventUuid),
        "event_name" => Some(RequiredField::EventName),
        "created_at" => Some(RequiredField::CreatedAt),
        _ => None,
    }
}

/// Writes a string value: as written when it has no escapes, else its decoded value.
fn write_value(out: &mut Vec<u8>, text: &str, m: &Member, decoded: &str) {
    if m.escaped {
        json::write_string(out, decoded);
    } else {
        out.extend_from_slice(&text.as_bytes()[m.value_start..m.value_end]);
    }
}

fn string_value<'t>(text: &'t str, m: &Member, field: RequiredField) -> Result<std::borrow::Cow<'t, str>, RecordError> {
    if m.kind != ValueKind::String {
        return Err(RecordError::WrongType {
            field,
            expected: "string",
            found: m.kind,
        });
    }
    Ok(json::string_text(&text[m.value_start..m.value_end], m.escaped))
}

/// Parses canonical UUID text (8-4-4-4-12 hex digits, any case, any version).
pub fn parse_uuid(s: &str) -> Option<u128> {
    /// Hex digit values; 0xff for anything else.
    static HEX: [u8; 256] = {
        let mut t = [0xffu8; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };
    let b: &[u8; 36] = s.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    // The 32 digits as two 64-bit halves (cheaper shifts than one u128).
    let (mut halves, mut bad) = ([0u64; 2], 0u8);
    let groups: [&[u8]; 5] = [&b[0..8], &b[9..13], &b[14..18], &b[19..23], &b[24..36]];
    let mut n = 0;
    for group in groups {
        for &c in group {
            let d = HEX[usize::from(c)];
            bad |= d;
            halves[n / 16] = halves[n / 16] << 4 | u64::from(d & 0x0f);
            n += 1;
        }
    }
    // Any invalid digit sets the high bits of `bad`; valid digits never do.
    (bad & 0xf0 == 0).then_some(u128::from(halves[0]) << 64 | u128::from(halves[1]))
}

fn parse_created_at(text: &str, m: &Member) -> Result<u64, RecordError> {
    let field = RequiredField::CreatedAt;
    if m.kind != ValueKind::Number {
        return Err(RecordError::WrongType {
            field,
            expected: "integer (Unix seconds)",
            found: m.kind,
        });
    }
    let raw = &text[m.value_start..m.value_end];
    if m.non_integer {
        return Err(RecordError::CreatedAtNotInteger(Excerpt::new(raw)));
    }
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, raw),
    };
    let out_of_range = |hint| RecordError::CreatedAtOutOfRange {
        value: Excerpt::new(raw),
        hint,
    };
    if negative && digits != "0" {
        return Err(out_of_range(RangeHint::Negative));
    }
    let hint = match digits.len() {
        13..=15 => RangeHint::Milliseconds,
        16..=18 => RangeHint::Microseconds,
        n if n >= 19 => RangeHint::Nanoseconds,
        _ => RangeHint::TooLate,
    };
    match digits.parse::<u64>() {
        Ok(v) if v <= MAX_CREATED_AT => Ok(v),
        _ => Err(out_of_range(hint)),
    }
}

/// `created_at` as `YYYY-MM-DDTHH:MM:SSZ` and `YYYY-MM-DD` (UTC). `secs` must be at most
/// [`MAX_CREATED_AT`]. The date from the day number by Howard Hinnant's `civil_from_days`
/// (exact for the proleptic Gregorian calendar; checked against chrono in the tests).
pub fn utc_datetime(secs: u64) -> ([u8; 20], [u8; 10]) {
    let secs = secs.min(MAX_CREATED_AT);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days are counted from 0000-03-01, so that the leap day ends each 4-year cycle.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut t = *b"0000-00-00T00:00:00Z";
    let put = |buf: &mut [u8], at: usize, width: usize, mut v: u64| {
        for i in (0..width).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut t, 0, 4, year);
    put(&mut t, 5, 2, month);
    put(&mut t, 8, 2, day);
    put(&mut t, 11, 2, rem / 3_600);
    put(&mut t, 14, 2, rem % 3_600 / 60);
    put(&mut t, 17, 2, rem % 60);
    let mut d = [0u8; 10];
    d.copy_from_slice(&t[..10]);
    (t, d)
}

fn itoa_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> (String, EventInfo) {
        let (out, info) = enrich(input.as_bytes()).unwrap_or_else(|e| panic!("{input}: {e}"));
        (String::from_utf8(out).unwrap(), info)
    }

    fn err(input: &str) -> String {
        enrich(input.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn enriches_the_contract_example() {
        let (out, info) = ok(
            r#"{"event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","event_name":"payment:order:completed","created_at":1710670500,"amount":12.50,"tags":["a", "b"]}"#,
        );
        assert_eq!(
            out,
            "{\"event_uuid\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"event_name\":\"payment:order:completed\",\"created_at\":1710670500,\"created_datetime\":\"2024-03-17T10:15:00Z\",\"event_type\":\"payment\",\"event_subtype\":\"order\",\"payload\":\"{\\\"amount\\\":12.50,\\\"tags\\\":[\\\"a\\\", \\\"b\\\"]}\"}\n"
        );
        assert_eq!(
            info.partition_keys,
            PartitionKeys {
                event_type: "payment".into(),
                created_date: "2024-03-17".into()
            }
        );
    }

    #[test]
    fn single_segment_name_has_null_subtype_and_empty_payload() {
        let (out, _) =
            ok(r#"{"event_name":"heartbeat","created_at":0,"event_uuid":"0F8FAD5B-D9CB-469F-A165-70867728950E"}"#);
        assert!(out.contains("\"event_subtype\":null,\"payload\":\"{}\""), "{out}");
        assert!(out.contains("\"created_datetime\":\"1970-01-01T00:00:00Z\""), "{out}");
    }

    #[test]
    fn derived_names_in_the_input_go_to_payload() {
        let (out, _) = ok(
            r#"{"event_type":"spoof","event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","payload":{"x":1},"event_name":"a:b","created_at":1}"#,
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["event_type"], "a");
        assert_eq!(v["payload"], r#"{"event_type":"spoof","payload":{"x":1}}"#);
    }

    #[test]
    fn created_at_rules_and_hints() {
        let base = |v: &str| {
            format!(r#"{{"event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","event_name":"a","created_at":{v}}}"#)
        };
        assert_eq!(
            err(&base("1710670500123")),
            "created_at 1710670500123 is out of range: looks like milliseconds, expected Unix seconds"
        );
        assert!(err(&base("1710670500123456")).contains("microseconds"));
        assert!(err(&base("1710670500123456789")).contains("nanoseconds"));
        assert!(err(&base("99999999999999999999999")).contains("nanoseconds"));
        assert!(err(&base("-1")).contains("negative"));
        assert!(err(&base("253402300800")).contains("after 9999-12-31"));
        assert!(err(&base("1710670500.5")).contains("not an integer"));
        assert!(err(&base("1.7e9")).contains("not an integer"));
        assert_eq!(
            err(&base("\"1710670500\"")),
            "created_at must be a JSON integer (Unix seconds), found a JSON string"
        );
        let (out, _) = ok(&base("253402300799"));
        assert!(out.contains("9999-12-31T23:59:59Z"));
        let (out, _) = ok(&base("-0"));
        assert!(out.contains("\"created_at\":0,"));
    }

    #[test]
    fn field_rules() {
        let e = |u: &str, n: &str| err(&format!(r#"{{"event_uuid":{u},"event_name":{n},"created_at":1}}"#));
        let uuid = "\"0f8fad5b-d9cb-469f-a165-70867728950e\"";
        assert!(e("\"0f8fad5bd9cb469fa16570867728950e\"", "\"a\"").contains("not a canonical UUID"));
        assert!(e("\"{0f8fad5b-d9cb-469f-a165-70867728950e}\"", "\"a\"").contains("not a canonical UUID"));
        assert!(e("42", "\"a\"").contains("event_uuid must be a JSON string, found a JSON number"));
        assert!(e(uuid, "\"a::b\"").contains("empty segment"));
        assert!(e(uuid, "\"a:\"").contains("empty segment"));
        assert!(e(uuid, "\":a\"").contains("empty segment"));
        assert!(e(uuid, "\"a:b:c::d\"").contains("empty segment"));
        assert!(e(uuid, "\":\"").contains("empty segment"));
        assert!(e(uuid, "\"\"").contains("empty segment"));
        assert!(e(uuid, "\"Payment:x\"").contains("event_type \"Payment\""));
        assert!(e(uuid, "null").contains("event_name must be a JSON string, found JSON null"));
        assert_eq!(
            err(r#"{"event_name":"a","created_at":1}"#),
            "missing required field event_uuid"
        );
        assert!(err(&format!(
            r#"{{"event_uuid":{uuid},"event_name":"a","created_at":1,"created_at":2}}"#
        ))
        .contains("created_at appears more than once"));
        assert!(err(&format!(
            r#"{{"event_uuid":{uuid},"event_name":"a","created\u005fat":1,"created_at":2}}"#
        ))
        .contains("appears more than once"));
    }

    #[test]
    fn escaped_values_are_written_canonically() {
        let (out, info) = ok(
            r#"{"event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950\u0065","event_name":"shop\u003acart:x","created_at":5}"#,
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["event_uuid"], "0f8fad5b-d9cb-469f-a165-70867728950e");
        assert_eq!(v["event_name"], "shop:cart:x");
        assert_eq!(v["event_subtype"], "cart");
        assert_eq!(info.partition_keys.event_type, "shop");
        assert!(out.starts_with(r#"{"event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","event_name":"shop:cart:x""#));
    }

    #[test]
    fn bytes_that_are_not_an_event() {
        assert_eq!(err(""), "record data is empty");
        assert_eq!(err(" \n"), "record data is empty");
        assert_eq!(
            enrich(b"{\"a\":\"\xff\"}").unwrap_err(),
            RecordError::NotUtf8 { offset: 6 }
        );
        assert!(err("[1,2]").contains("is a JSON array, expected a JSON object"));
        assert!(err("Hello, this is a test 123.").contains("not a valid JSON object"));
    }

    #[test]
    fn keys_compare_case_insensitively_for_uuids() {
        let a = parse_uuid("0f8fad5b-d9cb-469f-a165-70867728950e");
        assert_eq!(a, parse_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
        assert_eq!(parse_uuid("0f8fad5b-d9cb-469f-a165-70867728950"), None);
        assert_eq!(parse_uuid("0f8fad5b-d9cb-469f-a165-70867728950g"), None);
    }

    #[test]
    fn datetimes_agree_with_chrono() {
        let chrono_text = |secs: u64| {
            chrono::DateTime::from_timestamp(secs as i64, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        };
        let mut secs: Vec<u64> = vec![0, 59, 86_399, 86_400, 951_782_400, 4_107_542_399, MAX_CREATED_AT];
        // Every day boundary of the leap-year cycles around 1900, 2000 and 2100, then samples.
        for year_start in [-2_208_988_800i64, 946_684_800, 4_102_444_800] {
            for day in -800..800 {
                secs.push((year_start + day * 86_400).max(0) as u64);
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            secs.push(x % (MAX_CREATED_AT + 1));
        }
        for s in secs {
            let (t, d) = utc_datetime(s);
            assert_eq!(std::str::from_utf8(&t).unwrap(), chrono_text(s), "{s}");
            assert_eq!(&t[..10], &d);
        }
    }

    #[test]
    fn datetimes() {
        assert_eq!(&utc_datetime(1_710_670_500).0, b"2024-03-17T10:15:00Z");
        assert_eq!(&utc_datetime(951_782_400).1, b"2000-02-29");
        assert_eq!(partition_keys("x", 86_399).created_date, "1970-01-01");
    }
}
