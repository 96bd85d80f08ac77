//! Helpers shared by the benchmark examples (`*_bench`): the process's
//! peak memory and the wall time of a reference command.

use std::process::{Command, ExitCode};
use std::time::Instant;

/// The process's peak resident memory, in KiB (`VmHWM` of
/// `/proc/self/status`).
pub fn vm_hwm_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmHWM in /proc/self/status"))
}

/// Seconds the shell command `script` takes (`sh -c script sh ARGS..`);
/// an error when it fails.
pub fn time_sh(script: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .output()?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "`{script}` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(secs)
}

/// The exit code of a benchmark whose run says whether its goals were met:
/// success when they were, failure when not or on an error (printed,
/// prefixed with `name`).
pub fn exit_code(name: &str, result: anyhow::Result<bool>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
