//! Where imagebake keeps what outlives a process (build journals, wait
//! history): one place resolves it.
//!
//! In order: `IMAGEBAKE_STATE_DIR` when set (used as is), else
//! `$XDG_STATE_HOME/imagebake` when `XDG_STATE_HOME` is an absolute path
//! (the XDG base directory rules ignore a relative one), else
//! `$HOME/.local/state/imagebake`.

use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variable that overrides the state directory.
pub const OVERRIDE_VAR: &str = "IMAGEBAKE_STATE_DIR";

/// Why no state directory could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no state directory: neither {OVERRIDE_VAR}, an absolute XDG_STATE_HOME nor HOME is set; \
     set {OVERRIDE_VAR} to a directory"
)]
pub struct NoStateDir;

/// imagebake's state directory, from this process's environment. It is not
/// created here.
pub fn state_dir() -> Result<PathBuf, NoStateDir> {
    resolve(
        std::env::var_os(OVERRIDE_VAR),
        std::env::var_os("XDG_STATE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// The rule of [`state_dir`] over given values (empty values count as unset).
pub fn resolve(
    explicit: Option<OsString>,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, NoStateDir> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(explicit) {
        return Ok(dir);
    }
    if let Some(xdg) = set(xdg_state_home).filter(|p| p.is_absolute()) {
        return Ok(xdg.join("imagebake"));
    }
    set(home)
        .map(|h| h.join(".local/state/imagebake"))
        .ok_or(NoStateDir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(s.into())
    }

    #[test]
    fn override_wins_then_xdg_then_home() {
        assert_eq!(
            resolve(os("/s"), os("/x"), os("/h")),
            Ok(PathBuf::from("/s"))
        );
        assert_eq!(
            resolve(None, os("/x"), os("/h")),
            Ok(PathBuf::from("/x/imagebake"))
        );
        assert_eq!(
            resolve(os(""), None, os("/h")),
            Ok(PathBuf::from("/h/.local/state/imagebake"))
        );
    }

    #[test]
    fn relative_xdg_state_home_is_ignored() {
        assert_eq!(
            resolve(None, os("rel/state"), os("/h")),
            Ok(PathBuf::from("/h/.local/state/imagebake"))
        );
        assert_eq!(resolve(None, os("rel"), None), Err(NoStateDir));
    }
}
