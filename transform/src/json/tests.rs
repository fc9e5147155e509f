use super::escape::push_string_token;
use super::scan::{skip_digits, skip_plain, STRING_STOP};
use super::*;

fn members(text: &str) -> Result<Vec<(String, String, ValueKind)>, JsonError> {
    let mut v = Vec::new();
    scan_object::<()>(text, |m| {
        v.push((
            text[m.key.start..m.key.end].to_string(),
            text[m.value_start..m.value_end].to_string(),
            m.kind,
        ));
        Ok(())
    })
    .map_err(|e| match e {
        ObjectScanError::Json(e) => e,
        ObjectScanError::Member(()) => unreachable!(),
    })?;
    Ok(v)
}

#[test]
fn reports_raw_members_in_order() {
    let m = members(" {\"a\" : [1, {\"b\":null}] ,\"c\\u0041\":\"x\\\"y\", \"d\":-1.5e3}\n").unwrap();
    assert_eq!(
        m,
        vec![
            ("\"a\"".into(), "[1, {\"b\":null}]".into(), ValueKind::Array),
            ("\"c\\u0041\"".into(), "\"x\\\"y\"".into(), ValueKind::String),
            ("\"d\"".into(), "-1.5e3".into(), ValueKind::Number),
        ]
    );
    assert_eq!(members("{}").unwrap(), vec![]);
}

#[test]
fn agrees_with_serde_json_on_validity() {
    let cases = [
        "{\"a\":1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":-}",
        "{\"a\":1e}",
        "{\"a\":1e+5}",
        "{\"a\":\"\\ud83d\\ude00\"}",
        "{\"a\":\"\\ud83d\"}",
        "{\"a\":\"\\ude00\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":tru}",
        "{\"a\":[1,]}",
        "{\"a\":{\"b\":1,}}",
        "{\"a\":1,}",
        "{,}",
        "{\"a\" 1}",
        "{\"a\":[}",
        "{\"a\":{]}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "{\"a\":\"\u{e9}\u{1F600}\"}",
        "{\"a\":[[[[]]]],\"b\":{\"c\":{\"d\":[true,false,null]}}}",
    ];
    for case in cases {
        let ours = members(case).is_ok();
        let theirs = serde_json::from_str::<serde_json::Value>(case).is_ok();
        assert_eq!(ours, theirs, "{case}");
    }
}

#[test]
fn names_what_it_found_instead_of_an_object() {
    let kind = |t: &str| members(t).unwrap_err().kind;
    assert_eq!(kind("[1]"), JsonErrorKind::NotAnObject(ValueKind::Array));
    assert_eq!(kind("\"s\""), JsonErrorKind::NotAnObject(ValueKind::String));
    assert_eq!(kind("12"), JsonErrorKind::NotAnObject(ValueKind::Number));
    assert_eq!(kind(""), JsonErrorKind::UnexpectedEnd);
    assert_eq!(kind("{\"a\":1}\n{\"a\":2}"), JsonErrorKind::TrailingData);
}

#[test]
fn nesting_is_capped_without_recursion() {
    let ok = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
    assert!(members(&ok).is_ok());
    assert!(serde_json::from_str::<serde_json::Value>(&ok).is_ok());
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert_eq!(members(&deep).unwrap_err().kind, JsonErrorKind::TooDeep);
    let huge = format!("{{\"a\":{}", "[".repeat(1_000_000));
    assert_eq!(members(&huge).unwrap_err().kind, JsonErrorKind::TooDeep);
}

