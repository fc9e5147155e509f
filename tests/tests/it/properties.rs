//! Invariants of the transform for any input: property tests (proptest).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use eventlake_glue_schema::{DayRange, LakeWindow, Table};
use eventlake_tests::{check_fits_table, ok_records, render_ok};
use eventlake_transform::firehose::transform_with_limit;
use eventlake_transform::{
    parse_invocation, InputRecord, Invocation, InvocationError, RecordResult, Transformed, Transformer,
    RESPONSE_LIMIT_BYTES,
};

/// Every day a `created_at` can have: the record rules without the lake window, which has
/// its own property ([`only_events_dated_inside_the_lake_window_are_ok`]).
const ALL_DAYS: DayRange = DayRange {
    first: 0,
    last: i64::MAX,
};

/// The transform with every day allowed.
fn transform(inv: &Invocation<'_>) -> Result<Transformed, InvocationError> {
    transform_with_limit(inv, ALL_DAYS, RESPONSE_LIMIT_BYTES)
}
use proptest::prelude::*;
use serde_json::{Map, Value};

/// A JSON value as text, with random whitespace, nested up to a few levels.
fn json_text() -> impl Strategy<Value = String> {
    let ws = prop::sample::select(vec!["", "", "", " ", "\n", "\t ", "\r\n  "]);
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::to_string(&f).unwrap()),
        Just("1.5e-3".to_string()),
        Just("-0".to_string()),
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"".to_string()),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        let ws = ws.clone();
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..5), ws.clone())
                .prop_map(|(items, w)| format!("[{w}{}{w}]", items.join(&format!("{w},{w}")))),
            (prop::collection::vec(("[a-z_\\u{e9}\"\\\\]{0,8}", inner), 0..5), ws).prop_map(|(members, w)| {
                let body: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("{}{w}:{w}{v}", serde_json::to_string(k).unwrap()))
                    .collect();
                format!("{{{w}{}{w}}}", body.join(","))
            }),
        ]
    })
}

/// Text that is often a valid event, sometimes subtly not: required fields with good or bad
/// values, extra members, shuffled order, occasional duplicates.
fn event_text() -> impl Strategy<Value = String> {
    let uuid = prop_oneof![
        4 => "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".prop_map(|s| format!("\"{s}\"")),
        1 => "[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}".prop_map(|s| format!("\"{s}\"")),
        1 => json_text(),
    ];
    let name = prop_oneof![
        4 => "[a-z0-9][a-z0-9_-]{0,10}(:[^:\"\\\\\\x00-\\x1f]{1,8}){0,3}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => json_text(),
    ];
    let created = prop_oneof![
        4 => (0u64..=253_402_300_799).prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => json_text(),
    ];
    let extra = prop::collection::vec(("[a-z_]{1,12}|event_type|payload|created_datetime", json_text()), 0..6);
    (uuid, name, created, extra, any::<u64>(), prop::option::of(0usize..4)).prop_map(|(u, n, c, extra, seed, dup)| {
        let mut members = vec![
            ("event_uuid".to_string(), u),
            ("event_name".to_string(), n),
            ("created_at".to_string(), c),
        ];
        members.extend(extra);
        if let Some(d) = dup {
            if d < 3 {
                members.push(members[d].clone());
            }
        }
        // Deterministic shuffle from the seed.
        let mut s = seed;
        for i in (1..members.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            members.swap(i, (s >> 33) as usize % (i + 1));
        }
        // Mostly compact like real producers; sometimes whitespace around `:` and `,`.
        let ws = |bits: u64| ["", "", "", "", "", " ", "\n ", "\t"][(bits & 7) as usize];
        let body: Vec<String> = members
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let bits = s >> (i * 6 % 60);
                format!(
                    "{}{}:{}{v}{}",
                    serde_json::to_string(k).unwrap(),
                    ws(bits),
                    ws(bits >> 3),
                    ws(bits >> 1)
                )
            })
            .collect();
        format!("{{{}}}", body.join(","))
    })
}

