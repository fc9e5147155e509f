//! `eventlake`: thin wiring from the command line to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eventlake::invoke::Output;
use eventlake::{read_input, CliError};

/// eventlake: Kinesis events to a query-ready data lake.
#[derive(Parser)]
#[command(name = "eventlake", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the transform Lambda's handler on one Firehose invocation event (FILE or stdin)
    /// and print the response JSON.
    Invoke {
        /// The event file; `-` or nothing for stdin.
        file: Option<PathBuf>,
        /// Pretty-print the response.
        #[arg(long, conflicts_with = "decode")]
        pretty: bool,
        /// Print each record's data decoded, with the reason for rejected records.
        #[arg(long)]
        decode: bool,
    },
    /// Athena SQL and docs generated from glue-schema/table.json and catalog.json.
    Schema {
        #[command(subcommand)]
        action: SchemaAction,
    },
}

#[derive(Subcommand)]
enum SchemaAction {
    /// Write the generated files (or, with --check, fail if they are out of date).
    Generate {
        /// Only check; write nothing.
        #[arg(long)]
        check: bool,
        /// Where the SQL goes.
        #[arg(long, default_value = "glue-schema/athena")]
        dir: PathBuf,
        /// The generated event reference.
        #[arg(long, default_value = "docs/events.md")]
        docs: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs (rejection reasons) go to stderr so stdout stays the response.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eventlake: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Invoke { file, pretty, decode } => {
            let body = read_input(file.as_deref())?;
            let output = if decode {
                Output::Decoded
            } else if pretty {
                Output::Pretty
            } else {
                Output::Wire
            };
            eventlake::invoke::run(&body, output, &mut std::io::stdout().lock())
        }
        Command::Schema {
            action: SchemaAction::Generate { check, dir, docs },
        } => {
            let report = eventlake::schema::generate(&dir, &docs, check)?;
            let verb = if check { "up to date" } else { "generated" };
            eprintln!(
                "schema {verb}: {} file(s) written, {} stale file(s) removed",
                report.changed.len(),
                report.stale.len()
            );
            Ok(())
        }
    }
}
