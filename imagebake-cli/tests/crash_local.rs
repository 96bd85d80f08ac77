//! Crash tests of `local-chroot`: `imagebake build` killed with SIGKILL at
//! each step, then `imagebake cleanup --crashed` must leave no loop device,
//! no mount and no file of the build (working copy, output in progress),
//! and the journal `cleaned`.

use std::path::Path;
use std::process::Command;

mod support;
use support::{KillAt, assert_state, cleanup_crashed, killed_build};

/// Mounts (from /proc/self/mountinfo) and loop devices (`losetup -a`) of
/// paths under `dir`.
fn local_leftovers(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().into_owned();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let loops = Command::new("losetup").arg("-a").output().expect("losetup");
    mounts
        .lines()
        .map(str::to_owned)
        .chain(
            String::from_utf8_lossy(&loops.stdout)
                .lines()
                .map(str::to_owned),
        )
        .filter(|l| l.contains(&d))
        .collect()
}

#[imagebake_testing::needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_chroot_killed_while_provisioning_in_the_chroot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tree = d.join("tree");
    imagebake_testing::busybox_tree(&tree, &["sh", "echo", "sleep"], &["proc", "sys", "dev"]);
    let template = format!(
        r#"source "local-chroot" "disk" {{
  from_scratch = true
  image_size   = "64M"
  rootfs_dir   = "{tree}"
  output_path  = "{out}"
  mount_path   = "{d}/mnt/{{{{.Device}}}}"
}}
build {{
  sources = ["source.local-chroot.disk"]
  provisioner "shell" {{
    inline = ["echo crash-marker-chroot", "exec sleep 300 </dev/null >/dev/null 2>&1"]
  }}
}}
"#,
        tree = tree.display(),
        out = d.join("out.raw").display(),
        d = d.display(),
    );
    tokio::task::block_in_place(|| {
        killed_build(d, &template, KillAt::Line("crash-marker-chroot"));
        assert_state(d, "crashed");
        assert!(
            !local_leftovers(d).is_empty(),
            "the killed build left its loop device and mounts"
        );
        let out = cleanup_crashed(d, &[], &[]);
        let left = local_leftovers(d);
        assert!(left.is_empty(), "left after cleanup:\n{left:#?}\n{out}");
        let files: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".raw"))
            .collect();
        assert!(files.is_empty(), "image files left: {files:?}\n{out}");
        assert_state(d, "cleaned");
    });
}
