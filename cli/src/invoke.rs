//! `eventlake invoke`: run the Lambda's own transform on a Firehose event locally.

use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use eventlake_transform::handler::Handler;
use eventlake_transform::Response;
use serde_json::json;

use crate::CliError;

/// How `invoke` prints the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// Exactly what the Lambda returns to Firehose (compact JSON).
    #[default]
    Wire,
    /// The same, pretty-printed.
    Pretty,
    /// Readable: each record's data decoded (JSON when it is JSON), with the reason for
    /// rejected records.
    Decoded,
}

/// Transforms one invocation (`body`, its request bytes) with the Lambda's own entry point
/// (`Handler::handle_body`, its settings from the same `EVENTLAKE_*` variables) and writes
/// the response to `out`: for [`Output::Wire`], the very bytes the Lambda returns. Rejection
/// reasons are logged (stderr) by the same bounded logger; the EMF metrics are not printed.
pub fn run(body: &[u8], output: Output, out: &mut impl Write) -> Result<(), CliError> {
    let config = crate::transform_config()?;
    // Room for the whole response up front (it is about the size of the request).
    let mut wire = Vec::with_capacity(body.len() + body.len() / 4);
    let report = Handler::new(config).handle_body(body, &mut wire, &mut std::io::sink())?;
    match output {
        Output::Wire => out.write_all(&wire)?,
        Output::Pretty | Output::Decoded => {
            let response: Response =
                serde_json::from_slice(&wire).map_err(|e| std::io::Error::other(format!("response: {e}")))?;
            if output == Output::Pretty {
                serde_json::to_writer_pretty(&mut *out, &response).map_err(std::io::Error::from)?
            } else {
                serde_json::to_writer_pretty(&mut *out, &decoded_view(&response, &report))
                    .map_err(std::io::Error::from)?
            }
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The response with each record's data decoded, and reasons attached to rejected records.
pub fn decoded_view(response: &Response, report: &eventlake_transform::BatchReport) -> serde_json::Value {
    let records: Vec<serde_json::Value> = response
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let bytes = STANDARD.decode(&r.data).unwrap_or_else(|_| r.data.clone().into_bytes());
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let data = serde_json::from_str::<serde_json::Value>(&text).unwrap_or(serde_json::Value::String(text));
            let mut v = json!({ "recordId": r.record_id, "result": r.result, "data": data });
            if let Some(m) = &r.metadata {
                v["partitionKeys"] = json!(m.partition_keys);
            }
            if let Some(rej) = report.rejections.iter().find(|x| x.index == i) {
                v["reason"] = json!(rej.error.to_string());
            }
            v
        })
        .collect();
    json!({ "records": records })
}