/// Record data: arbitrary bytes, events, events with one byte changed, or non-base64 text.
fn record_data() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| STANDARD.encode(b)),
        6 => event_text().prop_map(|t| STANDARD.encode(t)),
        2 => (event_text(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(t, i, b)| {
            let mut bytes = t.into_bytes();
            let at = i.index(bytes.len());
            bytes[at] = b;
            STANDARD.encode(bytes)
        }),
        1 => "[^A-Za-z0-9+/=]{1,8}",
    ]
}

fn invocation(data: &[String]) -> Invocation<'_> {
    Invocation {
        invocation_id: "prop".into(),
        delivery_stream_arn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/prop".into(),
        source_kinesis_stream_arn: None,
        region: None,
        records: data
            .iter()
            .enumerate()
            .map(|(i, d)| InputRecord {
                record_id: format!("r{i}").into(),
                data: d.as_str().into(),
            })
            .collect(),
    }
}

fn is_number_out_of_range(e: &serde_json::Error) -> bool {
    e.to_string().starts_with("number out of range")
}

/// The input event rebuilt from an `Ok` record: the three fields plus the payload members.
fn rebuild(ok: &Value) -> Map<String, Value> {
    let mut m: Map<String, Value> =
        serde_json::from_str(ok["payload"].as_str().unwrap()).expect("payload is a JSON object");
    for k in ["event_uuid", "event_name", "created_at"] {
        m.insert(k.to_string(), ok[k].clone());
    }
    m
}

