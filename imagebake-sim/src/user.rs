//! Who this process runs as. Only std: the test-support crates compile this
//! same file (`imagebake-testing`), so there is one `is_root` in the tree.

/// The effective user id, from `/proc/self/status`; `None` where that cannot
/// be read.
pub fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Whether this process runs as root (effective user id 0).
pub fn is_root() -> bool {
    euid() == Some(0)
}
