//! `eventlake`: thin wiring from the command line to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eventlake::generate::{write_events, GenerateOptions};
use eventlake::invoke::Output;
use eventlake::{read_input, read_input_bytes, transform_config, CliError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use eventlake_lake::ReplayOptions;

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
    /// Write N synthetic events over the event catalog's types, one JSON object per line.
    Generate {
        /// How many lines.
        #[arg(long, default_value_t = 1000)]
        events: u64,
        #[command(flatten)]
        mix: EventMix,
        /// created_at of the first event (Unix seconds); events span one hour from it.
        #[arg(long, default_value_t = 1_710_669_600)]
        start: u64,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Emulate Firehose: batch raw events (one per line), run the transform, write Parquet
    /// into the lake layout and failures into errors/, print a summary.
    Replay {
        /// Raw events, one per line (`-` for stdin).
        #[arg(long, required_unless_present = "errors")]
        input: Option<PathBuf>,
        /// Instead: re-drive the records of the error files under this folder.
        #[arg(long, conflicts_with = "input")]
        errors: Option<PathBuf>,
        /// The lake: a directory, or s3://bucket/prefix to backfill a real lake (credentials,
        /// region and endpoint from the standard AWS_* environment variables).
        #[arg(long)]
        lake: PathBuf,
        /// Convert against this table definition instead of the built-in glue-schema/table.json.
        #[arg(long)]
        table: Option<PathBuf>,
        /// Processor buffer: MiB of events per transform invocation (Firehose: 0.2 to 3).
        #[arg(long, default_value_t = 1.0, value_parser = processor_mib)]
        batch_mb: f64,
        /// S3 buffer: MiB of records per partition before a file is written (Firehose: 1 to 128).
        #[arg(long, default_value_t = 64.0, value_parser = s3_buffer_mib)]
        file_mb: f64,
        /// Delivery stream name at the start of object names (tells backfills apart).
        #[arg(long, default_value = "eventlake-local")]
        stream: String,
        /// MiB of input between checkpoints (1 to 4096): an interrupted replay resumes from
        /// its last one when run again.
        #[arg(long, default_value_t = 512.0, value_parser = checkpoint_mib)]
        checkpoint_mb: f64,
        /// Replay even if the lake already holds this whole replay (its rows are written again).
        #[arg(long)]
        again: bool,
    },
    /// The curated table: merge raw partitions into curated/ so each (event_uuid, created_at)
    /// appears once, in one file per partition. Idempotent; safe to re-run for any date.
    Compact {
        /// The lake directory.
        #[arg(long)]
        lake: PathBuf,
        /// Compact created_date DATE and the look-back days before it (default: every date).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Days before --date merged again, for late events.
        #[arg(long, default_value_t = 2, requires = "date")]
        lookback_days: u32,
    },
    /// Load-test a real stream: send generated (or given) events with PutRecords at a chosen
    /// rate, retry throttled and failed entries, report what the stream accepted.
    /// Credentials and region from the standard AWS chain (environment, profile, SSO, role).
    #[cfg(feature = "produce")]
    Produce {
        /// The Kinesis data stream: name or ARN (see the stack output StreamName).
        #[arg(long)]
        stream: String,
        /// Events per second (default: as fast as the stream accepts).
        #[arg(long, value_parser = positive)]
        rate: Option<f64>,
        /// Stop after this many seconds.
        #[arg(long, conflicts_with = "events", value_parser = positive)]
        duration: Option<f64>,
        /// Stop after this many events (default without --duration: 1000, or all of --input).
        #[arg(long)]
        events: Option<u64>,
        /// Events, one JSON object per line (`-` for stdin), instead of generated ones.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Newline-separated events per Kinesis record (1 to 500), for the stack's
        /// multi-record deaggregation; records stay within 1 MiB.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=500))]
        pack: u16,
        /// PutRecords calls in flight at once.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: u16,
        /// Sends of one record before it counts as failed.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        max_attempts: u32,
        /// Events that could not be sent go here, as JSON lines with the reason.
        #[arg(long, default_value = "eventlake-produce-failed.jsonl")]
        failed_output: PathBuf,
        /// Generated events (without --input): seed and shares of duplicates and invalid events.
        #[command(flatten)]
        mix: EventMix,
        /// Endpoint instead of AWS's (a local emulator); also AWS_ENDPOINT_URL.
        #[arg(long)]
        endpoint_url: Option<String>,
        /// AWS region (default: the standard chain: AWS_REGION, the profile).
        #[arg(long)]
        region: Option<String>,
    },
    /// SQL over the local lake: table `events` (with partition columns event_type and
    /// created_date) and the view `events_unique`.
    Query {
        /// The lake directory.
        #[arg(long)]
        lake: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = eventlake::query::Format::Table)]
        format: eventlake::query::Format,
        /// Print at most this many rows (0: all); a notice says when more exist. Default:
        /// 1000 for --format table, all for csv and json.
        #[arg(long)]
        max_rows: Option<usize>,
        /// The SQL statement (a query: statements that write are refused).
        sql: String,
    },
    /// Schema drift in a lake: catalog fields in the wrong JSON kind or unreadable by their
    /// typed view, missing catalog fields, fields and event names the catalog does not have
    /// (the `field_drift` view, summed over the lake's newest days).
    Quality {
        /// The lake: a directory or `s3://bucket[/prefix]`.
        #[arg(long)]
        lake: PathBuf,
        /// Days to cover, ending with the newest `created_date` in the lake.
        #[arg(long, default_value_t = eventlake::quality::DEFAULT_DAYS, value_parser = clap::value_parser!(u32).range(1..=3660))]
        days: u32,
    },
    /// The whole pipeline on this machine: generate an hour of traffic, replay it through the
    /// transform into a local lake, run a few analyst queries.
    Demo {
        /// Events to generate, at least 1 (default: one hour at 1M events/hour).
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
        events: u64,
        /// The lake directory.
        #[arg(long, default_value = "demo-lake")]
        lake: PathBuf,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Athena SQL and docs generated from glue-schema/table.json and catalog.json.
    Schema {
        #[command(subcommand)]
        action: SchemaAction,
    },
}

