//! The chroot communicator, for real, in a busybox root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use imagebake_core::{CancellationToken, ChrootCommunicator, Communicator, Error, RemoteCommand};

use imagebake_testing::needs_root;

use crate::support::{TWO_STREAMS_EXIT_3, assert_dead, assert_two_streams_exit_3, rootfs, run};

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[needs_root("chroot")]
#[tokio::test]
async fn exec_streams_lines_and_returns_exit_codes() {
    let fs = rootfs();
    let (r, lines) = run(fs.comm.as_ref(), RemoteCommand::new(TWO_STREAMS_EXIT_3)).await;
    let out = assert_two_streams_exit_3(r, &lines);
    assert!(!out.success());

    let (r, _) = run(fs.comm.as_ref(), RemoteCommand::new("true")).await;
    assert_eq!(r.unwrap().status, 0);
}

#[needs_root("chroot")]
#[tokio::test]
async fn exec_sees_the_root_and_a_clean_environment() {
    let fs = rootfs();
    let cmd = RemoteCommand::new(
        "cat /etc/marker; echo \"home=$HOME\"; echo \"foo=$FOO\"; \
         test -e /usr/sbin/chroot && echo host-visible || echo isolated; env | wc -l",
    )
    .env("FOO", "it's x");
    let (r, lines) = run(fs.comm.as_ref(), cmd).await;
    let out = r.unwrap();
    assert_eq!(out.status, 0, "{lines:?}");
    assert_eq!(
        out.stdout_tail[..4],
        ["inside-chroot", "home=/root", "foo=it's x", "isolated"]
    );
    let vars: u32 = out.stdout_tail[4].trim().parse().unwrap();
    assert!(vars < 10, "the host environment leaked: {vars} variables");
}

#[needs_root("chroot")]
#[tokio::test]
async fn death_by_signal_is_an_error() {
    let fs = rootfs();
    let (r, _) = run(fs.comm.as_ref(), RemoteCommand::new("kill -9 $$")).await;
    assert!(matches!(r, Err(Error::Signal { signal: 9, .. })), "{r:?}");
}

#[needs_root("chroot")]
#[tokio::test]
async fn cancellation_kills_the_command_and_its_children() {
    let fs = rootfs();
    let token = CancellationToken::new();
    let t = token.clone();
    let cmd = RemoteCommand::new("sleep 600 & echo $! > /tmp/sleep.pid; echo started; wait");
    let r = fs
        .comm
        .exec(
            &cmd,
            &mut |_, l: &str| {
                if l == "started" {
                    t.cancel();
                }
            },
            &token,
        )
        .await;
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
    assert_dead(&fs.path("/tmp/sleep.pid"));
}

#[needs_root("chroot")]
#[tokio::test]
async fn uploads_keep_modes_and_download_round_trips() {
    let fs = rootfs();
    let c = CancellationToken::new();
    let comm = fs.comm.as_ref();

    comm.upload_bytes(b"hello\n", "/opt/app/conf.txt", 0o640, &c)
        .await
        .unwrap();
    assert_eq!(fs::read(fs.path("/opt/app/conf.txt")).unwrap(), b"hello\n");
    assert_eq!(mode(&fs.path("/opt/app/conf.txt")), 0o640);

    let local = tempfile::tempdir().unwrap();
    let tool = local.path().join("tool");
    fs::write(&tool, "#!/bin/sh\necho tool ran\n").unwrap();
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o750)).unwrap();
    comm.upload_file(&tool, "/usr/local/bin/tool", None, &c)
        .await
        .unwrap();
    assert_eq!(mode(&fs.path("/usr/local/bin/tool")), 0o750);
    comm.upload_file(&tool, "/etc/secret", Some(0o600), &c)
        .await
        .unwrap();
    assert_eq!(mode(&fs.path("/etc/secret")), 0o600);
    let (r, _) = run(comm, RemoteCommand::new("/usr/local/bin/tool")).await;
    assert_eq!(r.unwrap().stdout_tail, ["tool ran"]);

    let tree = local.path().join("tree");
    fs::create_dir_all(tree.join("bin")).unwrap();
    fs::create_dir_all(tree.join("private")).unwrap();
    fs::write(tree.join("a.txt"), "a").unwrap();
    fs::write(tree.join("bin/run.sh"), "#!/bin/sh\necho run $1\n").unwrap();
    fs::set_permissions(tree.join("bin/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(tree.join("private/key"), "k").unwrap();
    fs::set_permissions(tree.join("private/key"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(tree.join("private"), fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink("a.txt", tree.join("link")).unwrap();
    comm.upload_dir(&tree, "/srv/t", &c).await.unwrap();
    assert_eq!(fs::read_to_string(fs.path("/srv/t/a.txt")).unwrap(), "a");
    assert_eq!(mode(&fs.path("/srv/t/bin/run.sh")), 0o755);
    assert_eq!(mode(&fs.path("/srv/t/private")), 0o700);
    assert_eq!(mode(&fs.path("/srv/t/private/key")), 0o600);
    assert_eq!(
        fs::read_link(fs.path("/srv/t/link")).unwrap(),
        Path::new("a.txt")
    );
    let (r, _) = run(
        comm,
        RemoteCommand::new("/srv/t/bin/run.sh x && cat /srv/t/link"),
    )
    .await;
    assert_eq!(r.unwrap().stdout_tail, ["run x", "a"]);

    let back = local.path().join("down/conf.txt");
    comm.download("/opt/app/conf.txt", &back, &c).await.unwrap();
    assert_eq!(fs::read(&back).unwrap(), b"hello\n");
    let missing = comm.download("/nope", &local.path().join("x"), &c).await;
    assert!(missing.is_err());
}

#[needs_root("chroot")]
#[tokio::test]
async fn paths_stay_inside_the_root() {
    let fs = rootfs();
    let c = CancellationToken::new();
    let name = format!("imagebake-test-{}.so", std::process::id());
    // /lib -> /usr/lib is an absolute link: it must resolve inside the root.
    fs.comm
        .upload_bytes(b"x", &format!("/lib/{name}"), 0o644, &c)
        .await
        .unwrap();
    assert!(fs.path(&format!("/usr/lib/{name}")).is_file());
    assert!(
        !Path::new("/usr/lib").join(&name).exists(),
        "wrote to the host's /usr/lib"
    );
    fs.comm
        .upload_bytes(b"x", "/../../escape.txt", 0o644, &c)
        .await
        .unwrap();
    assert!(fs.path("/escape.txt").is_file());
}

#[needs_root("chroot")]
#[tokio::test]
async fn command_wrapper_wraps_the_chroot_command() {
    let fs = rootfs();
    let wrapped = ChrootCommunicator::new(fs.dir.path())
        .unwrap()
        .command_wrapper("env WRAPPED=yes {{.Command}}")
        .unwrap();
    let (r, _) = run(
        &wrapped,
        RemoteCommand::new("echo \"w=$WRAPPED\"; cat /etc/marker"),
    )
    .await;
    assert_eq!(r.unwrap().stdout_tail, ["w=yes", "inside-chroot"]);
    let bad = ChrootCommunicator::new(fs.dir.path())
        .unwrap()
        .command_wrapper("sudo {{.Cmd}}");
    assert!(matches!(bad, Err(Error::Config(_))));
    assert!(ChrootCommunicator::new(fs.path("/no/such/dir")).is_err());
}
