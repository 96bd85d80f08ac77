//! Test support shared by the imagebake crates' tests (a dev-dependency only).
//!
//! - [`needs_root`] (above `#[test]`/`#[tokio::test]`): marks a test that needs root (loop devices, mount,
//!   chroot, a real sshd). Without root, `cargo test` reports it as
//!   **ignored**, never as passed; with `CI` set it runs and fails instead, so
//!   CI never skips it silently. The decision is made when the test is
//!   compiled (stable Rust cannot skip at run time); a guard at the start of
//!   the test fails it whenever it runs without root anyway.
//! - [`is_root`], [`euid`]: who the tests run as.
//! - [`busybox_tree`]: a minimal busybox root directory for chroot tests.
//! - [`git_commit_all`]: a git work tree with everything committed.
//! - `capture_logs` (feature `logs`): what code logs (`tracing`), as text.
//!
//! ```text
//! #[imagebake_testing::needs_root("loop devices, mount, chroot")]
//! #[tokio::test]
//! async fn bakes_on_a_loop_device() { /* … */ }
//! ```

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
#[cfg(feature = "logs")]
use std::sync::{Arc, Mutex};

pub use imagebake_testing_macros::needs_root;

#[path = "../../imagebake-sim/src/user.rs"]
mod user;
pub use user::{euid, is_root};

mod policy;
pub use policy::{RootTest, ci_from, root_test};

/// The static busybox the chroot tests copy into their roots
/// (`scripts/test-deps.sh` installs `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";

/// Whether this is a CI run (the `CI` environment variable, see [`ci_from`]).
pub fn ci() -> bool {
    ci_from(std::env::var("CI").ok().as_deref())
}

/// The guard that starts every [`needs_root`] test: returns as root, and
/// fails the test otherwise (it was meant to be ignored, or CI is set).
#[doc(hidden)]
#[track_caller]
pub fn require_root(test: &str, why: &str) {
    if let Some(message) = refusal(euid(), ci(), test, why) {
        panic!("{message}");
    }
}

/// Why a root-only test must fail as user `euid` (`None` as root).
pub fn refusal(euid: Option<u32>, ci: bool, test: &str, why: &str) -> Option<String> {
    if euid == Some(0) {
        return None;
    }
    let uid = euid.map_or_else(|| "unknown".to_owned(), |u| u.to_string());
    Some(if ci {
        format!(
            "{test} needs root ({why}) but runs as uid {uid}; CI is set, so it fails \
             instead of being ignored: run the suite as root"
        )
    } else {
        format!(
            "{test} needs root ({why}) but runs as uid {uid}: run it as root (built \
             without root, `cargo test` reports it as ignored)"
        )
    })
}

/// Fills `dir` with a minimal busybox root: `bin/busybox` with a link per
/// applet in `applets`, and `etc`, `root` and a world-writable sticky `tmp`
/// (plus each of `extra_dirs`). Panics naming what failed (a test helper).
pub fn busybox_tree(dir: &Path, applets: &[&str], extra_dirs: &[&str]) {
    for d in ["bin", "etc", "root", "tmp"].iter().chain(extra_dirs) {
        fs::create_dir_all(dir.join(d)).unwrap_or_else(|e| panic!("mkdir {d}: {e}"));
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))
        .expect("chmod 1777 tmp");
    let busybox = Path::new(BUSYBOX);
    assert!(
        busybox.is_file(),
        "{BUSYBOX} is missing: run scripts/test-deps.sh (installs busybox-static)"
    );
    fs::copy(busybox, dir.join("bin/busybox")).expect("copy busybox");
    for a in applets {
        symlink("busybox", dir.join("bin").join(a)).unwrap_or_else(|e| panic!("link {a}: {e}"));
    }
}

#[cfg(feature = "logs")]
/// Runs `f` with a `tracing` subscriber of its own (this thread only) and
/// returns what was logged at INFO and above, one line per event, without
/// colours.
pub fn capture_logs(f: impl FnOnce()) -> String {
    let buf = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buf.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The log lines [`capture_logs`] collects.
#[cfg(feature = "logs")]
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

#[cfg(feature = "logs")]
impl std::io::Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "logs")]
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Makes `dir` a git work tree on `branch` with everything in it committed
/// (author and committer `test`), as origin-set builds read their stamp.
/// Panics if git fails.
pub fn git_commit_all(dir: &Path, branch: &str) {
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "git {args:?} in {}", dir.display());
    };
    git(&["init", "-q", "-b", branch]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "test"]);
}
