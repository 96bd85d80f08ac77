//! The build stamp: branch, timestamp, git sha, and the version eng makes
//! from them.

use std::path::Path;
use std::time::Duration;

use imagebake_host::process::Command;

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

    /// The stamp of the git work tree at `repo`, now: the branch from `git
    /// symbolic-ref HEAD` (third `/`-field) unless `branch` is given (a
    /// detached HEAD needs it), the full HEAD sha, dirty if `git status
    /// --porcelain` lists anything, the timestamp the current UTC time.
    pub async fn from_git(repo: &Path, branch: Option<&str>) -> Result<BuildStamp, OriginError> {
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("-C")
                .arg(repo)
                .args(args)
                .inherit_env()
                .timeout(Duration::from_secs(60))
        };
        let run = |args: &'static [&'static str]| {
            let cmd = git(args);
            async move {
                cmd.checked()
                    .await
                    .map(|o| o.stdout_text().trim().to_owned())
                    .map_err(|e| {
                        OriginError::invalid(format!("git in {}", repo.display()), e.to_string())
                    })
            }
        };
        let branch = match branch {
            Some(b) => b.to_owned(),
            None => {
                let head = run(&["symbolic-ref", "HEAD"]).await.map_err(|e| {
                    OriginError::invalid(
                        "branch",
                        format!("{e} (a detached HEAD: give the branch with --branch)"),
                    )
                })?;
                Self::branch_from_ref(&head).ok_or_else(|| {
                    OriginError::invalid("branch", format!("HEAD is {head:?}, not a branch"))
                })?
            }
        };
        let sha = run(&["rev-parse", "HEAD"]).await?;
        let dirty = !run(&["status", "--porcelain"]).await?.is_empty();
        let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        Self::new(&branch, &now, &sha, dirty)
    }
}

/// What an origin set takes from triton-origin-image's `package.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct PackageJson {
    /// `version`: the images' version (`1.0.1`).
    pub version: String,
    /// `homepage`: the images' homepage.
    #[serde(default)]
    pub homepage: Option<String>,
}

impl PackageJson {
    /// Reads `path`; errors name the file and the key.
    pub fn read(path: &Path) -> Result<PackageJson, OriginError> {
        let at = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| OriginError::Io {
            path: at.clone(),
            source,
        })?;
        let p: PackageJson = serde_json::from_str(&text)
            .map_err(|e| OriginError::invalid(at.clone(), e.to_string()))?;
        let ok = !p.version.is_empty()
            && p.version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._/+-".contains(c));
        if !ok {
            return Err(OriginError::invalid(
                format!("{at}: version"),
                format!("{:?} is not an image version", p.version),
            ));
        }
        Ok(p)
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
    fn package_json_gives_version_and_homepage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("package.json");
        std::fs::write(
            &p,
            r#"{"name": "x", "version": "1.0.1", "homepage": "https://h"}"#,
        )
        .unwrap();
        let got = PackageJson::read(&p).unwrap();
        assert_eq!(got.version, "1.0.1");
        assert_eq!(got.homepage.as_deref(), Some("https://h"));
        std::fs::write(&p, r#"{"version": "1 0"}"#).unwrap();
        let e = PackageJson::read(&p).unwrap_err().to_string();
        assert!(e.contains("package.json: version"), "{e}");
        std::fs::write(&p, r#"{"name": "x"}"#).unwrap();
        let e = PackageJson::read(&p).unwrap_err().to_string();
        assert!(e.contains("version"), "{e}");
    }

    #[tokio::test]
    async fn a_git_tree_gives_branch_sha_and_dirtiness() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "1").unwrap();
        imagebake_testing::git_commit_all(dir.path(), "feature/x");
        let s = BuildStamp::from_git(dir.path(), None).await.unwrap();
        assert_eq!(s.branch, "feature");
        assert_eq!(s.git.len(), 40);
        assert!(!s.dirty);
        std::fs::write(dir.path().join("f"), "2").unwrap();
        let s = BuildStamp::from_git(dir.path(), Some("release"))
            .await
            .unwrap();
        assert_eq!(s.branch, "release");
        assert!(s.dirty && s.version().ends_with("-dirty"));
        let e = BuildStamp::from_git(Path::new("/nonexistent-repo"), Some("b"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent-repo"), "{e}");
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
