use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Comm, line_events};
use crate::spec::{CopyKind, Spec};
use crate::{Error, ExitOutput, OutputStream, RemoteCommand, Step, StepCx, shell_quote};

/// The package managers tried, in order, with the command that installs
/// (`$PKGS` is replaced by the packages, each quoted).
const MANAGERS: &[(&str, &str)] = &[
    ("pkgin", "pkgin -f -y up && pkgin -y in $PKGS"),
    (
        "apt-get",
        "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q $PKGS",
    ),
    ("dnf", "dnf install -y $PKGS"),
    ("apk", "apk add --no-progress $PKGS"),
];

/// pkgsrc's directories first, as in a SmartOS root login.
const PATH: &str = "/opt/local/gnu/bin:/opt/local/bin:/opt/local/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The `image-spec` provisioner: applies a mibe spec folder (see
/// [`crate::spec`]) to the machine, as mibe does in a build zone:
///
/// 1. `copy/` onto `/`, modes kept, owned by root (directories that exist
///    already are left as they are);
/// 2. `/etc/motd` from `motd` (substituted) and `/etc/product`;
/// 3. `packages` with the package manager found on the guest (`pkgin` after
///    `pkgin -f -y up` on SmartOS, else `apt-get`, `dnf` or `apk`);
/// 4. `customize`, run as root by `bash -e` with pkgsrc first in `PATH`.
///
/// Commands run as root (through `sudo -n` when the login user is not).
/// Everything is staged in a temporary directory that is removed whether
/// the step succeeds or fails. The spec is read and checked when the step
/// is made, so a bad spec fails before anything is created.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    spec: Spec,
}

impl ImageSpec {
    /// Reads and checks the spec folder `dir` (errors name file and line).
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, Error> {
        Ok(Self {
            spec: Spec::load(dir)?,
        })
    }

    /// A spec already loaded.
    pub fn from_spec(spec: Spec) -> Self {
        Self { spec }
    }

    /// The spec this step applies.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }
}

/// Where one step's files are staged on the machine, and how to be root.
struct Stage {
    dir: String,
    sudo: &'static str,
}

impl Stage {
    fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }
}

async fn run_shell(cx: &StepCx, comm: &Comm, line: &str) -> Result<ExitOutput, Error> {
    comm.exec(&RemoteCommand::new(line), &mut line_events(cx), cx.token())
        .await
}

#[async_trait]
impl Step<Comm> for ImageSpec {
    type Out = Comm;

    fn name(&self) -> Cow<'_, str> {
        Cow::Borrowed("image-spec")
    }

    async fn run(&self, cx: &StepCx, comm: Comm) -> Result<Comm, Error> {
        for note in &self.spec.notes {
            cx.output_line(OutputStream::Stderr, &format!("image-spec: {note}"));
        }
        let made = run_shell(cx, &comm, "mktemp -d /tmp/imagebake-spec.XXXXXX")
            .await?
            .check("mktemp -d /tmp/imagebake-spec.XXXXXX")?;
        let dir = made
            .stdout_tail
            .last()
            .map(|l| l.trim().to_owned())
            .filter(|d| d.starts_with("/tmp/imagebake-spec."))
            .ok_or_else(|| Error::Config("image-spec: mktemp printed no directory".into()))?;
        let result = self.apply(cx, &comm, &dir).await;
        if !cx.token().is_cancelled() {
            let rm = format!("rm -rf {}", shell_quote(&dir));
            let sudo_rm = format!("{rm} 2>/dev/null || sudo -n {rm}");
            let cleaned = run_shell(cx, &comm, &sudo_rm).await;
            if result.is_ok() {
                cleaned?.check(&rm)?;
            }
        }
        result.map(|()| comm)
    }
}

impl ImageSpec {
    async fn apply(&self, cx: &StepCx, comm: &Comm, dir: &str) -> Result<(), Error> {
        let id = run_shell(cx, comm, "id -u").await?.check("id -u")?;
        let root = id.stdout_tail.last().is_some_and(|l| l.trim() == "0");
        let stage = Stage {
            dir: dir.to_owned(),
            sudo: if root { "" } else { "sudo -n " },
        };
        cx.check_cancelled()?;
        self.install_files(cx, comm, &stage).await?;
        cx.check_cancelled()?;
        self.install_packages(cx, comm, &stage).await?;
        cx.check_cancelled()?;
        self.customize(cx, comm, &stage).await
    }

    /// `copy/`, `/etc/motd` and `/etc/product`, through one script.
    async fn install_files(&self, cx: &StepCx, comm: &Comm, stage: &Stage) -> Result<(), Error> {
        let spec = &self.spec;
        let staged_copy = stage.path("copy");
        if !spec.copy.is_empty() {
            comm.upload_dir(&spec.copy_dir(), &staged_copy, cx.token())
                .await?;
        }
        if let Some(motd) = spec.motd_text() {
            comm.upload_bytes(motd.as_bytes(), &stage.path("motd"), 0o644, cx.token())
                .await?;
        }
        comm.upload_bytes(
            spec.product_text().as_bytes(),
            &stage.path("product"),
            0o644,
            cx.token(),
        )
        .await?;
        let script = install_script(spec, &spec.copy_dir(), &staged_copy, &stage.dir)?;
        let path = stage.path("install.sh");
        comm.upload_bytes(script.as_bytes(), &path, 0o700, cx.token())
            .await?;
        let line = format!("{}sh {} 2>&1", stage.sudo, shell_quote(&path));
        let out = run_shell(cx, comm, &line).await?;
        failed(out, "installing copy/, /etc/motd and /etc/product")
    }