/// What generated events are made of (`generate`, `produce`).
#[derive(clap::Args)]
struct EventMix {
    /// Seed: the same seed writes the same events.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of events that repeat an earlier event (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    duplicates: f64,
    /// Share of events that break the contract (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    invalid: f64,
    /// Share of events with one catalog field in another JSON kind, e.g. a number as a string (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    drift_wrong_kind: f64,
    /// Share of events with one catalog field renamed, e.g. user_id to userId (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    drift_renamed: f64,
    /// Share of events with a field the catalog does not have (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    drift_new_field: f64,
}

impl EventMix {
    /// Generator options for `events` events of this mix.
    fn options(&self, events: u64) -> GenerateOptions {
        GenerateOptions {
            events,
            seed: self.seed,
            duplicates: self.duplicates,
            invalid: self.invalid,
            drift: eventlake::generate::Drift {
                wrong_kind: self.drift_wrong_kind,
                renamed: self.drift_renamed,
                new_field: self.drift_new_field,
            },
            ..GenerateOptions::default()
        }
    }
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

fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a share between 0 and 1")),
    }
}

/// A number of MiB in `lo..=hi` (finite: `NaN` and `inf` are refused).
fn mib_in(s: &str, lo: f64, hi: f64) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number of MiB from {lo} to {hi}")),
    }
}

/// Firehose's processor buffer: 0.2 to 3 MB
/// (<https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html>).
fn processor_mib(s: &str) -> Result<f64, String> {
    mib_in(s, 0.2, 3.0)
}

/// Firehose's S3 buffer: 1 to 128 MiB (BufferingHints.SizeInMBs).
fn s3_buffer_mib(s: &str) -> Result<f64, String> {
    mib_in(s, 1.0, 128.0)
}

/// A replay's segment between checkpoints: 1 to 4096 MiB.
fn checkpoint_mib(s: &str) -> Result<f64, String> {
    mib_in(s, 1.0, 4096.0)
}