#[test]
fn the_fast_escapers_agree_with_the_general_one() {
    // Every position of every special byte, in and around 8-byte chunks.
    let specials = [b'"', b'\\', b'\n', b'\t', b'\r', 0x01, 0x1f, b'a', 0xc3];
    for len in 0..40 {
        for at in 0..len.max(1) {
            for &sp in &specials {
                let mut raw: Vec<u8> = (0..len).map(|i| b"x{}[]:,0 "[i % 9]).collect();
                if at < raw.len() {
                    raw[at] = sp;
                    if sp == 0xc3 && at + 1 < raw.len() {
                        raw[at + 1] = 0xa9;
                    }
                }
                let mut general = Vec::new();
                escape_into(&mut general, &raw);
                let mut fast = b"prefix".to_vec();
                escape_json_text(&mut fast, &raw);
                assert_eq!(&fast[6..], &general[..], "{raw:?}");
                let mut swar = b"prefix".to_vec();
                escape_json_text_swar(&mut swar, &raw);
                assert_eq!(swar, fast, "{raw:?}");
                let text = String::from_utf8_lossy(&raw);
                let mut token = String::new();
                push_string_token(&mut token, &text);
                assert_eq!(token, serde_json::to_string(&text).unwrap());
                assert_eq!(string_token_len(&text), token.len());
                assert_eq!(
                    skip_plain(&raw, 0),
                    raw.iter().position(|&c| STRING_STOP[c as usize]).unwrap_or(raw.len())
                );
            }
        }
    }
}

#[test]
fn string_scanning_stops_exactly_at_the_first_stop_byte() {
    // Long enough for every step of `skip_plain` (16-byte, 64-byte and 8-byte steps).
    for len in 0..260 {
        for at in (0..=len).step_by(if len > 100 { 7 } else { 1 }) {
            for stop in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                let mut b: Vec<u8> = (0..len).map(|i| b"ab c\x7f\xc3\xa9~"[i % 8]).collect();
                if at < len {
                    b[at] = stop;
                }
                for from in [0, 1, 5, 17] {
                    let expect = b
                        .iter()
                        .skip(from)
                        .position(|&c| STRING_STOP[c as usize])
                        .map_or(b.len().max(from), |i| from + i);
                    assert_eq!(skip_plain(&b, from), expect, "len {len}, stop at {at}, from {from}");
                }
            }
        }
    }
}

#[test]
fn digit_runs_end_exactly_at_the_first_other_byte() {
    // Every byte value at every position of the 8-byte step and its tail, after runs of
    // every digit.
    for len in 0..20 {
        for at in 0..=len {
            for other in 0..=255u8 {
                let mut b: Vec<u8> = (0..len).map(|i| b'0' + (i % 10) as u8).collect();
                if at < len {
                    b[at] = other;
                }
                for from in [0, 3] {
                    let expect = b
                        .iter()
                        .skip(from)
                        .position(|c| !c.is_ascii_digit())
                        .map_or(b.len().max(from), |i| from + i);
                    assert_eq!(
                        skip_digits(&b, from),
                        expect,
                        "len {len}, {other:#x} at {at}, from {from}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_fast_escapers_agree_on_dense_mixes() {
    // Many special bytes per block, every length around the 8- and 16-byte steps.
    let alphabet = [
        b'"', b'\\', b'a', b'b', b' ', b'\n', b'\t', b'\r', b'{', 0xc3, 0xa9, b'"', b'\\',
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in 0..140 {
        for _ in 0..40 {
            let raw: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let mut general = vec![7];
            escape_into(&mut general, &raw);
            let mut fast = vec![7];
            escape_json_text(&mut fast, &raw);
            let mut swar = vec![7];
            escape_json_text_swar(&mut swar, &raw);
            assert_eq!(fast, general, "{raw:?}");
            assert_eq!(swar, general, "{raw:?}");
        }
    }
}

#[test]
fn decodes_and_escapes_strings() {
    assert_eq!(
        decode_string(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#),
        "a\"b\\c/d\u{8}\u{c}\n\r\té😀"
    );
    let mut out = Vec::new();
    write_string(&mut out, "q\"b\\n\nt\t\u{1}é");
    assert_eq!(String::from_utf8(out.clone()).unwrap(), r#""q\"b\\n\nt\t\u0001é""#);
    assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), "q\"b\\n\nt\t\u{1}é");
}
