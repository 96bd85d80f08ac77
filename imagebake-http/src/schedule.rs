//! When a wait looks: the cold schedule (nothing known of the transition)
//! and the schedule around an expected end (a wait history knows how long
//! this kind of transition took before).

use std::fmt;
use std::time::Duration;

use crate::WaitOptions;

/// Which kind of transition a wait is for: the cloud endpoint's host, the
/// operation (`"triton machine provision"`, `"oxide instance stop"`, ...)
/// and a size class (a package name, a disk size; empty when none
/// matters). A wait history keeps the durations per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WaitKey {
    /// The cloud endpoint's host (and port).
    pub host: String,
    /// The operation whose end is waited for.
    pub operation: String,
    /// What its length depends on (package, disk size), or empty.
    pub size: String,
}

impl WaitKey {
    /// The key of `operation` on `host` for a resource of size class `size`.
    pub fn new(
        host: impl Into<String>,
        operation: impl Into<String>,
        size: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            operation: operation.into(),
            size: size.into(),
        }
    }
}

impl fmt::Display for WaitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.operation, self.host)?;
        if !self.size.is_empty() {
            write!(f, " ({})", self.size)?;
        }
        Ok(())
    }
}

/// How long a transition is expected to take, counted from the start of
/// the wait: it ends about `expected` after, give or take `spread`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    /// The likely length.
    pub expected: Duration,
    /// How far from it the end may fall (half the window polled densely).
    pub spread: Duration,
}

/// The pauses of one wait.
///
/// Cold (no [`Expectation`]): the first look is immediate, then the pauses
/// follow the options' backoff and grow with the time already waited (a
/// [`Schedule::COLD_FRACTION`] of it), never beyond the backoff's cap (the
/// builders' `poll_cap`).
///
/// Expected (`expected` ± `spread`): the window `expected − spread` to
/// `expected + spread` is looked at every `spread / 2` (at least
/// [`Schedule::DENSE`], at most the cap), from one such pause after its
/// start (at once when that is zero: an instant transition costs no added
/// delay); before it, a look at least every [`Schedule::QUIET_MAX`] (so a
/// failed state is still seen); after it, pauses grow with the lateness up
/// to the cap.
#[derive(Debug, Clone)]
pub(crate) struct Schedule<'a> {
    opts: &'a WaitOptions,
}

impl<'a> Schedule<'a> {
    /// The shortest pause near an expected end.
    pub(crate) const DENSE: Duration = Duration::from_millis(100);
    /// The longest time without a look before an expected end: a resource
    /// that fails early is seen failed within this.
    pub(crate) const QUIET_MAX: Duration = Duration::from_secs(20);
    /// Cold pauses are at least this fraction of the time already waited
    /// (up to the cap).
    pub(crate) const COLD_FRACTION: f64 = 0.1;

    pub(crate) fn new(opts: &'a WaitOptions) -> Self {
        Self { opts }
    }

    fn cap(&self) -> Duration {
        self.opts.backoff.cap
    }

    /// The pause between two looks inside the expected window.
    fn dense(&self, e: &Expectation) -> Duration {
        (e.spread / 2)
            .max(Self::DENSE)
            .min(self.cap().max(Self::DENSE))
    }

    /// The first look in the expected window: one dense pause after its
    /// start (a look at the very start would mostly find the resource
    /// pending), at most at the expected end.
    fn window_first(&self, e: &Expectation) -> Duration {
        let early = e.spread.saturating_sub(self.dense(e).min(e.spread));
        e.expected.saturating_sub(early)
    }

    /// When the first look is, counted from the start of the wait.
    pub(crate) fn first_look(&self) -> Duration {
        match &self.opts.expect {
            None => Duration::ZERO,
            Some(e) => self.window_first(e).min(Self::QUIET_MAX),
        }
    }