#[cfg(feature = "produce")]
fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

fn mib(v: f64) -> usize {
    (v * 1024.0 * 1024.0) as usize
}

/// Ctrl-C, watched from the moment this is created (SIGINT on Unix).
#[cfg(feature = "produce")]
struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

#[cfg(feature = "produce")]
impl Interrupts {
    fn watch() -> Result<Interrupts, CliError> {
        Ok(Interrupts {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|e| CliError::Produce(format!("cannot watch for Ctrl-C: {e}")))?,
        })
    }

    /// Waits for the next Ctrl-C; false if none can come.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        return self.signal.recv().await.is_some();
        #[cfg(not(unix))]
        return tokio::signal::ctrl_c().await.is_ok();
    }
}

/// Runs `produce` with a live progress line (a bar on a terminal, a log line every 10 s
/// otherwise) and Ctrl-C stopping the run cleanly.
#[cfg(feature = "produce")]
fn produce(
    options: eventlake::produce::ProduceOptions,
    source: eventlake::produce::Source,
    endpoint_url: Option<String>,
    region: Option<String>,
) -> Result<(), CliError> {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Produce(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        // The handler is in place before the first line is printed: Ctrl-C from then on
        // stops the run cleanly (a second one aborts).
        let interrupt = Arc::new(AtomicBool::new(false));
        let on_signal = interrupt.clone();
        let mut interrupts = Interrupts::watch()?;
        tokio::spawn(async move {
            if interrupts.next().await {
                eprintln!("interrupted: finishing the calls in flight (Ctrl-C again to abort)");
                on_signal.store(true, Ordering::SeqCst);
                if interrupts.next().await {
                    std::process::exit(130);
                }
            }
        });
        let client = eventlake::produce::client(region.as_deref(), endpoint_url.as_deref()).await;
        let info = eventlake::produce::describe(&client, &options.stream).await?;
        eprintln!(
            "stream {}: {} open shard(s), {} — per shard at most 1,000 records/s and 1 MiB/s",
            options.stream, info.shards, info.mode
        );
        let progress = Arc::new(eventlake::produce::Progress::default());
        let bar = match options.events {
            Some(n) => indicatif::ProgressBar::new(n),
            None => indicatif::ProgressBar::new_spinner(),
        };
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("produce {bar:30} {pos}/{len} accepted ({per_sec}) {msg}")
        {
            bar.set_style(style);
        }
        let terminal = std::io::stderr().is_terminal();
        let watched = progress.clone();
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut last_line = started;
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                let accepted = watched.accepted.load(Ordering::Relaxed);
                let (failed, retried) = (
                    watched.failed.load(Ordering::Relaxed),
                    watched.retried.load(Ordering::Relaxed),
                );
                shown.set_position(accepted);
                shown.set_message(format!("retried {retried}, failed {failed}"));
                if !terminal && last_line.elapsed() >= std::time::Duration::from_secs(10) {
                    last_line = std::time::Instant::now();
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!(
                        "produce: {accepted} accepted in {secs:.0} s ({:.0}/s), retried {retried}, failed {failed}",
                        accepted as f64 / secs
                    );
                }
            }
        });
        let result = eventlake::produce::produce(client, options, source, progress, interrupt).await;
        ticker.abort();
        bar.finish_and_clear();
        let summary = result?;
        print!("{}", summary.render());
        match (&summary.stopped, summary.failed) {
            (None, 0) => Ok(()),
            (Some(why), _) => Err(CliError::Produce(format!("stopped early: {why}"))),
            (None, n) => Err(CliError::Produce(format!(
                "{n} event(s) could not be sent; they are in {} with the reasons",
                summary
                    .failed_file
                    .as_deref()
                    .unwrap_or(std::path::Path::new("?"))
                    .display()
            ))),
        }
    })
}

/// The process's standard output as a plain file: one `write` per response, without the
/// line buffering of `std::io::stdout` (which searches every buffer for its last newline).
#[cfg(unix)]
fn unbuffered_stdout() -> Result<std::fs::File, CliError> {
    use std::os::fd::AsFd;
    Ok(std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?))
}

