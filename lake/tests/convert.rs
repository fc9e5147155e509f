//! The fast conversion agrees with the general rules (the record parsed whole by serde_json)
//! on arbitrary records: results and messages.

use eventlake_glue_schema::Table;
use eventlake_lake::convert::{convert_record, Converter};
use proptest::prelude::*;

/// A JSON value text of the kinds records carry, with escapes and edge numbers.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        prop_oneof![
            Just("-0"),
            Just("1e3"),
            Just("1.5"),
            Just("9223372036854775808"),
            Just("-1.0e-2")
        ]
        .prop_map(String::from),
        "[a-zA-Z0-9 :\\-.TZ]{0,24}".prop_map(|s| format!("\"{s}\"")),
        prop_oneof![
            Just(r#""2024-03-17T10:15:00Z""#),
            Just(r#""2024-02-29 10:15:00.25""#),
            Just(r#""2023-02-29T00:00:00Z""#)
        ]
        .prop_map(String::from),
        "[a-z\"\\\\/\n\té]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just(r#"{"a":[1,{"b":null}]}"#.to_string()),
        Just("[1,2]".to_string()),
    ]
}

/// A record: members named like the table's columns (some escaped, some repeated) or not.
fn record() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("event_uuid"),
        Just("event_name"),
        Just("created_at"),
        Just("created_datetime"),
        Just("event_subtype"),
        Just("payload"),
        Just("event_type"),
        Just("other"),
        Just("event_\\u0075uid"),
    ];
    prop::collection::vec((key, value()), 0..9).prop_map(|members| {
        let body: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

proptest! {
    #[test]
    fn fast_and_general_conversion_agree(record in record()) {
        let table = Table::embedded();
        let converter = Converter::new(table).unwrap();
        let mut row = Vec::new();
        let fast = converter.convert(record.as_bytes(), &mut row).map(|()| row.clone());
        prop_assert_eq!(fast, convert_record(table, record.as_bytes()), "{}", record);
    }
}
