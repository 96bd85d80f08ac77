//! How long each kind of transition took on each cloud, so that the next
//! wait for it polls around its expected end instead of all along.
//!
//! One JSON file, `wait-history.json` in the state directory
//! ([`imagebake_host::state_dir`]), keyed by [`WaitKey`] (cloud host,
//! operation, size class), holding the last [`WaitHistory::SAMPLES`] ends
//! seen for each key (each an interval: after the last pending look, by the
//! done look), at most [`WaitHistory::KEYS`] keys (the least recently
//! updated go first). Writes take a lock file next to it, merge with what
//! is on disk (other processes write too) and replace the file atomically
//! (temporary file and rename). Nothing here ever fails a build: a missing,
//! corrupt or unwritable file is logged at debug level and the wait polls
//! on the cold schedule.
//!
//! Waits on a loopback endpoint (a local simulator) learn only inside a
//! [`WaitHistory::scope`]: a simulator's port is taken by the next one to
//! start, with other delays, so the state directory's history would mislead.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imagebake_http::{Expectation, Observed, WaitKey};
use serde::{Deserialize, Serialize};

tokio::task_local! {
    static SCOPED: Option<WaitHistory>;
}

/// A wait history file (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitHistory {
    path: PathBuf,
}

/// One end seen: the transition ended after `lo` and by `hi` seconds from
/// the start of its wait.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Sample {
    lo: f64,
    hi: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    host: String,
    operation: String,
    #[serde(default)]
    size: String,
    /// Unix seconds of the last sample (for eviction).
    updated: u64,
    samples: Vec<Sample>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    entries: Vec<Entry>,
}

type Table = BTreeMap<WaitKey, Entry>;

impl WaitHistory {
    /// The file's name in the state directory.
    pub const FILE: &'static str = "wait-history.json";
    /// Samples kept per key.
    pub const SAMPLES: usize = 8;
    /// Keys kept in the file.
    pub const KEYS: usize = 256;
    const VERSION: u32 = 1;

    /// The history kept in the file at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The history in the state directory, or `None` when there is none.
    pub fn in_state_dir() -> Option<Self> {
        match imagebake_host::state_dir::state_dir() {
            Ok(dir) => Some(Self::at(dir.join(Self::FILE))),
            Err(e) => {
                tracing::debug!(error = %e, "no wait history");
                None
            }
        }
    }

    /// The history waits use: the one set by [`WaitHistory::scope`] around
    /// them, else the state directory's.
    pub fn current() -> Option<Self> {
        SCOPED
            .try_with(Clone::clone)
            .unwrap_or_else(|_| Self::in_state_dir())
    }

    /// The history a wait for `key` uses: the scope's (see
    /// [`WaitHistory::scope`]); else none for a cloud on the loopback
    /// interface (a local simulator, whose port the next one to start may
    /// take with other delays), else the state directory's.
    pub fn for_key(key: &WaitKey) -> Option<Self> {
        match SCOPED.try_with(Clone::clone) {
            Ok(scoped) => scoped,
            Err(_) if is_loopback(&key.host) => None,
            Err(_) => Self::in_state_dir(),
        }
    }

    /// Runs `fut` with waits learning from and recording to `history`
    /// (`None`: no history, every wait cold) instead of the state
    /// directory's: for tests and benchmarks that must not share the
    /// user's. Holds for the task running `fut`, not for tasks it spawns.
    pub async fn scope<F: Future>(history: Option<Self>, fut: F) -> F::Output {
        SCOPED.scope(history, fut).await
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the samples of `key` say, if there are any.
    pub fn expect(&self, key: &WaitKey) -> Option<Expectation> {
        let table = self.load();
        table.get(key).and_then(|e| estimate(&e.samples))
    }

    /// Records what a wait saw (a blocking file write: call it off the
    /// async threads, see [`WaitHistory::record_in_background`]).
    pub fn record<T>(&self, key: &WaitKey, seen: &Observed<T>) {
        let sample = Sample {
            lo: seen.last_pending.map_or(0.0, |d| d.as_secs_f64()),
            hi: seen.done.as_secs_f64(),
        };
        if let Err(e) = self.merge(key, sample) {
            tracing::debug!(path = %self.path.display(), error = %e, "wait history not written");
        }
    }

    /// [`WaitHistory::record`] on a blocking thread, awaited.
    pub(crate) async fn record_in_background<T>(&self, key: &WaitKey, seen: &Observed<T>) {
        let (history, key) = (self.clone(), key.clone());
        let seen = Observed {
            value: (),
            last_pending: seen.last_pending,
            done: seen.done,
            looks: seen.looks,
        };
        let _ = tokio::task::spawn_blocking(move || history.record(&key, &seen)).await;
    }

    /// The file's table; empty (logged) when it is missing or unreadable.
    fn load(&self) -> Table {
        match std::fs::read(&self.path) {
            Ok(bytes) => parse(&bytes).unwrap_or_else(|e| {
                tracing::debug!(path = %self.path.display(), error = %e, "wait history unreadable, ignored");
                Table::new()
            }),
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e, "no wait history");
                Table::new()
            }
        }
    }

    /// Adds `sample` under the lock: read, merge, write a temporary file,
    /// rename it over the file.
    fn merge(&self, key: &WaitKey, sample: Sample) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.sibling("lock"))?;
        lock.lock()?;
        let mut table = self.load();
        add(&mut table, key, sample, unix_now());
        let tmp = self.sibling(&format!("{}.tmp", std::process::id()));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            // No fsync: a file lost in a crash only makes the next waits cold.
            f.write_all(&serialize(&table))?;
            std::fs::rename(&tmp, &self.path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        drop(lock);
        written
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".");
        name.push(suffix);
        self.path.with_file_name(name)
    }
}