/// Elsewhere: the standard output as the standard library gives it.
#[cfg(not(unix))]
fn unbuffered_stdout() -> Result<std::io::StdoutLock<'static>, CliError> {
    Ok(std::io::stdout().lock())
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Asks the kernel for no transparent huge pages in this process (Linux; elsewhere a no-op).
///
/// mimalloc advises huge pages for its arenas, which suits a short run that touches its
/// memory once (`invoke`: 10 ms with them, 14 ms without). A run over a whole file or lake
/// frees and reuses memory all along: mimalloc returns freed 4 MiB spans to the kernel,
/// which splits the huge pages and faults fresh ones in, each zeroed whole. On this 2-core
/// VM that was most of a 1M-event replay's time: 4.1–4.8 s of system time and 5.9–6.8 s wall
/// with huge pages, 1.0–1.2 s and 3.3–3.4 s without (docs/performance.md, "The local lake").
/// The same switch mimalloc's `MIMALLOC_ALLOW_THP=0` sets, chosen here per command.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes a flag of this
    // process; a kernel without it returns an error, which leaves things as they were.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Invoke { .. }) {
        without_huge_pages();
    }
    // Logs (rejection reasons) go to stderr so stdout stays the response. The emulated
    // delivery of replay and demo runs the Lambda's handler, whose per-batch warnings the
    // summary already counts: only its errors are shown there.
    let default_filter = match cli.command {
        Command::Replay { .. } | Command::Demo { .. } => "warn,eventlake_transform=error",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // The account of what is in the lake is already printed.
        Err(CliError::Interrupted) => ExitCode::from(130),
        Err(e) => {
            // One line, whatever the message: an engine's error can span several.
            let text = e.to_string();
            let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            eprintln!("eventlake: {}", lines.join(" "));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Invoke { file, pretty, decode } => {
            // Bytes: the handler validates UTF-8 itself, as the Lambda's does.
            let body = read_input_bytes(file.as_deref())?;
            let output = if decode {
                Output::Decoded
            } else if pretty {
                Output::Pretty
            } else {
                Output::Wire
            };
            eventlake::invoke::run(&body, output, &mut unbuffered_stdout()?)
        }
        Command::Generate {
            events,
            mix,
            start,
            output,
        } => generate(events, mix, start, output),
        Command::Replay {
            input,
            errors,
            lake,
            table,
            batch_mb,
            file_mb,
            stream,
            checkpoint_mb,
            again,
        } => {
            let mut options = ReplayOptions::new(&lake);
            let delivery = &mut options.delivery;
            delivery.stream = stream;
            delivery.batch_bytes = mib(batch_mb).max(1);
            delivery.flush_bytes = mib(file_mb).max(1);
            delivery.transform = transform_config()?;
            if let Some(path) = &table {
                delivery.table = eventlake_glue_schema::Table::from_json(&read_input(Some(path))?)?;
            }
            options.checkpoint_bytes = mib(checkpoint_mb).max(1);
            options.again = again;
            match (input, errors) {
                (_, Some(dir)) => redrive_command(&dir, options),
                (input, None) => replay_command(input.unwrap_or_else(|| "-".into()), options),
            }
        }
        Command::Compact {
            lake,
            date,
            lookback_days,
        } => compact(lake, date, lookback_days),
        #[cfg(feature = "produce")]
        Command::Produce {
            stream,
            rate,
            duration,
            events,
            input,
            pack,
            concurrency,
            max_attempts,
            failed_output,
            mix,
            endpoint_url,
            region,
        } => {
            let mut options = eventlake::produce::ProduceOptions::new(&stream);
            options.rate = rate;
            options.duration = duration.map(std::time::Duration::from_secs_f64);
            options.events = events.or(match (&input, duration) {
                (None, None) => Some(1000),
                _ => None,
            });
            options.pack = usize::from(pack);
            options.concurrency = usize::from(concurrency);
            options.max_attempts = max_attempts;
            options.failed_file = failed_output;
            let source = match input {
                Some(path) if path.as_os_str() != "-" => {
                    let file = std::fs::File::open(&path).map_err(|source| CliError::ReadInput { path, source })?;
                    eventlake::produce::Source::Lines(Box::new(std::io::BufReader::with_capacity(1 << 20, file)))
                }
                Some(_) => eventlake::produce::Source::Live(Box::new(std::io::BufReader::new(std::io::stdin()))),
                None => eventlake::produce::Source::Generated(GenerateOptions {
                    // created_at is the time each event is generated, just before it is sent.
                    live: true,
                    ..mix.options(options.events.unwrap_or(u64::MAX))
                }),
            };
            produce(options, source, endpoint_url, region)
        }
        Command::Query {
            lake,
            format,
            max_rows,
            sql,
        } => {
            let table = eventlake_glue_schema::Table::embedded();
            let max_rows = max_rows.unwrap_or(match format {
                eventlake::query::Format::Table => eventlake::query::DEFAULT_TABLE_ROWS,
                _ => 0,
            });
            eventlake::query::query(&lake, table, &sql, format, max_rows, &mut std::io::stdout().lock())?;
            Ok(())
        }
        Command::Quality { lake, days } => {
            let report = eventlake::quality::quality(&lake, eventlake_glue_schema::Table::embedded(), days)?;
            print!("{}", eventlake::quality::render(&report, &lake));
            Ok(())
        }
        Command::Demo { events, lake, seed } => {
            let options = eventlake::demo::DemoOptions { events, lake, seed };
            eventlake::demo::demo(&options, &mut std::io::stdout().lock())?;
            Ok(())
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

/// `eventlake generate`: synthetic events to a file or stdout.
fn generate(events: u64, mix: EventMix, start: u64, output: Option<PathBuf>) -> Result<(), CliError> {
    let options = GenerateOptions {
        start,
        ..mix.options(events)
    };
    let catalog = eventlake_glue_schema::Catalog::embedded();
    let report = match &output {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|source| CliError::WriteFile {
                path: path.clone(),
                source,
            })?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            write_events(catalog, options, &mut w).map_err(|source| CliError::WriteFile {
                path: path.clone(),
                source,
            })?
        }
        None => write_events(
            catalog,
            options,
            &mut std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock()),
        )?,
    };
    let drift = match report.wrong_kind + report.renamed + report.new_field {
        0 => String::new(),
        _ => format!(
            "; drift: {} with a field in another kind, {} with a field renamed, {} with a new field",
            report.wrong_kind, report.renamed, report.new_field
        ),
    };
    eprintln!(
        "generated {} events ({} duplicates, {} invalid{drift}), {:.1} MB",
        report.lines,
        report.duplicates,
        report.invalid,
        report.bytes as f64 / 1e6
    );
    Ok(())
}

