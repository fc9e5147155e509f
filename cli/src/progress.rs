//! Progress of long steps on stderr: a bar on a terminal; otherwise (piped, logged, under CI)
//! a plain line every few seconds, so that a log shows the run is alive and how far it is.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often a plain progress line is printed when stderr is not a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(5);

/// What a step counts its progress in.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// Input bytes (records are shown beside them).
    Bytes,
    /// Things of this name (`events`, `partitions`).
    Count(&'static str),
}

/// A step's progress, of `total` (in its unit) if known.
pub struct Progress {
    what: &'static str,
    unit: Unit,
    total: Cell<Option<u64>>,
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    last_line: Cell<Instant>,
}

impl Progress {
    /// Progress of `what`, counted in `unit`, of `total` if known.
    pub fn new(what: &'static str, total: Option<u64>, unit: Unit) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let template = match (unit, total) {
                (Unit::Bytes, Some(_)) => {
                    format!("{what} {{bar:30}} {{bytes}}/{{total_bytes}} ({{bytes_per_sec}}, {{eta}} left)")
                }
                (Unit::Bytes, None) => format!("{what} {{spinner}} {{bytes}} ({{bytes_per_sec}})"),
                (Unit::Count(name), _) => {
                    format!("{what} {{bar:30}} {{pos}}/{{len}} {name} ({{per_sec}}, {{eta}} left)")
                }
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            bar
        });
        let now = Instant::now();
        Progress {
            what,
            unit,
            total: Cell::new(total),
            bar,
            started: now,
            last_line: Cell::new(now),
        }
    }

    /// `records` and `bytes` done so far.
    pub fn set(&self, records: u64, bytes: u64) {
        let position = match self.unit {
            Unit::Bytes => bytes,
            Unit::Count(_) => records,
        };
        if let Some(bar) = &self.bar {
            bar.set_position(position);
            return;
        }
        if self.last_line.get().elapsed() >= LINE_EVERY {
            self.last_line.set(Instant::now());
            eprintln!("{}", self.line(records, bytes));
        }
    }

    /// `done` of `all` things (the total may grow as a step finds its work).
    pub fn set_of(&self, done: u64, all: u64) {
        self.total.set(Some(all));
        if let Some(bar) = &self.bar {
            bar.set_length(all);
        }
        self.set(done, 0);
    }

    /// The plain line, e.g. `replay: 120000 records, 52.1 MB of 208.4 MB (25%) in 10 s` or
    /// `compact: 3 of 26 partitions (12%) in 5 s`.
    pub fn line(&self, records: u64, bytes: u64) -> String {
        let share = |done: u64, total: u64| done as f64 * 100.0 / total.max(1) as f64;
        let elapsed = self.started.elapsed().as_secs_f64();
        match (self.unit, self.total.get()) {
            (Unit::Bytes, Some(t)) => format!(
                "{}: {records} records, {:.1} MB of {:.1} MB ({:.0}%) in {elapsed:.0} s",
                self.what,
                bytes as f64 / 1e6,
                t as f64 / 1e6,
                share(bytes, t)
            ),
            (Unit::Bytes, None) => format!(
                "{}: {records} records, {:.1} MB in {elapsed:.0} s",
                self.what,
                bytes as f64 / 1e6
            ),
            (Unit::Count(name), Some(t)) => format!(
                "{}: {records} of {t} {name} ({:.0}%) in {elapsed:.0} s",
                self.what,
                share(records, t)
            ),
            (Unit::Count(name), None) => format!("{}: {records} {name} in {elapsed:.0} s", self.what),
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_say_how_far_a_step_is() {
        let p = Progress::new("replay", Some(200_000_000), Unit::Bytes);
        let line = p.line(120_000, 50_000_000);
        assert!(
            line.starts_with("replay: 120000 records, 50.0 MB of 200.0 MB (25%) in "),
            "{line}"
        );
        let c = Progress::new("compact", None, Unit::Count("partitions"));
        c.set_of(3, 12);
        assert!(
            c.line(3, 0).starts_with("compact: 3 of 12 partitions (25%) in "),
            "{}",
            c.line(3, 0)
        );
    }
}
