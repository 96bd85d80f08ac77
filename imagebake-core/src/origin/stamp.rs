//! The build stamp: branch, timestamp, git sha, and the version eng makes
//! from them.

use super::OriginError;

/// Where and when a set is built (`build/buildinfo.json`'s
/// `{branch, timestamp, git}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuildStamp {
    /// The branch (`master`, `feature` for `feature/x`).
    pub branch: String,
    /// `YYYYMMDDTHHMMSSZ`, UTC.
    pub timestamp: String,
    /// The full HEAD sha.
    pub git: String,
    /// Whether the work tree had changes.
    #[serde(skip)]
    pub dirty: bool,
}

impl BuildStamp {
    /// A stamp, checking each part: a branch without `/` or spaces, a
    /// `YYYYMMDDTHHMMSSZ` timestamp, a hex sha of at least 7 digits.
    pub fn new(
        branch: &str,
        timestamp: &str,
        git: &str,
        dirty: bool,
    ) -> Result<BuildStamp, OriginError> {
        if branch.is_empty() || branch.contains(['/', ' ']) {
            return Err(OriginError::invalid(
                "branch",
                format!("{branch:?} is not a branch name"),
            ));
        }
        let ts = timestamp.as_bytes();
        let ts_ok = ts.len() == 16
            && ts[8] == b'T'
            && ts[15] == b'Z'
            && ts[..8].iter().chain(&ts[9..15]).all(u8::is_ascii_digit);
        if !ts_ok {
            return Err(OriginError::invalid(
                "timestamp",
                format!("{timestamp:?} is not YYYYMMDDTHHMMSSZ"),
            ));
        }
        if git.len() < 7 || !git.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(OriginError::invalid(
                "git",
                format!("{git:?} is not a git sha"),
            ));
        }
        Ok(BuildStamp {
            branch: branch.to_owned(),
            timestamp: timestamp.to_owned(),
            git: git.to_ascii_lowercase(),
            dirty,
        })
    }

    /// The branch as triton-origin-image takes it from `git symbolic-ref
    /// HEAD`: the third `/`-field (`refs/heads/feature/x` → `feature`).
    pub fn branch_from_ref(symbolic_ref: &str) -> Option<String> {
        symbolic_ref
            .trim()
            .split('/')
            .nth(2)
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
    }

    /// eng's `STAMP`: `<branch>-<timestamp>-g<first 7 of sha>`, plus
    /// `-dirty` for a dirty tree (`master-20200130T200825Z-gbb45b8d`).
    pub fn version(&self) -> String {
        let dirty = if self.dirty { "-dirty" } else { "" };
        format!(
            "{}-{}-g{}{dirty}",
            self.branch,
            self.timestamp,
            &self.git[..7]
        )
    }

    /// The export directory's last part: `<branch>-<timestamp>`.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.branch, self.timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_names_follow_eng() {
        let s = BuildStamp::new("master", "20200130T200825Z", "bb45b8d0c0ffee", false).unwrap();
        assert_eq!(s.version(), "master-20200130T200825Z-gbb45b8d");
        assert_eq!(s.dir_name(), "master-20200130T200825Z");
        let d = BuildStamp { dirty: true, ..s };
        assert!(d.version().ends_with("-gbb45b8d-dirty"));
        assert_eq!(
            BuildStamp::branch_from_ref("refs/heads/feature/x\n").as_deref(),
            Some("feature")
        );
        assert_eq!(BuildStamp::branch_from_ref("HEAD"), None);
    }

    #[test]
    fn bad_parts_are_named() {
        for (b, t, g, named) in [
            ("a/b", "20200130T200825Z", "bb45b8d", "branch"),
            ("master", "2020-01-30", "bb45b8d", "timestamp"),
            ("master", "20200130T200825Z", "xyz", "git"),
        ] {
            let e = BuildStamp::new(b, t, g, false).unwrap_err().to_string();
            assert!(e.starts_with(named), "{e}");
        }
    }
}