/// Firehose envelopes as sent, and variations of them: other or missing fields, `null`s,
/// escapes in keys and values, repeated fields, whitespace, stray bytes.
fn envelope_text() -> impl Strategy<Value = String> {
    let ws = prop::sample::select(vec!["", "", " ", "\n  ", "\t"]);
    let string = prop_oneof![
        4 => "[A-Za-z0-9+/=:_-]{0,24}".prop_map(|s| format!("\"{s}\"")),
        1 => any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => Just("\"a\\u0062\\\"c\\/\"".to_string()),
    ];
    let value = prop_oneof![
        6 => string.clone(),
        1 => Just("null".to_string()),
        1 => json_text(),
    ];
    let key = |k: &'static str| prop_oneof![8 => Just(format!("\"{k}\"")), 1 => Just(format!("\"{}\\u0{:x}\"", &k[..k.len() - 1], k.as_bytes()[k.len() - 1]))];
    let record = (
        prop::collection::vec(
            prop_oneof![
                (key("recordId"), value.clone()),
                (key("data"), value.clone()),
                (Just("\"approximateArrivalTimestamp\"".to_string()), json_text()),
                (Just("\"kinesisRecordMetadata\"".to_string()), json_text()),
            ],
            0..5,
        ),
        ws.clone(),
    )
        .prop_map(|(members, w)| {
            let body: Vec<String> = members.iter().map(|(k, v)| format!("{k}{w}:{w}{v}")).collect();
            format!("{{{w}{}{w}}}", body.join(&format!("{w},{w}")))
        });
    let records = prop_oneof![
        6 => (prop::collection::vec(record, 0..4), ws.clone()).prop_map(|(r, w)| format!("[{w}{}{w}]", r.join(","))),
        1 => json_text(),
    ];
    let top = prop::collection::vec(
        prop_oneof![
            (key("invocationId"), value.clone()),
            (key("deliveryStreamArn"), value.clone()),
            (key("sourceKinesisStreamArn"), value.clone()),
            (key("region"), value.clone()),
            (key("records"), records),
            (Just("\"other\"".to_string()), json_text()),
        ],
        0..8,
    );
    (top, ws, any::<prop::sample::Index>(), prop::option::of(any::<u8>())).prop_map(|(members, w, at, byte)| {
        let body: Vec<String> = members.iter().map(|(k, v)| format!("{k}{w}:{w}{v}")).collect();
        let mut text = format!("{w}{{{}}}{w}", body.join(","));
        if let Some(b) = byte.filter(|b| b.is_ascii()) {
            let i = at.index(text.len());
            if text.is_char_boundary(i) && text.is_char_boundary(i + 1) {
                text.replace_range(i..i + 1, &char::from(b).to_string());
            }
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_envelope_reads_as_serde_json_reads_it(text in envelope_text()) {
        let ours = parse_invocation(&text);
        let theirs = serde_json::from_str::<Invocation<'_>>(&text);
        match (ours, theirs) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), format!("the invocation is not a Firehose transformation event: {b}")),
            (a, b) => return Err(TestCaseError::fail(format!("{text}\nours: {a:?}\nserde_json: {b:?}"))),
        }
    }

    #[test]
    fn every_record_gets_exactly_one_well_formed_answer(data in prop::collection::vec(record_data(), 0..12)) {
        let inv = invocation(&data);
        let out = transform(&inv).unwrap();
        let records = &out.response.records;
        prop_assert_eq!(records.len(), data.len());
        for (i, r) in records.iter().enumerate() {
            prop_assert_eq!(&r.record_id, &format!("r{i}"));
            // Partition keys exactly on the records Firehose delivers.
            prop_assert_eq!(r.metadata.is_some(), r.result == RecordResult::Ok);
            if r.result != RecordResult::Ok {
                prop_assert_eq!(&r.data, &data[i], "unchanged input");
            }
        }
        let r = &out.report;
        prop_assert_eq!(r.ok + r.dropped + r.failed(), data.len());
        let mut wire = Vec::new();
        Transformer::new().transform_into(&inv, ALL_DAYS, RESPONSE_LIMIT_BYTES, &mut wire).unwrap();
        prop_assert_eq!(
            String::from_utf8(wire).unwrap(),
            serde_json::to_string(&out.response).unwrap(),
            "the transform writes exactly what serde_json writes for the response"
        );

        let table = Table::embedded();
        let mut keys_seen = std::collections::HashSet::new();
        for (i, text, keys) in ok_records(&out.response) {
            let ok: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&render_ok(&ok), &text, "compact, contract key order, one newline");
            if let Err(e) = check_fits_table(table, &ok, &keys) {
                return Err(TestCaseError::fail(e));
            }
            let input_bytes = STANDARD.decode(&data[i]).unwrap();
            let input: Value = match serde_json::from_slice(&input_bytes) {
                Ok(v) => v,
                // JSON's grammar allows 1e400; serde_json refuses numbers beyond f64. The
                // transform keeps such members byte-exact in payload (see docs/transform.md).
                Err(e) if is_number_out_of_range(&e) => continue,
                Err(e) => return Err(TestCaseError::fail(format!("an Ok input is valid JSON: {e}"))),
            };
            let mut input = input.as_object().cloned().expect("an Ok input is an object");
            if input["created_at"].as_f64() == Some(0.0) {
                input.insert("created_at".into(), Value::from(0)); // "-0" is written 0
            }
            prop_assert_eq!(rebuild(&ok), input, "input rebuilt from the output");
            let uuid = ok["event_uuid"].as_str().unwrap().to_ascii_lowercase();
            prop_assert!(keys_seen.insert((uuid, ok["created_at"].as_u64().unwrap())), "no duplicate Ok");
        }
    }

    #[test]
    fn payload_is_the_other_members_exactly_as_written(
        extra in prop::collection::vec(("[a-z_]{1,6}|payload|event_type", json_text()), 0..6),
        at in prop::collection::vec(any::<prop::sample::Index>(), 3),
        spaces in prop::collection::vec(prop::sample::select(vec!["", "", "", " ", "\n\t", "\r\n "]), 40),
    ) {
        let mut members: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (serde_json::to_string(k).unwrap(), v.clone()))
            .collect();
        let expected = format!(
            "{{{}}}",
            members.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(",")
        );
        for (i, (k, v)) in [
            ("\"event_uuid\"", "\"0f8fad5b-d9cb-469f-a165-70867728950e\""),
            ("\"event_name\"", "\"a:b\""),
            ("\"created_at\"", "1"),
        ]
        .into_iter()
        .enumerate()
        {
            let pos = at[i].index(members.len() + 1);
            members.insert(pos, (k.to_string(), v.to_string()));
        }
        let mut ws = spaces.iter().cycle();
        let mut text = format!("{}{{", ws.next().unwrap());
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                text.push_str(&format!("{},{}", ws.next().unwrap(), ws.next().unwrap()));
            }
            text.push_str(&format!("{k}{}:{}{v}", ws.next().unwrap(), ws.next().unwrap()));
        }
        text.push_str(&format!("{}}}{}", ws.next().unwrap(), ws.next().unwrap()));
        let (out, _) = eventlake_transform::enrich(text.as_bytes()).unwrap();
        let ok: Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(ok["payload"].as_str().unwrap(), expected.as_str(), "{}", text);
    }

    #[test]
    fn only_events_dated_inside_the_lake_window_are_ok(
        created_at in 0u64..=253_402_300_799,
        now in 1_500_000_000i64..2_000_000_000,
        first in "20(1[0-9]|2[0-6])-0[1-9]-1[0-9]",
        ahead in 0i64..10,
    ) {
        let window = LakeWindow::parse(&format!("{first},NOW+{ahead}DAYS")).unwrap();
        let days = window.days_at(now);
        let event = format!(r#"{{"event_uuid":"0f8fad5b-d9cb-469f-a165-70867728950e","event_name":"a:b","created_at":{created_at}}}"#);
        let data = vec![STANDARD.encode(event)];
        let out = transform_with_limit(&invocation(&data), days, RESPONSE_LIMIT_BYTES).unwrap();
        let day = (created_at / 86_400) as i64;
        let inside = window.first_day() <= day && day <= now.div_euclid(86_400) + ahead;
        prop_assert_eq!(out.response.records[0].result == RecordResult::Ok, inside);
        if !inside {
            let reason = out.report.rejections[0].error.to_string();
            prop_assert!(reason.starts_with(&format!("created_at {created_at} is ")), "{}", reason);
            prop_assert_eq!(out.report.rejections[0].error.code(), "created_at_outside_lake_window");
        }
    }

    #[test]
    fn text_serde_json_rejects_is_never_ok(text in event_text(), i in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut bytes = text.into_bytes();
        let at = i.index(bytes.len());
        bytes[at] = b;
        let data = vec![STANDARD.encode(&bytes)];
        let out = transform(&invocation(&data)).unwrap();
        if serde_json::from_slice::<Value>(&bytes).is_err_and(|e| !is_number_out_of_range(&e)) {
            prop_assert_eq!(out.response.records[0].result, RecordResult::ProcessingFailed);
        }
    }
}

