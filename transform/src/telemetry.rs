//! Logs and metrics: structured JSON logs with bounded rejection detail, and one CloudWatch
//! Embedded Metric Format (EMF) document per invocation (plus one per rejection reason).
//!
//! EMF spec: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use std::collections::BTreeMap;

use serde_json::json;
use tracing_subscriber::EnvFilter;

use crate::firehose::BatchReport;

/// Metric names, shared with the CDK alarms and dashboard (see `docs/operations.md`).
pub mod metric {
    /// Records received.
    pub const RECORDS_IN: &str = "RecordsIn";
    /// Records returned `Ok`.
    pub const RECORDS_OK: &str = "RecordsOk";
    /// Records returned `Dropped`.
    pub const RECORDS_DROPPED: &str = "RecordsDropped";
    /// Records returned `ProcessingFailed`.
    pub const RECORDS_FAILED: &str = "RecordsProcessingFailed";
    /// Decoded event bytes received.
    pub const BYTES_IN: &str = "BytesIn";
    /// Decoded bytes returned.
    pub const BYTES_OUT: &str = "BytesOut";
    /// `Ok` records of an event type not in the catalog (dimension `EventType`).
    pub const RECORDS_UNKNOWN_TYPE: &str = "RecordsUnknownEventType";
    /// `Ok` records of a catalog event with a field in another JSON kind than its catalog
    /// type (`crate::drift`); no per-field dimension.
    pub const RECORDS_FIELD_DRIFT: &str = "RecordsFieldDrift";
}

/// At most this many unknown event types get their own metric per invocation; the rest are
/// summed under `EventType=other`, so a flood of bad names cannot explode metric cardinality.
pub const MAX_UNKNOWN_TYPE_METRICS: usize = 10;

/// Where log output goes and how it looks, from the standard Lambda variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `tracing` filter directives.
    pub filter: String,
    /// JSON lines (the default) or plain text.
    pub json: bool,
}

