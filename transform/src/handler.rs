//! The Lambda entry point: read the envelope, transform, log, emit metrics, answer.

use std::io::Write;

use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;

use crate::error::InvocationError;
use crate::firehose::{delivery_stream_name, parse_invocation, Invocation, Transformer, RESPONSE_LIMIT_BYTES};
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

/// Answers invocations: the settings and the scratch space one Lambda instance keeps from
/// one invocation to the next.
#[derive(Debug, Default)]
pub struct Handler {
    config: Config,
    transformer: Transformer,
}

impl Handler {
    /// Creates a handler with empty scratch space.
    pub fn new(config: Config) -> Handler {
        Handler {
            config,
            transformer: Transformer::new(),
        }
    }

    /// The settings it answers with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one invocation given as its request body: reads the envelope, transforms every
    /// record, logs rejections, writes the EMF metrics to `metrics` (stdout in Lambda, where
    /// CloudWatch picks them up) and the response JSON to `response`.
    pub fn handle_body(
        &mut self,
        body: &[u8],
        response: &mut Vec<u8>,
        metrics: &mut impl Write,
    ) -> Result<(), InvocationError> {
        let invocation = match simdutf8::basic::from_utf8(body) {
            Ok(text) => parse_invocation(text)?,
            // Not UTF-8: serde_json says where, or reads it if the bad bytes are in a field
            // this function ignores.
            Err(_) => serde_json::from_slice(body)?,
        };
        self.handle(&invocation, response, metrics)
    }

    /// [`Handler::handle_body`] for an invocation already read.
    pub fn handle(
        &mut self,
        invocation: &Invocation<'_>,
        response: &mut Vec<u8>,
        metrics: &mut impl Write,
    ) -> Result<(), InvocationError> {
        let report = self
            .transformer
            .transform_into(invocation, RESPONSE_LIMIT_BYTES, response)?;
        report.log(&invocation.invocation_id, self.config.logged_rejections);
        let stream = delivery_stream_name(&invocation.delivery_stream_arn);
        let now_ms = chrono::Utc::now().timestamp_millis();
        for line in report.emf_lines(&self.config.metrics_namespace, stream, now_ms) {
            // A failed metrics write must not fail the batch: the records are what matters.
            if let Err(e) = writeln!(metrics, "{line}") {
                tracing::warn!(error = %e, "Could not write metrics.");
            }
        }
        Ok(())
    }
}

/// The handler in lambda_runtime's own form, for the invocations the Firehose layer
/// ([`crate::runtime`]) passes on: the runtime has parsed the body into the invocation type
/// (or reported why it could not) and sends the returned JSON as is.
pub fn handle(
    config: &Config,
    event: LambdaEvent<Invocation<'static>>,
    metrics: &mut impl Write,
) -> Result<Box<RawValue>, lambda_runtime::Error> {
    let mut response = Vec::new();
    Handler::new(config.clone()).handle(&event.payload, &mut response, metrics)?;
    Ok(RawValue::from_string(String::from_utf8(response)?)?)
}
