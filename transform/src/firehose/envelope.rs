//! The envelope reader: the invocation as Firehose sends it, read without serde, borrowing
//! every unescaped string from the body.

use std::borrow::Cow;

use super::wire::{InputRecord, Invocation};
use crate::error::InvocationError;
use crate::json::{self, Scanner, ValueKind};

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
    Some(json::string_text(&body[span.start..span.end], span.escaped))
}

/// A string value or `null`.
fn optional_string<'a>(s: &mut Scanner<'_>, body: &'a str) -> Option<Option<Cow<'a, str>>> {
    if s.peek() == Some(b'n') {
        return matches!(s.value(0), Ok((ValueKind::Null, _))).then_some(None);
    }
    string_value(s, body).map(Some)
}