/// Whether `host` (`host:port`, `[v6]:port`) names the loopback interface.
fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn parse(bytes: &[u8]) -> Result<Table, serde_json::Error> {
    let file: File = serde_json::from_slice(bytes)?;
    Ok(file
        .entries
        .into_iter()
        .filter(|e| file.version == WaitHistory::VERSION && !e.samples.is_empty())
        .map(|mut e| {
            e.samples
                .retain(|s| s.lo.is_finite() && s.hi.is_finite() && 0.0 <= s.lo && s.lo <= s.hi);
            let key = WaitKey::new(&e.host, &e.operation, &e.size);
            (key, e)
        })
        .collect())
}

fn serialize(table: &Table) -> Vec<u8> {
    let file = File {
        version: WaitHistory::VERSION,
        entries: table.values().cloned().collect(),
    };
    serde_json::to_vec_pretty(&file).unwrap_or_default()
}

/// Adds `sample` to `key`'s entry (keeping the last
/// [`WaitHistory::SAMPLES`]) and drops the least recently updated keys
/// beyond [`WaitHistory::KEYS`].
fn add(table: &mut Table, key: &WaitKey, sample: Sample, now: u64) {
    let entry = table.entry(key.clone()).or_insert_with(|| Entry {
        host: key.host.clone(),
        operation: key.operation.clone(),
        size: key.size.clone(),
        updated: now,
        samples: Vec::new(),
    });
    entry.updated = now;
    entry.samples.push(sample);
    let extra = entry.samples.len().saturating_sub(WaitHistory::SAMPLES);
    entry.samples.drain(..extra);
    while table.len() > WaitHistory::KEYS {
        let oldest = table
            .iter()
            .filter(|(k, _)| *k != key)
            .min_by_key(|(_, e)| e.updated)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => table.remove(&k),
            None => break,
        };
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The expected end and its spread: the median of the samples' midpoints,
/// give or take the larger of their median half-width (how precisely each
/// end was seen) and their scaled median absolute deviation (how much the
/// ends vary).
fn estimate(samples: &[Sample]) -> Option<Expectation> {
    if samples.is_empty() {
        return None;
    }
    let mids: Vec<f64> = samples.iter().map(|s| (s.lo + s.hi) / 2.0).collect();
    let expected = median(mids.clone());
    let half_width = median(samples.iter().map(|s| (s.hi - s.lo) / 2.0).collect());
    let mad = median(mids.iter().map(|m| (m - expected).abs()).collect());
    let spread = half_width.max(1.4826 * mad);
    let d = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).ok();
    Some(Expectation {
        expected: d(expected)?,
        spread: d(spread)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(lo: f64, hi: f64) -> Sample {
        Sample { lo, hi }
    }

    fn key(op: &str) -> WaitKey {
        WaitKey::new("cloud.example:443", op, "g1.small")
    }

    fn seen(lo: Option<f64>, hi: f64) -> Observed<()> {
        Observed {
            value: (),
            last_pending: lo.map(Duration::from_secs_f64),
            done: Duration::from_secs_f64(hi),
            looks: 2,
        }
    }

    #[test]
    fn one_sample_expects_its_middle_give_or_take_half_its_width() {
        let e = estimate(&[s(9.5, 10.5)]).unwrap();
        assert_eq!(e.expected, Duration::from_secs(10));
        assert_eq!(e.spread, Duration::from_millis(500));
        assert_eq!(estimate(&[]), None);
    }

    #[test]
    fn varying_ends_widen_the_spread_and_an_outlier_moves_little() {
        let e = estimate(&[s(9.9, 10.1), s(11.9, 12.1), s(13.9, 14.1)]).unwrap();
        assert_eq!(e.expected, Duration::from_secs(12));
        // MAD 2 s, scaled: about 3 s, more than the 0.1 s half-width.
        assert!(
            (e.spread.as_secs_f64() - 2.0 * 1.4826).abs() < 1e-6,
            "{e:?}"
        );
        let e = estimate(&[s(9.9, 10.1), s(9.95, 10.05), s(0.0, 90.0)]).unwrap();
        assert_eq!(e.expected, Duration::from_secs(10));
    }

    #[test]
    fn keeps_the_last_samples_and_the_most_recent_keys() {
        let mut t = Table::new();
        for i in 0..20 {
            add(&mut t, &key("stop"), s(i as f64, i as f64 + 1.0), 100);
        }
        let e = &t[&key("stop")];
        assert_eq!(e.samples.len(), WaitHistory::SAMPLES);
        assert_eq!(e.samples[0], s(12.0, 13.0));
        for i in 0..WaitHistory::KEYS as u64 + 5 {
            add(&mut t, &key(&format!("op{i}")), s(1.0, 2.0), 200 + i);
        }
        assert_eq!(t.len(), WaitHistory::KEYS);
        // The oldest (stop, then op0..op4) went first.
        assert!(!t.contains_key(&key("stop")));
        assert!(!t.contains_key(&key("op4")));
        assert!(t.contains_key(&key("op5")));
    }

    #[test]
    fn records_merge_with_what_another_process_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/wait-history.json");
        let a = WaitHistory::at(&path);
        let b = WaitHistory::at(&path);
        a.record(&key("provision"), &seen(Some(9.0), 10.0));
        b.record(&key("stop"), &seen(Some(4.0), 5.0));
        a.record(&key("provision"), &seen(Some(9.5), 10.5));
        let e = b.expect(&key("provision")).unwrap();
        assert_eq!(e.expected, Duration::from_millis(9750));
        assert_eq!(e.spread, Duration::from_millis(500));
        assert_eq!(
            a.expect(&key("stop")).unwrap().expected,
            Duration::from_millis(4500)
        );
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn a_first_look_found_done_is_an_end_by_then() {
        let dir = tempfile::tempdir().unwrap();
        let h = WaitHistory::at(dir.path().join("h.json"));
        h.record(&key("delete"), &seen(None, 0.0));
        let e = h.expect(&key("delete")).unwrap();
        assert_eq!((e.expected, e.spread), (Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn a_corrupt_file_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wait-history.json");
        for junk in [
            &b"{not json"[..],
            b"[]",
            b"{\"version\": 1, \"entries\": 7}",
            b"",
        ] {
            std::fs::write(&path, junk).unwrap();
            let h = WaitHistory::at(&path);
            assert_eq!(h.expect(&key("stop")), None);
            h.record(&key("stop"), &seen(Some(1.0), 2.0));
            assert_eq!(
                h.expect(&key("stop")).unwrap().expected,
                Duration::from_millis(1500)
            );
        }
        // Samples that make no sense (negative, reversed) are dropped.
        std::fs::write(
            &path,
            r#"{"version":1,"entries":[{"host":"cloud.example:443","operation":"stop","size":"g1.small","updated":1,"samples":[{"lo":-1,"hi":2},{"lo":3,"hi":1},{"lo":4,"hi":6}]}]}"#,
        )
        .unwrap();
        let e = WaitHistory::at(&path).expect(&key("stop")).unwrap();
        assert_eq!(e.expected, Duration::from_secs(5));
    }

    #[test]
    fn an_unwritable_place_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // The "directory" is a file: nothing can be created under it.
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let h = WaitHistory::at(blocker.join("wait-history.json"));
        h.record(&key("stop"), &seen(Some(1.0), 2.0));
        assert_eq!(h.expect(&key("stop")), None);
    }

    #[test]
    fn a_local_simulator_learns_only_in_a_scope() {
        for host in ["127.0.0.1:4000", "[::1]:80", "localhost:1", "127.1.2.3:9"] {
            assert!(is_loopback(host), "{host}");
            assert_eq!(WaitHistory::for_key(&WaitKey::new(host, "stop", "")), None);
        }
        for host in ["cloudapi.example:443", "10.0.0.1:80", "[2001:db8::1]:443"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[tokio::test]
    async fn a_scope_chooses_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let h = WaitHistory::at(dir.path().join("h.json"));
        let inside = WaitHistory::scope(Some(h.clone()), async { WaitHistory::current() }).await;
        assert_eq!(inside, Some(h));
        assert_eq!(
            WaitHistory::scope(None, async { WaitHistory::current() }).await,
            None
        );
    }
}