    /// The pause after look number `attempt` (0-based), which started
    /// `elapsed` after the start of the wait and found the resource pending.
    pub(crate) fn pause(&self, elapsed: Duration, attempt: u32) -> Duration {
        let Some(e) = &self.opts.expect else {
            let grown = elapsed.mul_f64(Self::COLD_FRACTION).min(self.cap());
            return self.opts.backoff.delay(attempt).max(grown);
        };
        let window_start = self.window_first(e);
        let window_end = e.expected + e.spread;
        if elapsed < window_start {
            // Early: straight to the window, looking now and then.
            (window_start - elapsed).min(Self::QUIET_MAX)
        } else if elapsed < window_end {
            self.dense(e)
        } else {
            // Late: the longer past the window, the longer the pause.
            (elapsed - e.expected)
                .max(self.dense(e))
                .min(self.cap().max(Self::DENSE))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// The look times (from the start of the wait) up to `until`, as if
    /// every look took no time and found the resource pending.
    fn looks(opts: &WaitOptions, until: f64) -> Vec<f64> {
        let s = Schedule::new(opts);
        let mut t = s.first_look();
        let mut out = Vec::new();
        let mut n = 0;
        while t <= secs(until) {
            out.push((t.as_secs_f64() * 1000.0).round() / 1000.0);
            t += s.pause(t, n);
            n += 1;
        }
        out
    }

    fn expecting(expected: f64, spread: f64, cap: f64) -> WaitOptions {
        WaitOptions::new(secs(600.0), secs(cap)).expecting(Some(Expectation {
            expected: secs(expected),
            spread: secs(spread),
        }))
    }

    #[test]
    fn cold_starts_at_once_and_grows_to_the_cap() {
        let mut o = WaitOptions::new(secs(600.0), secs(1.0));
        o.backoff = o.backoff.without_jitter();
        assert_eq!(looks(&o, 3.0), vec![0.0, 0.25, 0.75, 1.75, 2.75]);
        // A larger cap: pauses grow with the time waited (a tenth of it).
        let mut o = WaitOptions::new(secs(600.0), secs(5.0));
        o.backoff = o.backoff.without_jitter();
        let l = looks(&o, 60.0);
        let gaps: Vec<f64> = l.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] >= g[0] - 1e-9), "{gaps:?}");
        assert!((gaps.last().unwrap() - 5.0).abs() < 1e-9, "{gaps:?}");
    }

    #[test]
    fn expected_end_is_polled_densely_around_it() {
        // 10 s ± 0.5 s: nothing before 9.75 s, then every 0.25 s.
        let o = expecting(10.0, 0.5, 1.0);
        assert_eq!(looks(&o, 10.6), vec![9.75, 10.0, 10.25, 10.5]);
        // Late: pauses grow with the lateness, up to the cap.
        let l = looks(&o, 14.0);
        assert_eq!(&l[4..], &[11.0, 12.0, 13.0, 14.0]);
    }

    #[test]
    fn a_long_expected_wait_still_looks_every_quiet_max() {
        let o = expecting(95.0, 0.5, 1.0);
        assert_eq!(looks(&o, 94.8), vec![20.0, 40.0, 60.0, 80.0, 94.75]);
    }

    #[test]
    fn an_instant_transition_is_looked_at_at_once() {
        let o = expecting(0.05, 0.1, 1.0);
        assert_eq!(looks(&o, 0.25), vec![0.05, 0.15, 0.25]);
        let o = expecting(0.0, 0.0, 1.0);
        assert_eq!(looks(&o, 0.15), vec![0.0, 0.1]);
    }

    #[test]
    fn the_dense_pause_stays_within_floor_and_cap() {
        // A wide spread polls at most the cap apart, a tiny one DENSE apart.
        assert_eq!(looks(&expecting(10.0, 4.0, 1.0), 9.0), vec![7.0, 8.0, 9.0]);
        assert_eq!(
            looks(&expecting(10.0, 0.0, 1.0), 10.35),
            vec![10.0, 10.1, 10.2]
        );
    }
}
