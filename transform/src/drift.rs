//! Field drift as it happens: `Ok` events whose name is in the catalog but whose catalog
//! fields arrive in another JSON kind than the catalog's type says (a number sent as a
//! string, an integer with a fraction, a list where one value was promised). Records stay
//! `Ok` (the payload keeps the value byte for byte); drift is counted, logged (bounded) and
//! emitted as one metric, not rejected (docs/operations.md, "A producer changed a field").

use eventlake_glue_schema::{Catalog, JsonKind};

use crate::json::{self, Member, ValueKind};

/// At most this many drifted fields are named per invocation (in the log line); the count
/// covers every record.
pub const MAX_DRIFT_EXAMPLES: usize = 5;

/// One field that arrived in another kind than the catalog's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldDrift {
    /// The event's name.
    pub event_name: String,
    /// The payload field.
    pub field: String,
    /// What the catalog's type expects ([`JsonKind::name`]).
    pub expected: &'static str,
    /// What came: `string`, `number`, `number with a fraction`, `boolean`, `array`, `object`.
    pub got: &'static str,
}

/// Drift in one invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftReport {
    /// `Ok` records with at least one catalog field in another kind.
    pub records: usize,
    /// The first [`MAX_DRIFT_EXAMPLES`] drifted fields (each (event, field) once).
    pub examples: Vec<FieldDrift>,
}

/// One catalog event's fields with the kind each expects.
struct EventFields {
    /// The event's name.
    name: &'static [u8],
    /// [`key_bit`] of every field name: a member key whose bit is not set is no field.
    mask: u64,
    fields: Vec<(&'static str, JsonKind)>,
}

/// The catalog's fields by event name, built once: an open-addressed table of indexes into
/// `events`, hashed from a name's length and its first and last eight bytes. One multiply
/// and, nearly always, one compare find a name; a general hash map's byte-wise hash was
/// most of the check's time (docs/performance.md, "The field-drift check").
struct FieldKinds {
    /// `slots.len()` is a power of two at least four times the events; 0 is empty, `i + 1`
    /// is `events[i]`.
    slots: Vec<u16>,
    events: Vec<EventFields>,
}

impl FieldKinds {
    /// The slot a name's probe starts at.
    fn home(&self, name: &[u8]) -> usize {
        let word = |bytes: &[u8]| {
            let mut w = [0u8; 8];
            w[..bytes.len()].copy_from_slice(bytes);
            u64::from_le_bytes(w)
        };
        let n = name.len();
        let (head, tail) = (word(&name[..n.min(8)]), word(&name[n.saturating_sub(8)..]));
        let h = (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 32) as usize & (self.slots.len() - 1)
    }

    /// The fields of the catalog event named `name`.
    fn get(&self, name: &[u8]) -> Option<&EventFields> {
        let mut slot = self.home(name);
        loop {
            let event = self.events.get(usize::from(*self.slots.get(slot)?).checked_sub(1)?)?;
            if event.name == name {
                return Some(event);
            }
            slot = (slot + 1) & (self.slots.len() - 1);
        }
    }
}

/// A bit of a key, from its length and first byte: most payload keys that are not catalog
/// fields are told apart by it without a compare.
fn key_bit(key: &[u8]) -> u64 {
    bit_of(key.len(), key.first().copied().unwrap_or(0))
}

/// [`key_bit`] of a key of `len` bytes starting with `first`.
#[inline]
fn bit_of(len: usize, first: u8) -> u64 {
    1 << ((len as u32).wrapping_mul(7).wrapping_add(u32::from(first)) & 63)
}

fn field_kinds() -> &'static FieldKinds {
    static KINDS: std::sync::OnceLock<FieldKinds> = std::sync::OnceLock::new();
    KINDS.get_or_init(|| {
        let events: Vec<EventFields> = Catalog::embedded()
            .events()
            .map(|e| {
                let fields: Vec<_> = e
                    .fields
                    .iter()
                    .map(|f| (f.name.as_str(), f.hive_type().json_kind()))
                    .collect();
                let mask = fields.iter().fold(0, |m, (name, _)| m | key_bit(name.as_bytes()));
                EventFields {
                    name: e.name.as_bytes(),
                    mask,
                    fields,
                }
            })
            .collect();
        let mut kinds = FieldKinds {
            slots: vec![0; (events.len() * 4).next_power_of_two().max(8)],
            events: Vec::new(),
        };
        for (i, event) in events.iter().enumerate() {
            let mut slot = kinds.home(event.name);
            while kinds.slots[slot] != 0 {
                slot = (slot + 1) & (kinds.slots.len() - 1);
            }
            kinds.slots[slot] = u16::try_from(i + 1).expect("fewer than 65,535 catalog events");
        }
        kinds.events = events;
        kinds
    })
}

