//! Paths as seen from inside a root directory (a chroot, a machine's root
//! filesystem): absolute symbolic links point inside the root, relative ones
//! are followed from the link's own directory, and `..` never climbs above
//! the root. `/lib/x` where `ROOT/lib -> /usr/lib` is `ROOT/usr/lib/x`, never
//! the host's `/usr/lib/x`.
//!
//! The resolution reads the tree as it is now; a process that changes links
//! inside the root at the same time can still race it (resolve again, or
//! refuse links, where that matters).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symbolic links followed in one path before giving up (Linux's limit).
pub const MAX_LINKS: u32 = 40;

/// The host path of `path` as seen from inside `root`. `path` may be absolute
/// or relative (both are taken from the root). Missing components are kept
/// as they are (so a file to be created resolves too); a symbolic link in the
/// last component is followed only if `follow_last`.
///
/// Fails on a symbolic link loop (more than [`MAX_LINKS`] links) or when a
/// component cannot be read (permission denied); the result always starts
/// with `root`.
pub fn resolve(root: &Path, path: &Path, follow_last: bool) -> io::Result<PathBuf> {
    // A stack: the next component to look at is at the end.
    let mut pending = reversed_components(path);
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0u32;
    while let Some(c) = pending.pop() {
        if c == ".." {
            done.pop();
            continue;
        }
        if pending.is_empty() && !follow_last {
            done.push(c);
            break;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&done);
        candidate.push(&c);
        match fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::other(format!(
                        "too many levels of symbolic links at {} (resolving {} inside {})",
                        candidate.display(),
                        path.display(),
                        root.display()
                    )));
                }
                let target = fs::read_link(&candidate)?;
                if target.is_absolute() {
                    done.clear();
                }
                pending.extend(reversed_components(&target));
            }
            Ok(_) => done.push(c),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                done.push(c)
            }
            Err(e) => return Err(e),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(done);
    Ok(out)
}

/// The components of `p` that move: names and `..`, last first.
fn reversed_components(p: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    v.reverse();
    v
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = fs::canonicalize(dir.path()).expect("canonical");
        fs::create_dir_all(root.join("usr/lib")).expect("mkdir");
        fs::create_dir_all(root.join("etc")).expect("mkdir");
        (dir, root)
    }

    fn r(root: &Path, p: &str) -> PathBuf {
        resolve(root, Path::new(p), true).expect("resolves")
    }

    #[test]
    fn absolute_links_point_inside_the_root() {
        let (_d, root) = root();
        symlink("/usr/lib", root.join("lib")).expect("link");
        symlink("/etc/passwd", root.join("pw")).expect("link");
        assert_eq!(r(&root, "/lib/x"), root.join("usr/lib/x"));
        assert_eq!(r(&root, "pw"), root.join("etc/passwd"));
    }

    #[test]
    fn relative_links_climbing_out_stop_at_the_root() {
        let (_d, root) = root();
        symlink("../../../../etc", root.join("usr/lib/up")).expect("link");
        symlink("../../usr", root.join("usr/lib/back")).expect("link");
        assert_eq!(r(&root, "/usr/lib/up/passwd"), root.join("etc/passwd"));
        assert_eq!(r(&root, "/usr/lib/back/lib"), root.join("usr/lib"));
        assert_eq!(r(&root, "/../../etc/shadow"), root.join("etc/shadow"));
    }

    #[test]
    fn a_link_to_the_hosts_root_stays_inside() {
        let (_d, root) = root();
        symlink("/", root.join("slash")).expect("link");
        symlink("..", root.join("dotdot")).expect("link");
        assert_eq!(r(&root, "/slash/etc/hosts"), root.join("etc/hosts"));
        assert_eq!(r(&root, "/dotdot/dotdot/etc"), root.join("etc"));
    }

    #[test]
    fn loops_are_an_error_naming_the_link() {
        let (_d, root) = root();
        symlink("loop", root.join("loop")).expect("link");
        symlink("/b", root.join("a")).expect("link");
        symlink("/a", root.join("b")).expect("link");
        let e = resolve(&root, Path::new("/loop/x"), true).expect_err("a loop");
        assert!(e.to_string().contains("too many levels"), "{e}");
        assert!(e.to_string().contains("loop"), "{e}");
        assert!(resolve(&root, Path::new("/a"), true).is_err());
    }

    #[test]
    fn the_last_link_is_kept_unless_followed() {
        let (_d, root) = root();
        symlink("/etc", root.join("cfg")).expect("link");
        assert_eq!(
            resolve(&root, Path::new("/cfg"), false).expect("resolves"),
            root.join("cfg")
        );
        assert_eq!(r(&root, "/cfg"), root.join("etc"));
        // Missing components are kept, below a file too.
        fs::write(root.join("etc/file"), b"x").expect("write");
        assert_eq!(r(&root, "/etc/file/below"), root.join("etc/file/below"));
        assert_eq!(r(&root, "/new/dir/f"), root.join("new/dir/f"));
    }
}
