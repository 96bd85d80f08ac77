//! Crash tests of `local-chroot`: `imagebake build` killed with SIGKILL at
//! each step (right after `losetup`, making the filesystem, provisioning in
//! the chroot, the unmount, writing and compressing the output), then
//! `imagebake cleanup --crashed` must leave no loop device, no mount and no
//! file of the build (working copy, output in progress), and the journal
//! `cleaned`.
//!
//! A kill point is held by a real mechanism: a provisioner that sleeps, or
//! Packer's `command_wrapper` (every host command goes through it) set to a
//! script that runs the command, then, after the first run of the command
//! the test names, writes its pid to `held` and sleeps instead of exiting.

use std::path::Path;

mod support;
use support::{
    KillAt, assert_state, cleanup_crashed, holding_wrapper, killed_build, local_leftovers, release,
};

/// The image files in `dir` (working copies, outputs, compressed outputs,
/// manifests).
fn image_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            [".raw", ".qcow2", ".gz", ".imgmanifest"]
                .iter()
                .any(|x| n.ends_with(x))
        })
        .collect()
}

/// A from-scratch `local-chroot` template in `d` (a busybox tree copied in)
/// writing `output` (relative to `d`, where the build runs), with `source`
/// lines in the source and `build` lines in the build.
fn scratch_template(d: &Path, output: &str, source: &str, build: &str) -> String {
    let tree = d.join("tree");
    imagebake_testing::busybox_tree(&tree, &["sh", "echo", "sleep"], &["proc", "sys", "dev"]);
    format!(
        r#"source "local-chroot" "disk" {{
  from_scratch = true
  image_size   = "64M"
  rootfs_dir   = "{tree}"
  output_path  = "{output}"
  mount_path   = "{d}/mnt/{{{{.Device}}}}"
{source}
}}
build {{
  sources = ["source.local-chroot.disk"]
{build}
}}
"#,
        tree = tree.display(),
        d = d.display(),
    )
}

/// `imagebake cleanup --crashed`, then nothing of the build is left: no
/// loop device, no mount, no image file, the journal `cleaned`.
fn assert_cleaned_up(d: &Path) {
    assert_state(d, "crashed");
    let out = cleanup_crashed(d, &[], &[]);
    let left = local_leftovers(d);
    assert!(left.is_empty(), "left after cleanup:\n{left:#?}\n{out}");
    let files = image_files(d);
    assert!(files.is_empty(), "image files left: {files:?}\n{out}");
    assert_state(d, "cleaned");
}

/// Kills a from-scratch build writing `output` (with `source` lines) right
/// after the first `hold` host command ran, checks `made` then (what the
/// kill point left), and cleans up.
fn killed_after(hold: &str, output: &str, source: &str, made: impl Fn(&Path) -> bool) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = format!("{}\n{source}", holding_wrapper(d, hold));
    let template = scratch_template(d, output, &source, "");
    let held = || d.join("held").exists();
    killed_build(d, &template, KillAt::Observed(&held));
    release(d);
    assert!(
        made(d),
        "the killed build left nothing to clean up: files {:?}, {:#?}",
        image_files(d),
        local_leftovers(d)
    );
    assert_cleaned_up(d);
}

#[imagebake_testing::needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_chroot_killed_while_making_the_filesystem() {
    // The blank image and its partition table are written in-process (no
    // host command to hold before `losetup`); `mkfs` is the first one after.
    tokio::task::block_in_place(|| {
        killed_after("mkfs", "out.raw", "", |d| {
            image_files(d).iter().any(|f| f.ends_with(".work.raw"))
                && local_leftovers(d).iter().any(|l| l.contains("/dev/loop"))
        });
    });
}

#[imagebake_testing::needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_chroot_killed_right_after_losetup() {
    tokio::task::block_in_place(|| {
        // The output is relative (as in every held test): the journal
        // records absolute paths, the device's backing file is matched by
        // its absolute path.
        killed_after("losetup", "out.raw", "", |d| {
            local_leftovers(d).iter().any(|l| l.contains("/dev/loop"))
        });
    });
}

#[imagebake_testing::needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_chroot_killed_while_provisioning_in_the_chroot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let provisioner = r#"  provisioner "shell" {
    inline = ["echo crash-marker-chroot", "exec sleep 300 </dev/null >/dev/null 2>&1"]
  }"#;
    let out = d.join("out.raw").display().to_string();
    let template = scratch_template(d, &out, "", provisioner);
    tokio::task::block_in_place(|| {
        killed_build(d, &template, KillAt::Line("crash-marker-chroot"));
        assert!(
            !local_leftovers(d).is_empty(),
            "the killed build left its loop device and mounts"
        );
        assert_cleaned_up(d);
    });
}

#[imagebake_testing::needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_chroot_killed_during_the_unmount() {
    tokio::task::block_in_place(|| {
        // Held after the first (deepest) mount is gone: the root and the
        // rest are still mounted.
        killed_after("umount", "out.raw", "", |d| {
            let left = local_leftovers(d);
            left.iter().any(|l| l.contains("/dev/loop"))
                && left
                    .iter()
                    .any(|l| l.contains(&format!("{}/mnt/", d.display())))
        });
    });
}

#[imagebake_testing::needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_chroot_killed_while_writing_the_qcow2_output() {
    tokio::task::block_in_place(|| {
        killed_after("qemu-img", "out.qcow2", "", |d| {
            d.join("out.qcow2").exists()
        });
    });
}

#[imagebake_testing::needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_chroot_killed_while_compressing_the_output() {
    let imgapi = r#"  imgapi_manifest = { name = "web", version = "1.0.0" }"#;
    tokio::task::block_in_place(|| {
        killed_after("gzip", "out.raw", imgapi, |d| {
            d.join("out.raw").exists() && d.join("out.raw.gz").exists()
        });
    });
}
