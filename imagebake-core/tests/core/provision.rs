//! Provisioners as steps of the engine, for real in a busybox root, plus the
//! flush step against a fake machine communicator.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use imagebake_core::provision::{Comm, Download, Flush, Flushed, Shell, Upload};
use imagebake_core::{
    CancellationToken, ChannelObserver, Communicator, Error, Event, ExitOutput, FnObserver,
    OutputStream, RemoteCommand, Resource, Runner, Step,
};

use imagebake_testing::needs_root;

use crate::support::{assert_dead, drain, output_lines, rootfs};

/// Runs one provisioner step in a build.
async fn provision<S>(
    runner: &Runner,
    step: S,
    comm: Comm,
) -> Result<S::Out, imagebake_core::BuildError>
where
    S: Step<Comm>,
    S::Out: 'static,
{
    runner
        .run("provision", CancellationToken::new(), |cx| async move {
            cx.step(&step, comm).await
        })
        .await
        .map(|b| b.value)
}

#[needs_root("chroot")]
#[tokio::test]
async fn shell_inline_streams_output_and_sees_env() {
    let fs = rootfs();
    let (observer, mut rx) = ChannelObserver::new();
    let runner = Runner::new().observer(Arc::new(observer));
    let shell = Shell::inline([
        "echo hello $GREETING",
        "echo warn >&2",
        "touch /tmp/done",
        "echo id=$IMAGEBAKE_BUILD_ID",
    ])
    .env("GREETING", "wor'ld");
    // The build future is Send + 'static: it can be spawned (as the Python
    // binding does).
    let (r, comm) = (runner.clone(), fs.dyn_comm());
    let handle = tokio::spawn(async move {
        r.run("spawned", CancellationToken::new(), |cx| async move {
            cx.step(&shell, comm).await
        })
        .await
    });
    let built = handle.await.unwrap().unwrap();
    let events = drain(&mut rx);
    // Order is kept within a stream (not across the two pipes).
    let lines = output_lines(&events);
    let of = |want: OutputStream| -> Vec<String> {
        lines
            .iter()
            .filter(|(s, _)| *s == want)
            .map(|(_, l)| l.clone())
            .collect()
    };
    assert_eq!(
        of(OutputStream::Stdout),
        ["hello wor'ld".to_owned(), format!("id={}", built.build_id)]
    );
    assert_eq!(of(OutputStream::Stderr), ["warn"]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::OutputLine { step: Some(s), .. } if s == "shell"))
    );
    assert!(fs.path("/tmp/done").exists());
    let left: Vec<_> = fs::read_dir(fs.path("/tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().starts_with("script_")),
        "scripts left: {left:?}"
    );
}

