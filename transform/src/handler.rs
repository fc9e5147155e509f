//! The Lambda entry point: read the envelope, transform, log, emit metrics, answer.

use std::io::Write;

use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

use crate::error::InvocationError;
use crate::firehose::{
    delivery_stream_name, parse_invocation, BatchReport, Invocation, Transformer, RESPONSE_LIMIT_BYTES,
};
use crate::telemetry::DEFAULT_LOGGED_REJECTIONS;
use eventlake_glue_schema::{LakeWindow, WindowError};

/// The environment variable that sets the lake window (`projection.created_date.range` of the
/// stage's Glue table; the CDK sets both from the stage's `lakeDateRange`).
pub const LAKE_DATE_RANGE_ENV: &str = "EVENTLAKE_LAKE_DATE_RANGE";

/// Settings read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// CloudWatch namespace of the EMF metrics (`EVENTLAKE_METRICS_NAMESPACE`, default `eventlake`).
    pub metrics_namespace: String,
    /// Rejections logged one by one per invocation (`EVENTLAKE_LOGGED_REJECTIONS`, default 10).
    pub logged_rejections: usize,
    /// The dates Athena can show ([`LAKE_DATE_RANGE_ENV`], default the range of
    /// `glue-schema/table.json`): events dated outside are `ProcessingFailed`.
    pub window: LakeWindow,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            metrics_namespace: "eventlake".into(),
            logged_rejections: DEFAULT_LOGGED_REJECTIONS,
            window: LakeWindow::embedded().clone(),
        }
    }
}

impl Config {
    /// Reads the settings from environment variables, with defaults. A lake date range that
    /// does not parse is an error: the function must not start with a window nobody chose.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Config, WindowError> {
        let d = Config::default();
        Ok(Config {
            metrics_namespace: get("EVENTLAKE_METRICS_NAMESPACE")
                .filter(|s| !s.is_empty())
                .unwrap_or(d.metrics_namespace),
            logged_rejections: get("EVENTLAKE_LOGGED_REJECTIONS")
                .and_then(|s| s.parse().ok())
                .unwrap_or(d.logged_rejections),
            window: match get(LAKE_DATE_RANGE_ENV).filter(|s| !s.is_empty()) {
                Some(range) => LakeWindow::parse(&range)?,
                None => d.window,
            },
        })
    }
}

/// The current time in Unix seconds: the Lambda's own clock in production.
pub fn system_clock() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Answers invocations: the settings and the scratch space one Lambda instance keeps from
/// one invocation to the next.
#[derive(Debug)]
pub struct Handler {
    config: Config,
    transformer: Transformer,
    clock: fn() -> i64,
}

impl Default for Handler {
    fn default() -> Handler {
        Handler::new(Config::default())
    }
}

impl Handler {
    /// Creates a handler with empty scratch space, on the system clock.
    pub fn new(config: Config) -> Handler {
        Handler::with_clock(config, system_clock)
    }

    /// A handler whose processing time (for the lake window) comes from `clock`, in Unix
    /// seconds: for tests.
    pub fn with_clock(config: Config, clock: fn() -> i64) -> Handler {
        Handler {
            config,
            transformer: Transformer::new(),
            clock,
        }
    }

    /// The clock it reads.
    pub fn clock(&self) -> fn() -> i64 {
        self.clock
    }

    /// The settings it answers with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one invocation given as its request body: reads the envelope, transforms every
    /// record, logs rejections, writes the EMF metrics to `metrics` (stdout in Lambda, where
    /// CloudWatch picks them up) and the response JSON to `response`. Returns what happened to
    /// each record (the rejections with their reasons).
    pub fn handle_body(
        &mut self,
        body: &[u8],
        response: &mut Vec<u8>,
        metrics: &mut impl Write,
    ) -> Result<BatchReport, InvocationError> {
        let invocation = match simdutf8::basic::from_utf8(body) {
            Ok(text) => parse_invocation(text)?,
            // Not UTF-8: serde_json says where, or reads it if the bad bytes are in a field
            // this function ignores.
            Err(_) => serde_json::from_slice(body)?,
        };
        self.handle_invocation(&invocation, response, metrics)
    }

    /// [`Handler::handle_body`] for an invocation already read.
    pub fn handle_invocation(
        &mut self,
        invocation: &Invocation<'_>,
        response: &mut Vec<u8>,
        metrics: &mut impl Write,
    ) -> Result<BatchReport, InvocationError> {
        let days = self.config.window.days_at((self.clock)());
        let report = self
            .transformer
            .transform_into(invocation, days, RESPONSE_LIMIT_BYTES, response)?;
        report.log(&invocation.invocation_id, self.config.logged_rejections);
        let stream = delivery_stream_name(&invocation.delivery_stream_arn);
        let now_ms = chrono::Utc::now().timestamp_millis();
        for line in report.emf_lines(&self.config.metrics_namespace, stream, now_ms) {
            // A failed metrics write must not fail the batch: the records are what matters.
            if let Err(e) = writeln!(metrics, "{line}") {
                tracing::warn!(error = %e, "Could not write metrics.");
            }
        }
        Ok(report)
    }
}