impl LogSettings {
    /// Reads `RUST_LOG` (wins when set), else `AWS_LAMBDA_LOG_LEVEL`, else `info`; and
    /// `AWS_LAMBDA_LOG_FORMAT` (`Text` for plain text, JSON otherwise).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> LogSettings {
        let filter = get("RUST_LOG")
            .filter(|v| !v.trim().is_empty())
            .or_else(|| get("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_ascii_lowercase()))
            .unwrap_or_else(|| "info".to_string());
        let json = !get("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("text"));
        LogSettings { filter, json }
    }

    /// Installs the global subscriber (stdout, as Lambda expects). Unknown filter directives
    /// fall back to `info` rather than failing start-up.
    pub fn install(&self) {
        let filter = EnvFilter::try_new(&self.filter).unwrap_or_else(|_| EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .without_time();
        if self.json {
            builder.json().flatten_event(true).with_current_span(false).init();
        } else {
            builder.init();
        }
    }
}

/// How many rejections are logged one by one per invocation; the rest are summarized.
pub const DEFAULT_LOGGED_REJECTIONS: usize = 10;

impl BatchReport {
    /// Records returned `ProcessingFailed`.
    pub fn failed(&self) -> usize {
        self.rejections.len()
    }

    /// Rejections counted by reason code.
    pub fn failures_by_code(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for r in &self.rejections {
            *counts.entry(r.error.code()).or_insert(0) += 1;
        }
        counts
    }

    /// Logs the batch: the first `max_individual` rejections one line each (WARN), then one
    /// summary line with counts by reason; one INFO line with the totals. At most
    /// `max_individual + 2` lines whatever the batch holds.
    pub fn log(&self, invocation_id: &str, max_individual: usize) {
        for r in self.rejections.iter().take(max_individual) {
            tracing::warn!(
                invocation_id,
                record_id = %r.record_id,
                reason_code = r.error.code(),
                reason = %r.error,
                "Record rejected."
            );
        }
        if self.rejections.len() > max_individual {
            let by_code = serde_json::to_string(&self.failures_by_code()).unwrap_or_default();
            tracing::warn!(
                invocation_id,
                not_logged = self.rejections.len() - max_individual,
                failures_by_reason = %by_code,
                "More records rejected than logged individually."
            );
        }
        if !self.unknown_event_types.is_empty() {
            let types = serde_json::to_string(&self.unknown_event_types).unwrap_or_default();
            tracing::warn!(
                invocation_id,
                unknown_event_types = %types,
                "Events of types not in the catalog: delivered, but not visible in Athena until added."
            );
        }
        if self.field_drift.records > 0 {
            let examples = serde_json::to_string(&self.field_drift.examples).unwrap_or_default();
            tracing::warn!(
                invocation_id,
                field_drift_records = self.field_drift.records,
                examples = %examples,
                "Catalog fields arrived in another JSON kind than their type: delivered, but the typed views may read them as NULL."
            );
        }
        tracing::info!(
            invocation_id,
            records = self.records,
            ok = self.ok,
            dropped = self.dropped,
            processing_failed = self.failed(),
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            "Batch transformed."
        );
    }

    /// EMF documents for this batch: one with the totals (dimension `DeliveryStream`), then
    /// one per rejection reason (dimensions `DeliveryStream`, `Reason`). One line each.
    pub fn emf_lines(&self, namespace: &str, delivery_stream: &str, timestamp_ms: i64) -> Vec<String> {
        let count = |name: &str| json!({"Name": name, "Unit": "Count"});
        let bytes = |name: &str| json!({"Name": name, "Unit": "Bytes"});
        let mut lines = vec![json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["DeliveryStream"]],
                    "Metrics": [
                        count(metric::RECORDS_IN), count(metric::RECORDS_OK), count(metric::RECORDS_DROPPED),
                        count(metric::RECORDS_FAILED), bytes(metric::BYTES_IN), bytes(metric::BYTES_OUT),
                        count(metric::RECORDS_FIELD_DRIFT),
                    ],
                }],
            },
            "DeliveryStream": delivery_stream,
            metric::RECORDS_IN: self.records,
            metric::RECORDS_OK: self.ok,
            metric::RECORDS_DROPPED: self.dropped,
            metric::RECORDS_FAILED: self.failed(),
            metric::BYTES_IN: self.bytes_in,
            metric::BYTES_OUT: self.bytes_out,
            metric::RECORDS_FIELD_DRIFT: self.field_drift.records,
        })
        .to_string()];
        let mut unknown: Vec<(&str, usize)> = Vec::new();
        for (i, (t, n)) in self.unknown_event_types.iter().enumerate() {
            if i < MAX_UNKNOWN_TYPE_METRICS {
                unknown.push((t.as_str(), *n));
            } else if let Some(last) = unknown.last_mut().filter(|(name, _)| *name == "other") {
                last.1 += n;
            } else {
                unknown.push(("other", *n));
            }
        }
        // One document per value of a second dimension: the shape both breakdowns share.
        let breakdown = |dimension: &str, value: &str, metric_name: &str, n: usize| {
            let mut doc = json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [["DeliveryStream", dimension]],
                        "Metrics": [count(metric_name)],
                    }],
                },
                "DeliveryStream": delivery_stream,
            });
            doc[dimension] = json!(value);
            doc[metric_name] = json!(n);
            doc.to_string()
        };
        for (event_type, n) in unknown {
            lines.push(breakdown("EventType", event_type, metric::RECORDS_UNKNOWN_TYPE, n));
        }
        for (code, n) in self.failures_by_code() {
            lines.push(breakdown("Reason", code, metric::RECORDS_FAILED, n));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RecordError;
    use crate::firehose::Rejection;

    #[test]
    fn log_settings_follow_lambda_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(
            LogSettings::from_env(env(&[])),
            LogSettings {
                filter: "info".into(),
                json: true
            }
        );
        assert_eq!(
            LogSettings::from_env(env(&[
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
                ("AWS_LAMBDA_LOG_FORMAT", "Text")
            ])),
            LogSettings {
                filter: "debug".into(),
                json: false
            }
        );
        assert_eq!(
            LogSettings::from_env(env(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "warn")])).filter,
            "warn"
        );
    }

    #[test]
    fn emf_has_totals_and_one_document_per_reason() {
        let rej = |i: usize, e: RecordError| Rejection {
            index: i,
            record_id: i.to_string(),
            error: e,
        };
        let report = BatchReport {
            records: 5,
            ok: 2,
            dropped: 0,
            bytes_in: 100,
            bytes_out: 180,
            rejections: vec![
                rej(0, RecordError::Empty),
                rej(1, RecordError::Empty),
                rej(3, RecordError::NotUtf8 { offset: 0 }),
            ],
            unknown_event_types: Default::default(),
            field_drift: crate::drift::DriftReport {
                records: 1,
                examples: Vec::new(),
            },
        };
        let lines = report.emf_lines("eventlake", "s1", 42);
        assert_eq!(lines.len(), 3);
        let main: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(main["RecordsProcessingFailed"], 3);
        assert_eq!(main["RecordsIn"], 5);
        assert_eq!(
            main["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            7
        );
        assert_eq!(
            main[metric::RECORDS_FIELD_DRIFT],
            1,
            "one metric, no per-field dimension"
        );
        // Every metric named in the directive has a value in the document.
        for m in main["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap() {
            assert!(main[m["Name"].as_str().unwrap()].is_number());
        }
        let reason: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(
            (reason["Reason"].as_str(), reason["RecordsProcessingFailed"].as_u64()),
            (Some("empty"), Some(2))
        );
        assert!(lines.iter().all(|l| !l.contains('\n')));
    }
}