#[test]
fn the_size_guard_keeps_responses_under_the_limit_and_loses_nothing() {
    let event = |i: usize| {
        STANDARD.encode(format!(
            r#"{{"event_uuid":"00000000-0000-4000-8000-{i:012}","event_name":"a:b","created_at":1,"pad":"{}"}}"#,
            "x".repeat(200)
        ))
    };
    let data: Vec<String> = (0..50).map(event).collect();
    let inv = invocation(&data);
    let wire_len = |inv: &Invocation<'_>, limit: usize| {
        let mut wire = Vec::new();
        Transformer::new()
            .transform_into(inv, ALL_DAYS, limit, &mut wire)
            .unwrap();
        wire.len()
    };
    let full_len = wire_len(&inv, usize::MAX);
    let limit = full_len - 1500;
    let cut = transform_with_limit(&inv, ALL_DAYS, limit).unwrap();
    assert!(wire_len(&inv, limit) <= limit);
    assert_eq!(serde_json::to_vec(&cut.response).unwrap().len(), wire_len(&inv, limit));
    let failed: Vec<usize> = cut.report.rejections.iter().map(|r| r.index).collect();
    assert!(
        !failed.is_empty() && failed.iter().all(|&i| i >= 40),
        "last records first: {failed:?}"
    );
    for &i in &failed {
        assert_eq!(cut.response.records[i].result, RecordResult::ProcessingFailed);
        assert_eq!(cut.response.records[i].data, data[i]);
        assert_eq!(
            cut.report
                .rejections
                .iter()
                .find(|r| r.index == i)
                .unwrap()
                .error
                .code(),
            "response_too_large"
        );
    }
    assert_eq!(cut.report.ok + failed.len(), 50);
    // A limit below even the all-unchanged response is an invocation error, not silent loss.
    assert!(transform_with_limit(&inv, ALL_DAYS, 100).is_err());
}
