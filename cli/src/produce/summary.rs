//! What a run did: latency statistics, the summary, live progress counters.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

/// Latency percentiles of `PutRecords` calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    /// Calls measured.
    pub calls: usize,
    /// Median, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// Slowest, ms.
    pub max: f64,
}

impl Latencies {
    /// Nearest-rank percentiles of `samples` (microseconds).
    pub fn of(mut samples: Vec<u32>) -> Latencies {
        if samples.is_empty() {
            return Latencies::default();
        }
        samples.sort_unstable();
        let at = |p: f64| {
            let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            f64::from(samples[rank.clamp(1, samples.len()) - 1]) / 1000.0
        };
        Latencies {
            calls: samples.len(),
            p50: at(50.0),
            p90: at(90.0),
            p99: at(99.0),
            max: f64::from(samples[samples.len() - 1]) / 1000.0,
        }
    }
}

/// What a run sent, retried and could not send.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProduceSummary {
    /// The stream.
    pub stream: String,
    /// Events read from the source.
    pub read: u64,
    /// Events the stream accepted.
    pub accepted: u64,
    /// Kinesis records accepted (events / pack).
    pub records: u64,
    /// Data bytes accepted.
    pub bytes: u64,
    /// `PutRecords` calls made (retries included).
    pub calls: u64,
    /// Calls throttled or failed as a whole and made again.
    pub calls_retried: u64,
    /// Records sent again after a failed entry.
    pub records_retried: u64,
    /// Events written to the failed-events file.
    pub failed: u64,
    /// Where failed events went (only when there were any).
    pub failed_file: Option<PathBuf>,
    /// Seconds from the first call to the last answer.
    pub seconds: f64,
    /// The target rate, events per second.
    pub target_rate: Option<f64>,
    /// Latency of the calls.
    pub latency: Latencies,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
}

impl ProduceSummary {
    /// Events accepted per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.accepted as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The summary as printed by the command.
    pub fn render(&self) -> String {
        let target = self
            .target_rate
            .map_or_else(|| "as fast as possible".to_string(), |r| format!("target {r:.0}/s"));
        let mut s = format!(
            "produced to {}: {} events accepted in {:.1} s = {:.0} events/s ({target})\n",
            self.stream,
            self.accepted,
            self.seconds,
            self.rate()
        );
        s += &format!(
            "  read {}  accepted {}  failed {}  records {}  {:.1} MB\n",
            self.read,
            self.accepted,
            self.failed,
            self.records,
            self.bytes as f64 / 1e6
        );
        s += &format!(
            "  PutRecords calls {}  retried calls {}  retried records {}\n",
            self.calls, self.calls_retried, self.records_retried
        );
        let l = &self.latency;
        s += &format!(
            "  PutRecords latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}\n",
            l.p50, l.p90, l.p99, l.max
        );
        if let Some(path) = &self.failed_file {
            s += &format!("  failed events with reasons: {}\n", path.display());
        }
        if let Some(why) = &self.stopped {
            s += &format!("  stopped early: {why}\n");
        }
        s
    }
}

/// Counters shared by the reader and the workers, read by the progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// Events read.
    pub read: AtomicU64,
    /// Events accepted.
    pub accepted: AtomicU64,
    /// Events failed.
    pub failed: AtomicU64,
    /// Records re-sent.
    pub retried: AtomicU64,
}
