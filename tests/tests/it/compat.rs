//! The wire types stay compatible with the `aws_lambda_events` Firehose types.

use aws_lambda_events::event::firehose::{KinesisFirehoseEvent, KinesisFirehoseResponse};
use eventlake_tests::fixtures;
use eventlake_transform::{parse_invocation, transform};

#[test]
fn fixture_inputs_are_firehose_events_and_responses_are_firehose_responses() {
    for fx in fixtures() {
        let ours = parse_invocation(&fx.input).unwrap();
        // aws_lambda_events decodes `data` as base64 eagerly, so a record with bad base64
        // (only in hand-made events) fails the whole event there (and the response, which
        // returns such data unchanged); we handle it per record.
        if ours.records.iter().any(|r| r.data == "not base64!") {
            continue;
        }
        {
            let theirs: KinesisFirehoseEvent =
                serde_json::from_str(&fx.input).unwrap_or_else(|e| panic!("{}: {e}", fx.name));
            assert_eq!(theirs.records.len(), ours.records.len());
            assert_eq!(theirs.invocation_id.as_deref(), Some(&*ours.invocation_id));
            for (t, o) in theirs.records.iter().zip(&ours.records) {
                assert_eq!(t.record_id.as_deref(), Some(&*o.record_id));
            }
        }
        let out = transform(&ours).unwrap();
        let mut json = serde_json::to_value(&out.response).unwrap();
        // aws_lambda_events requires `metadata` on every record; Firehose's documented format
        // (and this transform) leaves it out of records that are not `Ok`.
        for r in json["records"].as_array_mut().unwrap() {
            if r.get("metadata").is_none() {
                r["metadata"] = serde_json::json!({"partitionKeys": {}});
            }
        }
        let theirs: KinesisFirehoseResponse =
            serde_json::from_value(json).unwrap_or_else(|e| panic!("{}: {e}", fx.name));
        for (t, o) in theirs.records.iter().zip(&out.response.records) {
            assert_eq!(t.result.as_deref(), Some(o.result.as_str()));
            let keys = &t.metadata.partition_keys;
            match &o.metadata {
                Some(m) => {
                    assert_eq!(keys.get("event_type"), Some(&m.partition_keys.event_type));
                    assert_eq!(keys.get("created_date"), Some(&m.partition_keys.created_date));
                }
                None => assert!(keys.is_empty()),
            }
        }
    }
}
