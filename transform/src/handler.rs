//! The Lambda entry point: read the envelope, transform, log, emit metrics, answer.

use std::io::Write;

use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

use crate::firehose::{delivery_stream_name, transform, write_response, Invocation};
use crate::telemetry::DEFAULT_LOGGED_REJECTIONS;

/// Settings read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// CloudWatch namespace of the EMF metrics (`EVENTLAKE_METRICS_NAMESPACE`, default `eventlake`).
    pub metrics_namespace: String,
    /// Rejections logged one by one per invocation (`EVENTLAKE_LOGGED_REJECTIONS`, default 10).
    pub logged_rejections: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            metrics_namespace: "eventlake".into(),
            logged_rejections: DEFAULT_LOGGED_REJECTIONS,
        }
    }
}

impl Config {
    /// Reads the settings from environment variables, with defaults.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Config {
        let d = Config::default();
        Config {
            metrics_namespace: get("EVENTLAKE_METRICS_NAMESPACE")
                .filter(|s| !s.is_empty())
                .unwrap_or(d.metrics_namespace),
            logged_rejections: get("EVENTLAKE_LOGGED_REJECTIONS")
                .and_then(|s| s.parse().ok())
                .unwrap_or(d.logged_rejections),
        }
    }
}

/// Handles one invocation: the function the Lambda runtime calls. Metrics go to `metrics`
/// (stdout in Lambda, where CloudWatch picks up EMF lines). The response is returned as
/// ready JSON text, which the runtime sends as is.
pub fn handle(
    config: &Config,
    event: LambdaEvent<Invocation<'static>>,
    metrics: &mut impl Write,
) -> Result<Box<RawValue>, lambda_runtime::Error> {
    let invocation = event.payload;
    let transformed = transform(&invocation)?;
    transformed
        .report
        .log(&invocation.invocation_id, config.logged_rejections);
    let stream = delivery_stream_name(&invocation.delivery_stream_arn);
    let now_ms = chrono::Utc::now().timestamp_millis();
    for line in transformed.report.emf_lines(&config.metrics_namespace, stream, now_ms) {
        // A failed metrics write must not fail the batch: the records are what matters.
        if let Err(e) = writeln!(metrics, "{line}") {
            tracing::warn!(error = %e, "Could not write metrics.");
        }
    }
    Ok(RawValue::from_string(write_response(&transformed.response))?)
}
