//! The Kinesis client (the AWS SDK's standard credential chain) and the stream's description.

use aws_sdk_kinesis::Client;

use super::calls::error_line;
use crate::CliError;

/// The SDK's HTTP client with rustls on ring (the TLS stack object_store already builds).
pub fn http_client() -> aws_sdk_kinesis::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// A Kinesis client from the standard AWS configuration chain (environment, profiles, SSO,
/// container and instance roles), with `region` and `endpoint_url` overriding it. The SDK's own
/// retries are off: [`produce`] retries and counts every call itself.
pub async fn client(region: Option<&str>, endpoint_url: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(aws_config::retry::RetryConfig::disabled());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    Client::new(&loader.load().await)
}

/// What the stream looks like before the run: open shards and capacity mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Open shards.
    pub shards: i32,
    /// `PROVISIONED` or `ON_DEMAND`.
    pub mode: String,
}

/// Checks that the stream exists and is writable before any event is read.
pub async fn describe(client: &Client, stream: &str) -> Result<StreamInfo, CliError> {
    let request = client.describe_stream_summary();
    let request = if stream.starts_with("arn:") {
        request.stream_arn(stream)
    } else {
        request.stream_name(stream)
    };
    let summary = request
        .send()
        .await
        .map_err(|e| CliError::Produce(format!("stream {stream}: {}", error_line(&e))))?;
    let description = summary.stream_description_summary().ok_or_else(|| {
        CliError::Produce(format!(
            "stream {stream}: DescribeStreamSummary returned no description"
        ))
    })?;
    let status = description.stream_status().as_str();
    if status != "ACTIVE" && status != "UPDATING" {
        return Err(CliError::Produce(format!(
            "stream {stream} is {status}; it takes records when ACTIVE"
        )));
    }
    Ok(StreamInfo {
        shards: description.open_shard_count(),
        mode: description
            .stream_mode_details()
            .map_or_else(|| "PROVISIONED".to_string(), |m| m.stream_mode().as_str().to_string()),
    })
}
