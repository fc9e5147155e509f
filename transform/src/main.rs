//! The `eventlake-transform` Lambda binary: wiring only.

use eventlake_transform::handler::{handle, Config};
use eventlake_transform::telemetry::LogSettings;
use eventlake_transform::Invocation;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let env = |k: &str| std::env::var(k).ok();
    LogSettings::from_env(env).install();
    let config = Config::from_env(env);
    run(service_fn(|event: LambdaEvent<Invocation<'static>>| {
        let result = handle(&config, event, &mut std::io::stdout().lock());
        async move { result }
    }))
    .await
}