/// Checks a `--stream` name: it starts every object name.
fn check_stream(stream: &str) -> Result<(), CliError> {
    if stream.is_empty()
        || !stream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(CliError::Flag(format!(
            "--stream {stream:?}: use letters, digits, '-', '_' and '.' (it starts every object name)"
        )));
    }
    Ok(())
}

/// `eventlake replay --input`: events through the emulated delivery stream into a lake,
/// resumable, Ctrl-C committing what is in flight.
fn replay_command(input: PathBuf, mut options: ReplayOptions) -> Result<(), CliError> {
    check_stream(&options.delivery.stream)?;
    stop_on_ctrl_c(&mut options)?;
    let result = if input.as_os_str() == "-" {
        options.input = "-".into();
        let progress = eventlake::progress::Progress::new("replay", None, eventlake::progress::Unit::Bytes);
        let r = eventlake_lake::replay(&mut std::io::stdin().lock(), &options, &|records, n| {
            progress.set(records, n)
        });
        progress.finish();
        r
    } else {
        let file = std::fs::File::open(&input).map_err(|source| CliError::ReadInput {
            path: input.clone(),
            source,
        })?;
        options.input = input.canonicalize().unwrap_or(input.clone()).display().to_string();
        let progress = eventlake::progress::Progress::new(
            "replay",
            file.metadata().ok().map(|m| m.len()),
            eventlake::progress::Unit::Bytes,
        );
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        let r = eventlake_lake::replay(&mut reader, &options, &|records, n| progress.set(records, n));
        progress.finish();
        r
    };
    match result {
        Ok(replayed) => {
            print!("{}", eventlake::report::replayed(&replayed, &options));
            ended(replayed.state)
        }
        Err(e) => {
            // What the lake holds, before the one-line error.
            if let Ok(Some(manifest)) = eventlake_lake::committed(&options) {
                eprint!("{}", eventlake::report::committed_account(&manifest, &options));
            }
            Err(e.into())
        }
    }
}