/// The handler in lambda_runtime's own form, for the invocations the Firehose layer
/// ([`crate::runtime`]) passes on: the runtime has parsed the body into the invocation type
/// (or reported why it could not) and sends the returned JSON as is.
pub fn handle_lambda_event(
    config: &Config,
    event: LambdaEvent<Invocation<'static>>,
    metrics: &mut impl Write,
) -> Result<Box<RawValue>, lambda_runtime::Error> {
    let mut response = Vec::new();
    Handler::new(config.clone()).handle_invocation(&event.payload, &mut response, metrics)?;
    Ok(RawValue::from_string(String::from_utf8(response)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// 2026-12-02T12:00:00Z.
    fn noon() -> i64 {
        1_796_212_800
    }

    fn body(created_at: &[u64]) -> String {
        let records: Vec<String> = created_at
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let event = format!(
                    r#"{{"event_uuid":"0f8fad5b-d9cb-469f-a165-7086772895{i:02}","event_name":"a:b","created_at":{t}}}"#
                );
                format!(
                    r#"{{"recordId":"r{i}","approximateArrivalTimestamp":0,"data":"{}"}}"#,
                    base64::engine::general_purpose::STANDARD.encode(event)
                )
            })
            .collect();
        format!(
            r#"{{"invocationId":"i","deliveryStreamArn":"arn:aws:firehose:eu-west-1:1:deliverystream/d","region":"eu-west-1","records":[{}]}}"#,
            records.join(",")
        )
    }

    fn results(handler: &mut Handler, created_at: &[u64]) -> Vec<String> {
        let (mut response, mut metrics) = (Vec::new(), Vec::new());
        handler
            .handle_body(body(created_at).as_bytes(), &mut response, &mut metrics)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&response).unwrap();
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["result"].as_str().unwrap().to_string())
            .collect()
    }

    // 2019-12-31T23:59:59Z, 2020-01-01T00:00:00Z, 2026-12-03T23:59:59Z, 2026-12-04T00:00:00Z.
    const BOUNDS: [u64; 4] = [1_577_836_799, 1_577_836_800, 1_796_342_399, 1_796_342_400];

    #[test]
    fn the_lambda_path_applies_the_lake_window_at_its_clock() {
        let mut handler = Handler::with_clock(Config::default(), noon);
        assert_eq!(
            results(&mut handler, &BOUNDS),
            ["ProcessingFailed", "Ok", "Ok", "ProcessingFailed"]
        );
        // A day later, the day after tomorrow of noon is tomorrow.
        let mut later = Handler::with_clock(Config::default(), || noon() + 86_400);
        assert_eq!(results(&mut later, &BOUNDS[3..]), ["Ok"]);
    }

    #[test]
    fn a_widened_range_from_the_environment_moves_the_bound() {
        let env = |k: &str| (k == LAKE_DATE_RANGE_ENV).then(|| "2015-01-01,NOW+2DAYS".to_string());
        let config = Config::from_env(env).unwrap();
        assert_eq!(config.window.range(), "2015-01-01,NOW+2DAYS");
        let mut handler = Handler::with_clock(config, noon);
        assert_eq!(results(&mut handler, &BOUNDS), ["Ok", "Ok", "Ok", "Ok"]);
        assert_eq!(results(&mut handler, &[1_420_070_399]), ["ProcessingFailed"]);
        // 2014-12-31
    }

    #[test]
    fn an_unreadable_range_stops_the_function_at_start() {
        let env = |k: &str| (k == LAKE_DATE_RANGE_ENV).then(|| "NOW-3YEARS,NOW".to_string());
        let err = Config::from_env(env).unwrap_err();
        assert!(err.to_string().contains("NOW-3YEARS,NOW"), "{err}");
        assert_eq!(Config::from_env(|_| None).unwrap(), Config::default());
    }

    #[test]
    fn rejected_dates_are_counted_under_their_reason() {
        let mut handler = Handler::with_clock(Config::default(), noon);
        let (mut response, mut metrics) = (Vec::new(), Vec::new());
        handler
            .handle_body(body(&[0, 1_710_670_500]).as_bytes(), &mut response, &mut metrics)
            .unwrap();
        let metrics = String::from_utf8(metrics).unwrap();
        let reason_line = metrics
            .lines()
            .find(|l| l.contains("\"Reason\""))
            .expect("a metric per reason");
        let doc: serde_json::Value = serde_json::from_str(reason_line).unwrap();
        assert_eq!(doc["Reason"], "created_at_outside_lake_window");
        assert_eq!(doc["RecordsProcessingFailed"], 1);
    }
}
