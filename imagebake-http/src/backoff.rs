use std::time::Duration;

/// Exponential backoff with jitter: attempt `n` sleeps a random time in
/// `[base * (1 - jitter), base]` where `base = min(cap, initial * factor^n)`.
///
/// `jitter` is the random fraction of each delay. Retries against a shared
/// server want it wide (the default, 0.5, spreads clients that failed
/// together over `[base/2, base]` while never collapsing to zero); polling
/// one resource wants it small ([`WaitOptions`](crate::WaitOptions) uses
/// 0.1), so the pauses stay close to the cap the caller chose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub initial: Duration,
    /// Largest delay (before jitter).
    pub cap: Duration,
    /// Growth per attempt.
    pub factor: f64,
    /// The random fraction of each delay, from 0 (exactly `base`, useful in
    /// tests) to 1 (anywhere in `[0, base]`); values outside are clamped.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            factor: 2.0,
            jitter: Self::RETRY_JITTER,
        }
    }
}

impl Backoff {
    /// The jitter retries use by default: delays in `[base/2, base]`.
    pub const RETRY_JITTER: f64 = 0.5;

    /// A backoff starting at `initial` and capped at `cap`, with the retry
    /// jitter ([`Backoff::RETRY_JITTER`]).
    pub fn new(initial: Duration, cap: Duration) -> Self {
        Self {
            initial,
            cap,
            ..Self::default()
        }
    }

    /// The same backoff with `fraction` of each delay random (clamped to
    /// `0..=1`).
    pub fn with_jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// The same backoff without jitter.
    pub fn without_jitter(self) -> Self {
        self.with_jitter(0.0)
    }

    /// The delay to sleep after failed attempt number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let grown = self.initial.as_secs_f64() * self.factor.powi(attempt.min(64) as i32);
        let base = grown.min(self.cap.as_secs_f64()).max(0.0);
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        let secs = if jitter > 0.0 {
            base * (1.0 - jitter) + rand::random::<f64>() * base * jitter
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
    fn retry_jitter_stays_within_half_and_full() {
        let b = Backoff::new(Duration::from_millis(400), Duration::from_secs(1));
        assert_eq!(b.jitter, 0.5);
        let mut low = false;
        for _ in 0..500 {
            let d = b.delay(0).as_millis();
            assert!((200..=400).contains(&d), "{d}");
            low |= d < 300;
        }
        assert!(low, "the random half is used");
    }

    #[test]
    fn jitter_is_a_fraction_of_the_delay() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).with_jitter(0.1);
        for _ in 0..500 {
            let d = b.delay(3).as_millis();
            assert!((900..=1000).contains(&d), "{d}");
        }
        // Out-of-range fractions are clamped: 2 is full jitter, -1 and NaN none.
        let full = b.with_jitter(2.0);
        assert!((0..500).all(|_| full.delay(0) <= Duration::from_secs(1)));
        assert!((0..500).any(|_| full.delay(0) < Duration::from_millis(500)));
        for j in [-1.0, f64::NAN] {
            assert_eq!(b.with_jitter(j).delay(0), Duration::from_secs(1), "{j}");
        }
    }
}
