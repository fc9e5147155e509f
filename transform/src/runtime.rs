//! The Firehose layer over lambda_runtime: each invocation is answered from the request
//! body's bytes, and the response goes back as the bytes the transform wrote.
//!
//! lambda_runtime drives the Lambda Runtime API (polling `/next`, the invocation context, the
//! X-Ray trace id, tracing spans, shutdown). Its handler path parses the body with serde_json
//! into owned types and serializes the response again; for a 4 MB Firehose invocation that
//! costs about as much as transforming every record (docs/performance.md). This layer sits
//! in front of it ([`lambda_runtime::Runtime::layer`]): the envelope is read in place, the
//! response is written once and posted with the Runtime API client lambda_runtime itself
//! uses. What the layer cannot answer (an envelope that is not a Firehose invocation, a
//! response that cannot fit, a panic) goes on to the standard path, which reports it on
//! `/error` exactly as lambda_runtime does.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::LambdaInvocation;
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{BoxError, PooledClient};

use crate::handler::{Config, Handler};

/// Header carrying the Runtime API's id of an invocation, echoed on its response.
const INVOCATION_ID_HEADER: &str = "lambda-runtime-invocation-id";

/// Puts a [`FirehoseService`] in front of lambda_runtime's own service stack.
#[derive(Debug, Clone)]
pub struct FirehoseLayer {
    config: Config,
}

impl FirehoseLayer {
    /// A layer answering with `config`'s settings. The Runtime API address comes from
    /// `AWS_LAMBDA_RUNTIME_API`, as for lambda_runtime.
    pub fn new(config: Config) -> FirehoseLayer {
        FirehoseLayer { config }
    }
}

impl<S> Layer<S> for FirehoseLayer {
    type Service = FirehoseService<S>;

    fn layer(&self, inner: S) -> FirehoseService<S> {
        FirehoseService {
            inner,
            handler: Handler::new(self.config.clone()),
            client: Arc::new(PooledClient::builder().build()),
            buffers: ResponseBuffers::default(),
        }
    }
}

/// Answers Firehose invocations from their bytes; passes anything else to `inner`.
pub struct FirehoseService<S> {
    inner: S,
    handler: Handler,
    client: Arc<PooledClient>,
    buffers: ResponseBuffers,
}

impl<S> Service<LambdaInvocation> for FirehoseService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Any invocation may go on to the standard path.
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let mut response = self.buffers.take();
        let handler = &mut self.handler;
        let handled = std::panic::catch_unwind(AssertUnwindSafe(|| {
            handler.handle_body(&invocation.body, &mut response, &mut std::io::stdout().lock())
        }));
        match handled {
            Ok(Ok(_report)) => {
                let body = Bytes::from_owner(self.buffers.loan(response));
                match response_request(&invocation, body) {
                    Ok(request) => Box::pin(send(self.client.clone(), request)),
                    Err(e) => Box::pin(std::future::ready(Err(e))),
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "Passing the invocation to the standard handler path.");
                self.buffers.put(response);
                Box::pin(self.inner.call(invocation))
            }
            Err(_) => {
                // The standard path runs the same code and reports the panic on /error.
                tracing::error!("The transform panicked; passing the invocation to the standard handler path.");
                self.handler = Handler::with_clock(self.handler.config().clone(), self.handler.clock());
                Box::pin(self.inner.call(invocation))
            }
        }
    }
}

/// The Runtime API request carrying `body` as the response to `invocation`.
fn response_request(invocation: &LambdaInvocation, body: Bytes) -> Result<http::Request<Body>, BoxError> {
    let uri = format!(
        "/2018-06-01/runtime/invocation/{}/response",
        invocation.context.request_id
    );
    let mut builder = lambda_runtime_api_client::build_request()
        .method(http::Method::POST)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(id) = invocation.parts.headers.get(INVOCATION_ID_HEADER) {
        builder = builder.header(INVOCATION_ID_HEADER, id.clone());
    }
    Ok(builder.body(Body::from(body))?)
}

/// Posts a response. Like lambda_runtime: a refusal by the Runtime API (a timed-out or stale
/// invocation) is logged and the loop goes on; a failed connection ends the runtime.
async fn send(client: Arc<PooledClient>, request: http::Request<Body>) -> Result<(), BoxError> {
    match client.call(request).await {
        Ok(answer) if answer.status().is_success() => Ok(()),
        Ok(answer) => {
            tracing::error!(status = %answer.status(), "Lambda Runtime API refused the response.");
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = ?e, "Lambda Runtime API request failed.");
            Err(e)
        }
    }
}

/// Response buffers kept for the next invocation: a buffer lent to the HTTP client as the
/// request body comes back when the client drops it, so each invocation writes into memory
/// that is already mapped instead of a fresh 4 MB allocation.
#[derive(Debug, Clone, Default)]
struct ResponseBuffers(Arc<Mutex<Vec<Vec<u8>>>>);

impl ResponseBuffers {
    /// A buffer to write into.
    fn take(&self) -> Vec<u8> {
        self.0.lock().map(|mut v| v.pop()).ok().flatten().unwrap_or_default()
    }

    /// Keeps `buffer` for later.
    fn put(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        if let Ok(mut v) = self.0.lock() {
            v.push(buffer);
        }
    }

    /// Lends `buffer` out as a request body.
    fn loan(&self, buffer: Vec<u8>) -> LoanedBuffer {
        LoanedBuffer {
            buffer,
            home: self.clone(),
        }
    }
}

/// A response buffer on loan to the HTTP client; see [`ResponseBuffers`].
struct LoanedBuffer {
    buffer: Vec<u8>,
    home: ResponseBuffers,
}

impl AsRef<[u8]> for LoanedBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for LoanedBuffer {
    fn drop(&mut self) {
        self.home.put(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lent_buffer_comes_back_when_the_body_is_dropped() {
        let buffers = ResponseBuffers::default();
        let mut b = buffers.take();
        b.extend_from_slice(b"{\"records\":[]}");
        let capacity = b.capacity();
        let body = Bytes::from_owner(buffers.loan(b));
        assert_eq!(&body[..], b"{\"records\":[]}");
        assert!(buffers.0.lock().unwrap().is_empty(), "still on loan");
        drop(body);
        let again = buffers.take();
        assert!(again.is_empty());
        assert_eq!(again.capacity(), capacity, "the same allocation");
    }
}