/// `eventlake replay --errors`: the records of error objects through the delivery again.
fn redrive_command(errors: &std::path::Path, mut options: ReplayOptions) -> Result<(), CliError> {
    check_stream(&options.delivery.stream)?;
    stop_on_ctrl_c(&mut options)?;
    match eventlake_lake::redrive(errors, &options) {
        Ok(redriven) => {
            print!("{}", eventlake::report::redriven(&redriven, errors, &options));
            ended(redriven.state)
        }
        Err(e) => {
            // What the lake holds, before the one-line error.
            if let Ok(Some(manifest)) = eventlake_lake::redrive_committed(errors, &options) {
                eprint!("{}", eventlake::report::redrive_account(&manifest, &options));
            }
            Err(e.into())
        }
    }
}

/// Makes Ctrl-C stop the replay or re-drive of `options` at its next commit point.
fn stop_on_ctrl_c(options: &mut ReplayOptions) -> Result<(), CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    options.stop = Some(stop.clone());
    watch_ctrl_c(stop)
}

/// The exit of a replay or re-drive that ended as `state`: 130 when Ctrl-C interrupted it.
fn ended(state: eventlake_lake::ReplayState) -> Result<(), CliError> {
    match state {
        eventlake_lake::ReplayState::Interrupted => Err(CliError::Interrupted),
        _ => Ok(()),
    }
}

/// Watches for Ctrl-C (SIGINT): the first sets `stop`, so that the replay commits what is in
/// flight and says how to resume; a second ends the process at once (what was committed
/// stays, and the same command still resumes).
#[cfg(unix)]
fn watch_ctrl_c(stop: Arc<AtomicBool>) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::WriteOutput)?;
    // The handler is installed before the replay starts, so no Ctrl-C is missed.
    let mut signal = runtime
        .block_on(async { tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) })
        .map_err(|e| CliError::Flag(format!("cannot watch for Ctrl-C: {e}")))?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            while signal.recv().await.is_some() {
                if stop.swap(true, Ordering::SeqCst) {
                    eprintln!("eventlake: stopped at once; what was committed stays, and the same command resumes");
                    std::process::exit(130);
                }
                eprintln!("eventlake: stopping: finishing the batches in flight (Ctrl-C again to quit at once)");
            }
        })
    });
    Ok(())
}

/// Elsewhere Ctrl-C ends the process as it always does; the same command still resumes.
#[cfg(not(unix))]
fn watch_ctrl_c(_stop: Arc<AtomicBool>) -> Result<(), CliError> {
    Ok(())
}

/// `eventlake compact`: the curated table of a lake.
fn compact(lake: PathBuf, date: Option<chrono::NaiveDate>, lookback_days: u32) -> Result<(), CliError> {
    let options = eventlake_lake::CompactOptions {
        lake,
        date,
        lookback_days,
        table: eventlake_glue_schema::Table::embedded().clone(),
    };
    let progress = eventlake::progress::Progress::new("compact", None, eventlake::progress::Unit::Count("partitions"));
    // The curated files carry the typed columns, filled by the query engine (issue #19).
    let typed = eventlake::curated::SqlTypedColumns::new(&options.table, eventlake_glue_schema::Catalog::embedded())?;
    let summary =
        eventlake_lake::compact_typed(&options, &typed, &|done, all| progress.set_of(done as u64, all as u64))?;
    progress.finish();
    print!("{}", eventlake::report::compact(&summary));
    Ok(())
}