/// The kind that came, when it is not what `expected` wants (`null` fits every field,
/// an object none; [`JsonKind::accepts`] decides the rest).
fn mismatch(expected: JsonKind, member: &Member) -> Option<&'static str> {
    let (got, kind) = match member.kind {
        ValueKind::Null => return None,
        ValueKind::String => ("string", JsonKind::String),
        ValueKind::Number if member.non_integer => ("number with a fraction", JsonKind::Number),
        ValueKind::Number => ("number", JsonKind::Integer),
        ValueKind::Bool => ("boolean", JsonKind::Boolean),
        ValueKind::Array => ("array", JsonKind::Array),
        ValueKind::Object => return Some("object"),
    };
    (!expected.accepts(kind)).then_some(got)
}

/// Checks the payload members of one `Ok` event named `event_name` (`text` is the event,
/// `members` its payload members as the enricher scanned them) and adds what drifted to
/// `report`. Events whose name is not in the catalog are not checked.
pub fn check(event_name: &[u8], text: &[u8], members: &[Member], report: &mut DriftReport) {
    let Some(EventFields { mask, fields, .. }) = field_kinds().get(event_name) else {
        return;
    };
    let mut drifted = false;
    // Producers send fields in a steady order, most often the catalog's: the field after the
    // last one found is tried first, then all.
    let mut next = 0;
    for m in members {
        // The mask first, from the key's length and first byte alone (an escaped key is
        // decoded, then tested like the rest).
        let decoded;
        let key: &[u8] = if m.key.escaped {
            let token = std::str::from_utf8(&text[m.key.start..m.key.end]).unwrap_or_default();
            decoded = json::string_text(token, true);
            if mask & key_bit(decoded.as_bytes()) == 0 {
                continue;
            }
            decoded.as_bytes()
        } else {
            let (start, end) = (m.key.start + 1, m.key.end - 1);
            let len = end - start;
            let first = if len > 0 { text[start] } else { 0 };
            if mask & bit_of(len, first) == 0 {
                continue;
            }
            &text[start..end]
        };
        let found = match fields.get(next) {
            Some((name, _)) if name.as_bytes() == key => Some(next),
            _ => fields.iter().position(|(name, _)| name.as_bytes() == key),
        };
        let Some(index) = found else {
            continue;
        };
        next = index + 1;
        let (field, expected) = &fields[index];
        let Some(got) = mismatch(*expected, m) else {
            continue;
        };
        drifted = true;
        if report.examples.len() < MAX_DRIFT_EXAMPLES
            && !report
                .examples
                .iter()
                .any(|d| d.event_name.as_bytes() == event_name && d.field == *field)
        {
            report.examples.push(FieldDrift {
                event_name: String::from_utf8_lossy(event_name).into_owned(),
                field: field.to_string(),
                expected: expected.name(),
                got,
            });
        }
    }
    report.records += usize::from(drifted);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The drift of one event, scanned as the enricher scans it.
    fn drift_of(event: &str) -> DriftReport {
        let mut members = Vec::new();
        json::scan_object(event, |m| {
            members.push(m);
            Ok::<(), ()>(())
        })
        .unwrap();
        let name = serde_json::from_str::<serde_json::Value>(event).unwrap()["event_name"]
            .as_str()
            .unwrap()
            .to_string();
        let mut report = DriftReport::default();
        check(name.as_bytes(), event.as_bytes(), &members, &mut report);
        report
    }

    #[test]
    fn every_catalog_event_is_found_by_name_and_no_other_name_is() {
        let kinds = field_kinds();
        for event in Catalog::embedded().events() {
            let found = kinds.get(event.name.as_bytes()).map(|e| e.name);
            assert_eq!(found, Some(event.name.as_bytes()));
            // Same length, same first and last eight bytes (the probe's hash), one byte apart.
            let mut other = event.name.clone().into_bytes();
            let middle = other.len() / 2;
            other[middle] ^= 0x20;
            assert!(kinds.get(&other).is_none(), "{}", String::from_utf8_lossy(&other));
        }
        for name in [&b""[..], b"x", b"payment:order", b"payment:order:completed:v2"] {
            assert!(kinds.get(name).is_none());
        }
    }

    #[test]
    fn fields_in_their_catalog_kind_or_null_or_unknown_are_not_drift() {
        // payment:order:completed: user_id bigint, order_id string, amount decimal(12,2), currency string, …
        let ok = r#"{"event_name":"payment:order:completed","order_id":"o1","user_id":7,"amount":12.5,"currency":null,"new_field":[1]}"#;
        assert_eq!(drift_of(ok), DriftReport::default());
        let unknown_name = r#"{"event_name":"payment:order:teleported","amount":"12.50"}"#;
        assert_eq!(drift_of(unknown_name), DriftReport::default());
    }

    #[test]
    fn a_string_amount_and_a_fractional_user_id_are_drift_counted_once_per_record() {
        let event = r#"{"event_name":"payment:order:completed","user_id":7.5,"amount":"12.50"}"#;
        let report = drift_of(event);
        assert_eq!(report.records, 1);
        assert_eq!(
            report.examples,
            vec![
                FieldDrift {
                    event_name: "payment:order:completed".into(),
                    field: "user_id".into(),
                    expected: "integer",
                    got: "number with a fraction",
                },
                FieldDrift {
                    event_name: "payment:order:completed".into(),
                    field: "amount".into(),
                    expected: "number",
                    got: "string",
                },
            ]
        );
    }

    #[test]
    fn every_catalog_field_is_found_in_its_kind_and_out_of_it() {
        let mut checked = 0;
        for event in Catalog::embedded().events() {
            for field in &event.fields {
                let kind = field.hive_type().json_kind();
                let (fits, other) = match kind {
                    JsonKind::String => ("\"x\"", "1"),
                    JsonKind::Integer => ("1", "1.5"),
                    JsonKind::Number => ("1.5", "\"1.5\""),
                    JsonKind::Boolean => ("true", "\"true\""),
                    JsonKind::Array => ("[]", "{}"),
                };
                let with = |value: &str| {
                    format!(
                        r#"{{"event_name":"{}","unrelated_key":1,"{}":{value}}}"#,
                        event.name, field.name
                    )
                };
                assert_eq!(drift_of(&with(fits)).records, 0, "{} {}", event.name, field.name);
                let drift = drift_of(&with(other));
                assert_eq!(drift.records, 1, "{} {}", event.name, field.name);
                assert_eq!(drift.examples[0].field, field.name);
                assert_eq!(drift.examples[0].expected, kind.name());
                checked += 1;
            }
        }
        assert!(checked > 300, "{checked}");
    }

    #[test]
    fn an_escaped_key_is_matched_by_its_decoded_name() {
        let event = r#"{"event_name":"payment:order:completed","\u0061mount":"12.50"}"#;
        assert_eq!(drift_of(event).records, 1);
    }
}