#[cfg(test)]
mod unknown_type_tests {
    use super::*;

    #[test]
    fn unknown_event_types_are_counted_with_bounded_cardinality() {
        let mut report = BatchReport::default();
        for i in 0..(MAX_UNKNOWN_TYPE_METRICS + 5) {
            report.unknown_event_types.insert(format!("t{i:02}"), 2);
        }
        let lines = report.emf_lines("eventlake", "s1", 0);
        let docs: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let unknown: Vec<&serde_json::Value> = docs.iter().filter(|d| d.get("EventType").is_some()).collect();
        assert_eq!(unknown.len(), MAX_UNKNOWN_TYPE_METRICS + 1);
        let other = unknown.iter().find(|d| d["EventType"] == "other").unwrap();
        assert_eq!(other[metric::RECORDS_UNKNOWN_TYPE], 10);
        let total: u64 = unknown
            .iter()
            .map(|d| d[metric::RECORDS_UNKNOWN_TYPE].as_u64().unwrap())
            .sum();
        assert_eq!(total, 2 * (MAX_UNKNOWN_TYPE_METRICS as u64 + 5));
    }
}

#[cfg(test)]
mod drift_tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into a shared buffer, for capturing log lines.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_drift_fixture_is_counted_in_one_metric_and_named_in_one_bounded_log_line() {
        let input =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/field-drift/input.json")).unwrap();
        let invocation = crate::parse_invocation(&input).unwrap();
        let out = crate::transform(&invocation).unwrap();
        let report = &out.report;
        assert_eq!(
            (report.ok, report.field_drift.records),
            (5, 3),
            "drift is reported, not rejected"
        );

        let main: serde_json::Value = serde_json::from_str(&report.emf_lines("eventlake", "s", 0)[0]).unwrap();
        assert_eq!(main[metric::RECORDS_FIELD_DRIFT], 3);
        assert_eq!(
            main["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["DeliveryStream"]])
        );

        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || report.log("inv-1", DEFAULT_LOGGED_REJECTIONS));
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let drift: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|l| l.get("field_drift_records").is_some())
            .collect();
        assert_eq!(drift.len(), 1, "one line per invocation: {text}");
        assert_eq!(drift[0]["level"], "WARN");
        assert_eq!(drift[0]["field_drift_records"], 3);
        let examples: serde_json::Value = serde_json::from_str(drift[0]["examples"].as_str().unwrap()).unwrap();
        assert_eq!(examples.as_array().unwrap().len(), crate::drift::MAX_DRIFT_EXAMPLES);
        assert_eq!(
            examples[0],
            json!({"event_name": "payment:order:completed", "field": "amount", "expected": "number", "got": "string"})
        );
    }
}
