//! Bake locally, import into Oxide: one HCL2 template with a `local-chroot`
//! source built from scratch, then the `oxide-import` and
//! `oxide-image-promote` post-processors, run by the real `imagebake build`
//! against the Oxide simulator.

use std::process::Command;

use imagebake_core::oxide_client::{Client, Config, NameOrId};
use imagebake_sim::oxide::{OxideSim, OxideSimOptions};
use imagebake_testing::needs_root;

const BIN: &str = env!("CARGO_BIN_EXE_imagebake");

/// The template: busybox from scratch, a shell provisioner, the import,
/// the promotion to a silo image.
fn template(dir: &std::path::Path) -> String {
    format!(
        r#"source "local-chroot" "scratch" {{
  from_scratch = true
  image_size   = "64M"
  rootfs_dir   = "{dir}/tree"
  mount_path   = "{dir}/mnt/{{{{.Device}}}}"
  output_path  = "{dir}/out.raw"
}}
build {{
  sources = ["source.local-chroot.scratch"]
  provisioner "shell" {{
    inline = ["echo baked-for-oxide > /etc/baked"]
  }}
  post-processors {{
    post-processor "oxide-import" {{
      project       = "imagebake"
      image_name    = "baked-locally"
      image_os      = "busybox"
      image_version = "1.36"
      block_size    = 4096
    }}
    post-processor "oxide-image-promote" {{}}
  }}
}}
"#,
        dir = dir.display()
    )
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_chroot_template_is_built_and_imported_into_oxide() {
    let sim = OxideSim::start(OxideSimOptions::default())
        .await
        .expect("oxide simulator starts");
    let before = sim.inventory().images.len();
    let dir = tempfile::tempdir().unwrap();
    imagebake_testing::busybox_tree(
        &dir.path().join("tree"),
        &["sh", "echo", "sync"],
        &["proc", "sys", "dev"],
    );
    std::fs::write(dir.path().join("t.pkr.hcl"), template(dir.path())).unwrap();
    let o = tokio::task::block_in_place(|| {
        Command::new(BIN)
            .args(["build", "t.pkr.hcl"])
            .current_dir(dir.path())
            .env_clear()
            .env("HOME", dir.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OXIDE_HOST", sim.url())
            .env("OXIDE_TOKEN", sim.token())
            .output()
            .expect("imagebake runs")
    });
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("oxide-import"), "{out}");

    let inv = sim.inventory();
    assert!(inv.disks.is_empty(), "disks left: {:?}", inv.disks);
    assert!(
        inv.snapshots.is_empty(),
        "snapshots left: {:?}",
        inv.snapshots
    );
    let new: Vec<_> = inv.images.iter().skip(before).collect();
    assert_eq!(
        new.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["baked-locally"]
    );
    let want = std::fs::read(dir.path().join("out.raw")).unwrap();
    let got = sim
        .image_bytes(new[0].id, 0, want.len() as u64)
        .unwrap()
        .expect("the image keeps its bytes");
    assert!(
        got == want,
        "the image's bytes differ from the local file's"
    );
    assert!(sim.image_data_end(new[0].id).unwrap() <= want.len() as u64);
    let image = Client::new(Config::new(sim.url(), sim.token()))
        .unwrap()
        .image_view(NameOrId::from(new[0].id.to_string().as_str()), None)
        .await
        .unwrap();
    assert!(image.is_silo_image(), "{image:?}");
    assert_eq!((image.os.as_str(), image.block_size), ("busybox", 4096));
}
