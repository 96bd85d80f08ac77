//! Whether the process that ran a build is still there: its pid and its
//! start time, so that a reused pid does not pass for it.

/// This process: its pid, its start time and the boot id.
pub(crate) fn current() -> (u32, Option<u64>, Option<String>) {
    let pid = std::process::id();
    (pid, start_time(pid), boot_id())
}

/// The start time of `pid` in clock ticks after boot (`/proc/PID/stat`
/// field 22), when it runs.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/PID/stat` line (the command name, field 2, may
/// hold spaces and parentheses: fields are counted after its last `)`).
fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // Field 3 is the first after the name: field 22 is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The kernel's boot id (changes on every boot).
pub(crate) fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Whether the process recorded as `pid` (started at `pid_start` under
/// boot `boot`) still runs.
pub(crate) fn alive(pid: u32, pid_start: Option<u64>, boot: Option<&str>) -> bool {
    if let (Some(b), Some(now)) = (boot, boot_id())
        && b != now
    {
        return false;
    }
    match (pid_start, start_time(pid)) {
        (_, None) => false,
        (Some(recorded), Some(now)) => recorded == now,
        (None, Some(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_after_a_name_with_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987_654));
        assert_eq!(parse_start_time("42 (x) S 1"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let (pid, start, boot) = current();
        assert!(alive(pid, start, boot.as_deref()));
        assert!(!alive(pid, start.map(|s| s + 1), boot.as_deref()));
        assert!(!alive(pid, start, Some("another-boot")));
        assert!(!alive(u32::MAX - 1, None, None));
    }
}
