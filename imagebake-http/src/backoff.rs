use std::time::Duration;

/// Exponential backoff with "full jitter": attempt `n` sleeps a random time in
/// `[base/2, base]` where `base = min(cap, initial * factor^n)`.
///
/// Half of the delay is kept deterministic so that a backoff never collapses to
/// zero, and the random half spreads clients that failed together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub initial: Duration,
    /// Largest delay (before jitter).
    pub cap: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// Whether to randomise; off gives exactly `base` (useful in tests).
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            factor: 2.0,
            jitter: true,
        }
    }
}

impl Backoff {
    /// A backoff starting at `initial` and capped at `cap`, with jitter.
    pub fn new(initial: Duration, cap: Duration) -> Self {
        Self {
            initial,
            cap,
            ..Self::default()
        }
    }

    /// The same backoff without jitter.
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// The delay to sleep after failed attempt number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let grown = self.initial.as_secs_f64() * self.factor.powi(attempt.min(64) as i32);
        let base = grown.min(self.cap.as_secs_f64()).max(0.0);
        let secs = if self.jitter {
            base / 2.0 + rand::random::<f64>() * base / 2.0
        } else {
            base
        };
        Duration::from_secs_f64(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let b =
            Backoff::new(Duration::from_millis(100), Duration::from_millis(350)).without_jitter();
        let got: Vec<_> = (0..4).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 350, 350]);
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let b = Backoff::new(Duration::from_millis(400), Duration::from_secs(1));
        for _ in 0..200 {
            let d = b.delay(0).as_millis();
            assert!((200..=400).contains(&d), "{d}");
        }
    }
}
