//! The `eventlake-transform` Lambda binary: wiring only.

use eventlake_transform::handler::{handle_lambda_event, Config};
use eventlake_transform::runtime::FirehoseLayer;
use eventlake_transform::telemetry::LogSettings;
use eventlake_transform::Invocation;
use lambda_runtime::layers::TracingLayer;
use lambda_runtime::{service_fn, Error, LambdaEvent, Runtime};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let env = |k: &str| std::env::var(k).ok();
    LogSettings::from_env(env).install();
    let config = Config::from_env(env)?;
    // lambda_runtime's own handler path, for what the Firehose layer passes on.
    let standard = {
        let config = config.clone();
        service_fn(move |event: LambdaEvent<Invocation<'static>>| {
            let result = handle_lambda_event(&config, event, &mut std::io::stdout().lock());
            async move { result }
        })
    };
    Runtime::new(standard)
        .layer(FirehoseLayer::new(config))
        .layer(TracingLayer::new())
        .run()
        .await
}
