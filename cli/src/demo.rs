//! `eventlake demo`: the whole pipeline on one machine — an hour of traffic at the mission's
//! rate is generated, replayed through the transform into a local lake, and queried.

use std::io::{Read, Write};
use std::path::PathBuf;

use eventlake_glue_schema::{Catalog, Table};

use crate::generate::{GenerateOptions, Generator};
use crate::query::{locate, print, run_sql, session, Format};
use crate::CliError;
use eventlake_lake::{replay, DeliverySummary, ReplayOptions};

/// What the demo does.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Events to generate (1,000,000 = one hour at the mission's rate).
    pub events: u64,
    /// The lake directory: a new one, or one an earlier demo made (which is replaced).
    pub lake: PathBuf,
    /// Generator seed.
    pub seed: u64,
}

/// Lines of a generator as a byte stream, so replay reads them as it would a file.
struct GeneratorReader<'c> {
    generator: Generator<'c>,
    line: Vec<u8>,
    at: usize,
}

impl Read for GeneratorReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.line.len() {
            let Some(next) = self.generator.next() else {
                return Ok(0);
            };
            self.line = next.into_bytes();
            self.line.push(b'\n');
            self.at = 0;
        }
        let n = buf.len().min(self.line.len() - self.at);
        buf[..n].copy_from_slice(&self.line[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The analyst queries the demo runs, with what each shows.
pub const QUERIES: [(&str, &str); 4] = [
    (
        "Delivered rows and unique events (duplicates are removed at rest by the events_unique view)",
        "SELECT (SELECT count(*) FROM events) AS delivered_rows, (SELECT count(*) FROM events_unique) AS unique_events",
    ),
    (
        "Events per type (top 10), deduplicated, over the partition columns",
        "SELECT event_type, count(*) AS events FROM events_unique GROUP BY event_type ORDER BY events DESC, event_type LIMIT 10",
    ),
    (
        "Payment events by name in one partition type (prunes the other 25 event types)",
        "SELECT event_name, event_subtype, count(*) AS events FROM events_unique WHERE event_type = 'payment' GROUP BY event_name, event_subtype ORDER BY events DESC",
    ),
    (
        "Events per 10 minutes of created_datetime",
        "SELECT date_bin(INTERVAL '10 minutes', created_datetime) AS ten_minutes, count(*) AS events FROM events_unique GROUP BY 1 ORDER BY 1",
    ),
];

/// The file that marks a lake as the demo's own: only such a lake is ever reset.
pub const DEMO_MARKER: &str = ".eventlake-demo";

/// What a demo writes into its lake, and so removes before it runs again: the table's
/// events, errors and curated prefixes.
fn demo_parts(table: &Table) -> [&str; 4] {
    let s = &table.storage;
    [
        s.events_prefix.as_str(),
        &s.errors_prefix,
        &s.curated_prefix,
        eventlake_lake::layout::STATE_PREFIX,
    ]
    .map(|p| p.trim_end_matches('/'))
}

/// Makes `lake` an empty demo lake: refuses a lake the demo did not make (one with events,
/// errors or a curated table but no [`DEMO_MARKER`]), otherwise removes what an earlier demo
/// wrote and marks the folder as the demo's.
fn reset_demo_lake(lake: &std::path::Path, table: &Table) -> Result<(), CliError> {
    let parts = demo_parts(table);
    // Any folder with something in it (a lake, a source folder) that lacks the marker is not
    // the demo's.
    let not_empty = std::fs::read_dir(lake).is_ok_and(|mut entries| entries.next().is_some());
    if not_empty && !lake.join(DEMO_MARKER).is_file() {
        let what = match parts.iter().any(|p| lake.join(p).exists()) {
            true => "a lake",
            false => "files",
        };
        return Err(CliError::Demo(format!(
            "{} holds {what} that `eventlake demo` did not make; the demo replaces only its own: choose another --lake",
            lake.display()
        )));
    }
    for part in parts {
        let dir = lake.join(part);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|source| CliError::WriteFile { path: dir, source })?;
        }
    }
    std::fs::create_dir_all(lake).map_err(|source| CliError::WriteFile {
        path: lake.to_path_buf(),
        source,
    })?;
    let marker = lake.join(DEMO_MARKER);
    std::fs::write(
        &marker,
        "This lake was made by `eventlake demo`, which may replace its events/, errors/ and curated/.\n",
    )
    .map_err(|source| CliError::WriteFile { path: marker, source })
}

/// Runs the demo, printing progress and results to `out`.
pub fn demo(options: &DemoOptions, out: &mut impl Write) -> Result<DeliverySummary, CliError> {
    let table = Table::embedded();
    reset_demo_lake(&options.lake, table)?;
    let generate = GenerateOptions {
        events: options.events,
        seed: options.seed,
        duplicates: 0.01,
        invalid: 0.002,
        // A producer that drifts a little, so that the summary's field-drift count is real.
        drift: crate::generate::Drift {
            wrong_kind: 0.001,
            renamed: 0.0005,
            new_field: 0.0005,
        },
        ..GenerateOptions::default()
    };
    writeln!(
        out,
        "eventlake demo: {} events (1% duplicates, 0.2% invalid, 0.1% with a field in another JSON kind) → transform → Parquet in {}\n",
        options.events,
        options.lake.display()
    )?;
    let progress =
        crate::progress::Progress::new("replay", Some(options.events), crate::progress::Unit::Count("events"));
    let reader = GeneratorReader {
        generator: Generator::new(Catalog::embedded(), generate),
        line: Vec::new(),
        at: 0,
    };
    let mut input = std::io::BufReader::with_capacity(1 << 20, reader);
    let mut replay_options = ReplayOptions::new(&options.lake);
    replay_options.delivery.transform = crate::transform_config()?;
    replay_options.input = format!("eventlake demo --events {} --seed {}", options.events, options.seed);
    let replayed = replay(&mut input, &replay_options, &|records, bytes| {
        progress.set(records, bytes)
    })?;
    progress.finish();
    let summary = replayed.summary;
    writeln!(out, "{}", crate::report::replay(&summary))?;

    let tables = locate(&options.lake, table)?;
    let session = session(&tables, table)?;
    for (title, sql) in QUERIES {
        writeln!(out, "-- {title}\n{sql};")?;
        let batches = run_sql(&session, sql, None)?;
        print(&batches, Format::Table, out)?;
        writeln!(out)?;
    }
    let drift = crate::quality::collect(&session, table, crate::quality::DEFAULT_DAYS)?;
    write!(out, "{}", crate::quality::render(&drift, &options.lake))?;
    writeln!(out)?;
    writeln!(
        out,
        "Done. Rejected events are under {}/errors/processing-failed/ with their reasons.\nTry: eventlake query --lake {} \"SELECT event_name, count(*) FROM events_unique GROUP BY 1 ORDER BY 2 DESC LIMIT 5\"",
        options.lake.display(),
        options.lake.display()
    )?;
    Ok(summary)
}
