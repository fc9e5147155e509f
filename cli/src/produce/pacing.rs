//! Pacing to the target rate and the retry backoff.

use std::time::{Duration, Instant};

/// When the batch that brings the total to `events` may go, at `rate` events per second.
pub fn due(start: Instant, events: u64, rate: Option<f64>) -> Instant {
    match rate {
        Some(r) if r > 0.0 => start + Duration::from_secs_f64(events as f64 / r),
        _ => start,
    }
}

/// Capped exponential backoff with full jitter: a random delay up to
/// `min(cap, base · 2^attempt)`.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The first ceiling.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
    rng: crate::generate::Rng,
}

impl Backoff {
    /// Backoff from `base` doubling up to `cap`.
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff {
            base,
            cap,
            rng: crate::generate::Rng::new(seed),
        }
    }

    /// The delay before retry number `attempt` (1 for the first retry).
    pub fn delay(&mut self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cap);
        let micros = ceiling.as_micros() as u64;
        Duration::from_micros(if micros == 0 { 0 } else { self.rng.below(micros + 1) })
    }
}
