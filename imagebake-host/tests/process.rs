//! The process runner against real processes: a command (and the background
//! process it started) that ignores SIGTERM is killed on timeout, on
//! cancellation and when the run is dropped; exits by signal are reported.

use std::time::Duration;

use imagebake_host::process::{Command, Error, Exit, Stream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A shell that ignores SIGTERM (so does the `sleep` it starts, which
/// inherits the ignored disposition), prints its own and the sleep's pid,
/// and waits forever.
const STUBBORN: &str = "trap '' TERM; sleep 1000 & echo $$ $!; wait; sleep 1000";

/// Whether `pid` is gone (no such process, or a zombie waiting for a reaper).
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "PID (comm) STATE ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
    }
}

/// Waits until every pid is dead (a bounded wait for the kernel, not a
/// timing assertion: the processes sleep for 1000 s unless killed).
async fn all_die(pids: &[i32]) -> bool {
    for _ in 0..500 {
        if pids.iter().all(|p| dead(*p)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Starts [`STUBBORN`] with `cmd`'s settings in a task; returns the task and
/// the shell's and the sleep's pids once it printed them.
async fn start_stubborn(cmd: Command) -> (tokio::task::JoinHandle<Result<Exit, Error>>, Vec<i32>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut on_line = |s: Stream, l: &str| {
            if s == Stream::Stdout {
                let _ = tx.send(l.to_owned());
            }
        };
        cmd.arg("-c").arg(STUBBORN).stream(&mut on_line).await
    });
    let line = rx.recv().await.expect("the shell printed its pids");
    let pids: Vec<i32> = line
        .split_whitespace()
        .map(|p| p.parse().expect("a pid"))
        .collect();
    assert_eq!(pids.len(), 2, "{line}");
    assert!(!pids.iter().any(|p| dead(*p)), "both run before the kill");
    (task, pids)
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group_even_when_it_ignores_sigterm() {
    let cmd = Command::new("sh")
        .timeout(Duration::from_secs(2))
        .kill_grace(Duration::from_millis(100));
    let (task, pids) = start_stubborn(cmd).await;
    let e = task.await.expect("joined").expect_err("timed out");
    assert!(matches!(e, Error::TimedOut { .. }), "{e:?}");
    assert!(e.to_string().contains("timed out after 2s"), "{e}");
    assert!(all_die(&pids).await, "the shell and its sleep were killed");
}

#[tokio::test]
async fn cancelling_kills_the_whole_group() {
    let token = CancellationToken::new();
    let cmd = Command::new("sh")
        .cancel_on(&token)
        .kill_grace(Duration::from_millis(100));
    let (task, pids) = start_stubborn(cmd).await;
    token.cancel();
    let e = task.await.expect("joined").expect_err("cancelled");
    assert!(e.is_cancelled(), "{e:?}");
    assert!(all_die(&pids).await, "the shell and its sleep were killed");
}

#[tokio::test]
async fn dropping_the_run_kills_the_whole_group() {
    let (task, pids) = start_stubborn(Command::new("sh")).await;
    task.abort();
    assert!(task.await.expect_err("aborted").is_cancelled());
    assert!(all_die(&pids).await, "the shell and its sleep were killed");
}

#[tokio::test]
async fn an_exit_by_signal_is_reported_as_such() {
    let cmd = Command::new("sh").args(["-c", "echo going >&2; kill -KILL $$"]);
    let out = cmd.output().await.expect("ran");
    assert_eq!(out.exit, Exit::Signal(9));
    let e = cmd.checked().await.expect_err("killed");
    assert!(
        matches!(
            e,
            Error::Failed {
                exit: Exit::Signal(9),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "`sh -c echo going >&2; kill -KILL $$` failed (killed by signal 9 (SIGKILL)): going"
    );
}

#[tokio::test]
async fn a_failure_names_the_command_and_the_end_of_stderr() {
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo line$i >&2; done; exit 3";
    let e = Command::new("sh")
        .args(["-c", script])
        .shown_as("the script")
        .checked()
        .await
        .expect_err("exit 3");
    let Error::Failed {
        command,
        exit,
        stderr_tail,
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(command, "the script");
    assert_eq!(*exit, Exit::Code(3));
    assert_eq!(stderr_tail.first().map(String::as_str), Some("line3"));
    assert_eq!(stderr_tail.last().map(String::as_str), Some("line10"));
    let e = Command::new("/nonexistent/program")
        .output()
        .await
        .expect_err("no such program");
    assert!(matches!(e, Error::Start { .. }), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/program"), "{e}");
}

#[tokio::test]
async fn environment_directory_and_input_are_explicit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwd = std::fs::canonicalize(dir.path()).expect("canonical");
    let out = Command::new("sh")
        .args(["-c", "echo \"$PATH|${HOME-unset}|$X\"; pwd; cat"])
        .env("X", "given")
        .current_dir(&cwd)
        .stdin_bytes(b"from stdin\n".to_vec())
        .checked()
        .await
        .expect("ran");
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            &format!("{}|unset|given", imagebake_host::process::DEFAULT_PATH),
            cwd.to_str().expect("utf-8"),
            "from stdin",
        ][..]
    );
    let kept = Command::new("sh")
        .args(["-c", "echo \"${HOME-unset}\""])
        .keep_env("HOME")
        .checked()
        .await
        .expect("ran");
    let want = std::env::var("HOME").unwrap_or_else(|_| "unset".to_owned());
    assert_eq!(kept.stdout_text(), want);
}

#[tokio::test]
async fn streamed_lines_arrive_in_order_per_stream() {
    let mut seen = Vec::new();
    let mut on_line = |s: Stream, l: &str| seen.push((s, l.to_owned()));
    let exit = Command::new("sh")
        .args(["-c", "printf 'a\\nb\\r\\nlast'; echo err >&2; exit 4"])
        .stream(&mut on_line)
        .await
        .expect("ran");
    assert_eq!(exit, Exit::Code(4));
    let out: Vec<&str> = seen
        .iter()
        .filter(|(s, _)| *s == Stream::Stdout)
        .map(|(_, l)| l.as_str())
        .collect();
    assert_eq!(out, vec!["a", "b", "last"]);
    assert!(seen.contains(&(Stream::Stderr, "err".to_owned())));
}

#[test]
fn blocking_runs_work_on_a_plain_thread_and_inside_a_runtime() {
    let cmd = Command::new("sh").args(["-c", "echo plain"]);
    assert_eq!(cmd.checked_blocking().expect("ran").stdout_text(), "plain");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let out = rt.block_on(async { cmd.checked_blocking() });
    assert_eq!(out.expect("ran").stdout_text(), "plain");
    let e = Command::new("false")
        .checked_blocking()
        .expect_err("exit 1");
    assert!(
        matches!(
            e,
            Error::Failed {
                exit: Exit::Code(1),
                ..
            }
        ),
        "{e:?}"
    );
}