    async fn install_packages(&self, cx: &StepCx, comm: &Comm, stage: &Stage) -> Result<(), Error> {
        let pkgs = &self.spec.packages;
        if pkgs.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = MANAGERS.iter().map(|(m, _)| *m).collect();
        let detect = format!(
            "PATH={PATH}; for m in {}; do command -v $m >/dev/null 2>&1 && echo $m && exit 0; done; exit 3",
            names.join(" ")
        );
        let found = run_shell(cx, comm, &detect).await?;
        let manager = found.stdout_tail.last().map(|l| l.trim().to_owned());
        let Some((manager, install)) = manager
            .filter(|_| found.success())
            .and_then(|m| MANAGERS.iter().find(|(n, _)| *n == m))
        else {
            return Err(Error::Config(format!(
                "image-spec: the guest has no known package manager ({}) to install {}",
                names.join(", "),
                pkgs.join(" ")
            )));
        };
        let quoted: Vec<String> = pkgs.iter().map(|p| shell_quote(p)).collect();
        let script = format!(
            "PATH={PATH}; {}",
            install.replace("$PKGS", &quoted.join(" "))
        );
        let line = format!("{}sh -c {} 2>&1", stage.sudo, shell_quote(&script));
        let out = run_shell(cx, comm, &line).await?;
        failed(
            out,
            &format!("installing packages {} with {manager}", pkgs.join(" ")),
        )
    }

    async fn customize(&self, cx: &StepCx, comm: &Comm, stage: &Stage) -> Result<(), Error> {
        let Some(local) = &self.spec.customize else {
            return Ok(());
        };
        let path = stage.path("customize");
        comm.upload_file(local, &path, Some(0o700), cx.token())
            .await?;
        let script = format!(
            "PATH={PATH}; export PATH; command -v bash >/dev/null 2>&1 || {{ echo 'customize needs bash, which the guest lacks' >&2; exit 127; }}; cd ~root 2>/dev/null || cd /; exec bash -e \"$0\""
        );
        let line = format!(
            "{}sh -c {} {} 2>&1",
            stage.sudo,
            shell_quote(&script),
            shell_quote(&path)
        );
        let out = run_shell(cx, comm, &line).await?;
        failed(out, &format!("customize ({})", local.display()))
    }
}

/// `Ok` for status 0; otherwise [`Error::CommandFailed`] naming `what`, with
/// the tail of the (merged) output.
fn failed(out: ExitOutput, what: &str) -> Result<(), Error> {
    if out.success() {
        return Ok(());
    }
    let mut tail = out.stdout_tail;
    tail.extend(out.stderr_tail);
    Err(Error::CommandFailed {
        command: what.to_owned(),
        status: out.status,
        stderr_tail: tail,
    })
}

/// The script that puts the staged `copy/` tree onto `/` (missing
/// directories created with their mode, files and links replaced, all
/// owned by root) and installs the staged motd and product files.
fn install_script(
    spec: &Spec,
    local_copy: &Path,
    staged: &str,
    dir: &str,
) -> Result<String, Error> {
    let mut s = String::from("set -e\n");
    let q = |p: &str| shell_quote(p);
    for e in &spec.copy {
        let dst = format!("/{}", e.path);
        let src = format!("{staged}/{}", e.path);
        let mode = e.mode;
        let _ = match e.kind {
            CopyKind::Dir => writeln!(
                s,
                "[ -d {d} ] || {{ mkdir {d} && chmod {mode:o} {d} && chown 0:0 {d}; }}",
                d = q(&dst)
            ),
            CopyKind::File => writeln!(
                s,
                "rm -f {d}; cp {src} {d}; chmod {mode:o} {d}; chown 0:0 {d}",
                d = q(&dst),
                src = q(&src)
            ),
            CopyKind::Symlink => {
                let local: PathBuf = local_copy.join(&e.path);
                let target = std::fs::read_link(&local).map_err(|err| {
                    Error::io(format!("image-spec: reading link {}", local.display()), err)
                })?;
                let target = target.to_str().ok_or_else(|| {
                    Error::Config(format!(
                        "image-spec: the target of link {} is not UTF-8",
                        local.display()
                    ))
                })?;
                writeln!(
                    s,
                    "rm -f {d}; ln -s {t} {d}; chown -h 0:0 {d}",
                    d = q(&dst),
                    t = q(target)
                )
            }
        };
    }
    if spec.motd.is_some() {
        let _ = writeln!(
            s,
            "mkdir -p /etc; cp {m} /etc/motd; chmod 644 /etc/motd; chown 0:0 /etc/motd",
            m = q(&format!("{dir}/motd"))
        );
    }
    let _ = writeln!(
        s,
        "mkdir -p /etc; cp {p} /etc/product; chmod 644 /etc/product; chown 0:0 /etc/product",
        p = q(&format!("{dir}/product"))
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_script_quotes_every_path() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("manifest"), "name=\"a-1\"\n").unwrap();
        std::fs::create_dir_all(d.path().join("copy/etc/it's")).unwrap();
        std::fs::write(d.path().join("copy/etc/it's/x y"), "x").unwrap();
        std::os::unix::fs::symlink("../x y", d.path().join("copy/etc/link")).unwrap();
        let spec = Spec::load(d.path()).unwrap();
        let s = install_script(&spec, &spec.copy_dir(), "/tmp/s/copy", "/tmp/s").unwrap();
        assert!(s.contains("[ -d '/etc/it'\"'\"'s' ] || { mkdir"), "{s}");
        assert!(
            s.contains("cp '/tmp/s/copy/etc/it'\"'\"'s/x y' '/etc/it'\"'\"'s/x y'"),
            "{s}"
        );
        assert!(s.contains("ln -s '../x y' '/etc/link'"), "{s}");
        assert!(s.ends_with("chown 0:0 /etc/product\n"), "{s}");
        assert!(!s.contains("/etc/motd"), "{s}");
    }
}