#[needs_root("chroot")]
#[tokio::test]
async fn shell_scripts_run_in_order_with_a_custom_execute_command() {
    let fs = rootfs();
    let local = tempfile::tempdir().unwrap();
    let one = local.path().join("one.sh");
    let two = local.path().join("two.sh");
    fs::write(&one, "echo \"one $1 $V\" >> /tmp/order\n").unwrap();
    fs::write(&two, "echo \"two $1 $V\" >> /tmp/order\n").unwrap();
    let shell = Shell::scripts([&one, &two])
        .environment_vars(["V=v1"])
        .unwrap()
        .execute_command("{{.Vars}} /bin/sh {{ .Path }} from-template")
        .remote_folder("/opt/scripts/")
        .skip_clean(true);
    provision(&Runner::new(), shell, fs.dyn_comm())
        .await
        .unwrap();
    assert_eq!(
        fs::read_to_string(fs.path("/tmp/order")).unwrap(),
        "one from-template v1\ntwo from-template v1\n"
    );
    let kept: Vec<_> = fs::read_dir(fs.path("/opt/scripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 2, "skip_clean keeps both scripts");
    assert!(
        kept.iter()
            .all(|p| fs::metadata(p).unwrap().permissions().mode() & 0o777 == 0o755)
    );
}

#[needs_root("chroot")]
#[tokio::test]
async fn shell_failure_names_command_status_and_stderr_tail() {
    let fs = rootfs();
    let shell = Shell::inline(["echo first >&2", "echo boom >&2", "exit 7", "echo never"])
        .env("SECRET_TOKEN", "hunter2");
    let err = provision(&Runner::new(), shell, fs.dyn_comm())
        .await
        .unwrap_err();
    assert_eq!(err.step.as_deref(), Some("shell"));
    match &err.cause {
        Error::CommandFailed {
            command,
            status,
            stderr_tail,
        } => {
            assert_eq!(*status, 7);
            assert_eq!(stderr_tail, &["first", "boom"]);
            assert!(
                command.contains("/tmp/script_") && command.contains("(inline script)"),
                "{command}"
            );
            assert!(command.contains("SECRET_TOKEN=…"), "{command}");
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{err} {err:?}");
    assert!(text.contains("status 7") && text.contains("boom"), "{text}");
    assert!(
        !text.contains("hunter2"),
        "a variable's value leaked into the error: {text}"
    );

    let ok = Shell::inline(["exit 3"]).valid_exit_codes([0, 3]);
    provision(&Runner::new(), ok, fs.dyn_comm()).await.unwrap();
}

#[needs_root("chroot")]
#[tokio::test]
async fn shell_configuration_errors_are_reported() {
    let fs = rootfs();
    let bad_template = Shell::inline(["true"]).execute_command("{{.Nope}} {{.Path}}");
    let err = provision(&Runner::new(), bad_template, fs.dyn_comm())
        .await
        .unwrap_err();
    assert!(
        matches!(err.cause, Error::Config(ref m) if m.contains("{{.Nope}}")),
        "{err}"
    );
    let bad_name = Shell::inline(["true"]).env("1BAD", "x");
    let err = provision(&Runner::new(), bad_name, fs.dyn_comm())
        .await
        .unwrap_err();
    assert!(matches!(err.cause, Error::Config(_)), "{err}");
    assert!(
        Shell::inline(["true"])
            .environment_vars(["NO_EQUALS"])
            .is_err()
    );
}

#[needs_root("chroot")]
#[tokio::test]
async fn file_uploads_follow_packer_rules_and_download() {
    let fs = rootfs();
    let local = tempfile::tempdir().unwrap();
    let site = local.path().join("site");
    fs::create_dir_all(site.join("sub")).unwrap();
    fs::write(site.join("index.html"), "<h1>hi</h1>").unwrap();
    fs::write(site.join("sub/x"), "x").unwrap();
    let conf = local.path().join("f.conf");
    fs::write(&conf, "k=v\n").unwrap();
    let site_slash = format!("{}/", site.display());
    let runner = Runner::new();
    let steps: Vec<Box<dyn Step<Comm, Out = Comm>>> = vec![
        Box::new(Upload::content("welcome\n", "/etc/motd")),
        Box::new(Upload::path(&site_slash, "/srv/a")),
        Box::new(Upload::path(&site, "/srv/b")),
        Box::new(Upload::path(&conf, "/etc/app/")),
        Box::new(Upload::path(&conf, "/etc/renamed.conf").mode(0o600)),
        Box::new(Download::file("/etc/motd", local.path().join("dl/"))),
    ];
    let comm = fs.dyn_comm();
    runner
        .run("files", CancellationToken::new(), |cx| async move {
            cx.steps(&steps, comm).await
        })
        .await
        .unwrap();
    assert_eq!(
        fs::read_to_string(fs.path("/etc/motd")).unwrap(),
        "welcome\n"
    );
    assert_eq!(
        fs::metadata(fs.path("/etc/motd"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
    assert_eq!(
        fs::read_to_string(fs.path("/srv/a/index.html")).unwrap(),
        "<h1>hi</h1>"
    );
    assert_eq!(fs::read_to_string(fs.path("/srv/a/sub/x")).unwrap(), "x");
    assert!(fs.path("/srv/b/site/index.html").is_file());
    assert!(!fs.path("/srv/b/index.html").exists());
    assert_eq!(
        fs::read_to_string(fs.path("/etc/app/f.conf")).unwrap(),
        "k=v\n"
    );
    assert_eq!(
        fs::metadata(fs.path("/etc/renamed.conf"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert_eq!(
        fs::read_to_string(local.path().join("dl/motd")).unwrap(),
        "welcome\n"
    );
}

#[needs_root("chroot")]
#[tokio::test]
async fn flush_syncs_in_a_chroot_and_refuses_power_off() {
    let fs = rootfs();
    let flushed = provision(&Runner::new(), Flush::sync_only(), fs.dyn_comm())
        .await
        .unwrap();
    assert!(!flushed.powered_off);
    let err = provision(&Runner::new(), Flush::sync_and_power_off(), fs.dyn_comm())
        .await
        .unwrap_err();
    assert!(
        matches!(err.cause, Error::Config(ref m) if m.contains("cannot power")),
        "{err}"
    );
}

/// A machine reached over a session that drops when it powers off (what the
/// SSH communicator does).
#[derive(Debug, Default)]
struct FakeMachine {
    commands: Mutex<Vec<String>>,
}

#[async_trait]
impl Communicator for FakeMachine {
    fn describe(&self) -> String {
        "fake machine".into()
    }

    async fn exec(
        &self,
        cmd: &RemoteCommand,
        on_line: &mut imagebake_core::comm::OnLine<'_>,
        _cancel: &CancellationToken,
    ) -> Result<ExitOutput, Error> {
        self.commands.lock().unwrap().push(cmd.command.clone());
        if cmd.command.starts_with("shutdown") {
            on_line(OutputStream::Stdout, "going down");
            return Err(Error::Disconnected {
                what: cmd.command.clone(),
                source: None,
            });
        }
        Ok(ExitOutput::default())
    }

    async fn upload_file(
        &self,
        _: &Path,
        _: &str,
        _: Option<u32>,
        _: &CancellationToken,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn upload_bytes(
        &self,
        _: &[u8],
        _: &str,
        _: u32,
        _: &CancellationToken,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn upload_dir(&self, _: &Path, _: &str, _: &CancellationToken) -> Result<(), Error> {
        Ok(())
    }

    async fn download(&self, _: &str, _: &Path, _: &CancellationToken) -> Result<(), Error> {
        Ok(())
    }

    fn can_power_off(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn flush_powers_off_and_accepts_the_disconnect() {
    let machine = Arc::new(FakeMachine::default());
    let (observer, mut rx) = ChannelObserver::new();
    let runner = Runner::new().observer(Arc::new(observer));
    let flushed: Flushed = provision(
        &runner,
        Flush::sync_and_power_off(),
        Comm::from(machine.clone()),
    )
    .await
    .unwrap();
    assert!(flushed.powered_off);
    assert_eq!(
        *machine.commands.lock().unwrap(),
        ["sync", "shutdown -h now || poweroff"]
    );
    assert_eq!(
        output_lines(&drain(&mut rx)),
        [(OutputStream::Stdout, "going down".to_owned())]
    );
}

#[needs_root("chroot")]
#[tokio::test]
async fn cancelling_a_build_mid_command_kills_it_and_cleans_up() {
    let fs = rootfs();
    let token = CancellationToken::new();
    let t = token.clone();
    let observer = FnObserver(move |e: &Event| {
        if matches!(e, Event::OutputLine { line, .. } if line == "started") {
            t.cancel();
        }
    });
    let undone = Arc::new(AtomicBool::new(false));
    let u = undone.clone();
    let comm = fs.dyn_comm();
    let shell = Shell::inline([
        "sleep 600 & echo $! > /tmp/sleep.pid",
        "echo started",
        "wait",
    ]);
    let err = Runner::new()
        .observer(Arc::new(observer))
        .run("cancel", token, |cx| async move {
            cx.defer(Resource::new("machine", "m-1"), move |_| async move {
                u.store(true, Ordering::SeqCst);
                Ok(())
            });
            cx.step(&shell, comm).await
        })
        .await
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert_eq!(err.step.as_deref(), Some("shell"));
    assert!(undone.load(Ordering::SeqCst));
    assert!(err.cleanup.is_clean());
    assert_dead(&fs.path("/tmp/sleep.pid"));
}
