//! Image specs (mibe's spec folders) baked by the `triton` builder on the
//! Triton simulator over real SSH, as root: a spec in the mibe form and one
//! in the `manifest.json` form; a machine booted from each baked image
//! shows the packages (`pkgin list`), the `copy/` files with their modes,
//! the motd, `/etc/product` and customize's effect, and the image carries
//! the spec's metadata. Failures (customize exiting non-zero, an unknown
//! package, a manifest line that is not `key="value"`, a missing base
//! image) give a clear error and leave nothing (inventory checked).
//! Needs root, overlayfs, OpenSSH and busybox (`scripts/test-deps.sh`).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use imagebake_core::builders::Builder;
use imagebake_core::builders::triton::{TritonArtifact, TritonBuilder, TritonConfig};
use imagebake_core::packer_template::Template;
use imagebake_core::provision::Shell;
use imagebake_core::{BuildError, CancellationToken, Error, Runner};
use imagebake_sim::machine::SshMode;
use imagebake_sim::triton::TritonSim;
use imagebake_testing::needs_root;
use serde_json::{Value, json};

mod support;
use support::{merged, ms, triton_credentials, triton_ssh_sim};

const BASE_64_LTS_23: &str = "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301";

/// A triton builder block with no image name, version or source image:
/// the spec gives them.
fn block(sim: &TritonSim, extra: Value) -> Value {
    let v = merged(
        triton_credentials(sim),
        json!({
            "source_machine_package": "g1.small",
            "communicator": "ssh",
            "ssh_port": sim.ssh_port().expect("machines have SSH"),
            "ssh_timeout": "30s",
            "state_timeout": "60s",
            "image_timeout": "60s",
            "poll_cap": "10ms",
        }),
    );
    merged(v, extra)
}

fn write(dir: &Path, rel: &str, text: &str, mode: u32) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

const CUSTOMIZE: &str = "#!/usr/bin/bash\n\
    # mibe's customize template, shortened\n\
    PATH=/opt/local/gnu/bin:/opt/local/bin:/opt/local/sbin:/usr/bin:/usr/sbin\n\
    set -o errexit\n\
    echo \"customized by $(id -u)\" > /etc/customized\n\
    pkg_info -e nginx\n\
    sm-prepare-image -y\n";

/// The parts of a spec both forms share: packages, customize, motd, copy/.
fn common(dir: &Path, packages: &str, customize: &str) {
    write(dir, "packages", packages, 0o644);
    write(dir, "customize", customize, 0o755);
    write(
        dir,
        "motd",
        "   %brand% %name% %version%\n   %homepage%\n",
        0o644,
    );
    write(dir, "copy/opt/app/run.sh", "#!/bin/sh\necho run\n", 0o750);
    write(dir, "copy/etc/app.conf", "port=80\n", 0o640);
    write(dir, "Changelog", "web-1.2.3\n* first\n", 0o644);
}

/// A spec folder in mibe's form (`manifest`).
fn mibe_spec(base: &str, packages: &str, customize: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "manifest",
        &format!(
            "# mi-web\nname=\"web-1.2.3\"\nbase=\"{base}\"\norganization=\"Example\"\n\
             brand=\"Web \\\"Edge\\\"\"\ndescription=\"A web server, \\$5 a month\"\n\
             homepage=\"https://example.com/web\"\nusers=\"root admin\"\nrole=\"webserver\"\n\
             minram=\"1024\"\nnetworks=\"net0\"\nnet0=\"public\"\n"
        ),
        0o644,
    );
    common(d.path(), packages, customize);
    d
}

/// A spec folder in SkyLime's form (`manifest.json`).
fn json_spec() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let m = json!({
        "name": "core-web", "version": "2.0.0",
        "description": "Core \"web\" image", "organization": "SkyLime",
        "brand": "Core", "homepage": "https://skylime.example",
        "base": BASE_64_LTS_23,
        "customer_metadata": {"web_port": "the port nginx listens on"}
    });
    write(d.path(), "manifest.json", &m.to_string(), 0o644);
    common(d.path(), "nginx\ncurl\n", CUSTOMIZE);
    d
}

/// Bakes spec `dir` on the Triton simulator.
async fn bake(
    sim: &TritonSim,
    dir: &Path,
) -> Result<Box<dyn imagebake_core::packer_template::Artifact>, BuildError> {
    bake_on(block(sim, json!({})), dir).await
}

/// Bakes spec `dir` with builder block `block` through a Packer template
/// (`image-spec` provisioner).
async fn bake_on(
    block: Value,
    dir: &Path,
) -> Result<Box<dyn imagebake_core::packer_template::Artifact>, BuildError> {
    let t = Template::single(
        block,
        vec![json!({"type": "image-spec", "path": dir.to_str().unwrap()})],
    )
    .expect("template decodes");
    let b = t.builder(None).expect("builder");
    b.run(&Runner::new(), CancellationToken::new()).await
}

/// Boots a machine from `image`, and returns what it shows: `pkgin list`,
/// the modes and owners of the copied files, motd, product, customize's
/// mark (written to a file in a second image, read back).
async fn what_a_machine_shows(sim: &TritonSim, image: &str) -> String {
    let cfg = TritonConfig::from_json(&block(
        sim,
        json!({"source_machine_image": image, "image_name": "verify", "image_version": "1"}),
    ))
    .expect("config");
    let b = TritonBuilder::new(cfg)
        .expect("builder")
        .provisioner(Shell::inline([
            "PATH=/opt/local/bin:/opt/local/sbin:$PATH",
            "{ pkgin list; stat -c '%a %u:%g %n' /opt/app/run.sh /etc/app.conf; \
             cat /etc/motd /etc/product /etc/customized; ls /tmp; } > /root/shown.txt",
        ]));
    let a = b
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("a machine from the baked image boots and answers");
    let shown = sim
        .image_file(&a.image_id.to_string(), "/root/shown.txt")
        .expect("the report is in the image");
    String::from_utf8(shown).unwrap()
}

fn nothing_left(sim: &TritonSim, keep: &[&str], case: &str) {
    let inv = sim.inventory();
    assert!(
        inv.machines.is_empty(),
        "{case}: machines left: {:?}",
        inv.machines
    );
    let mut images: Vec<&str> = inv
        .custom_images()
        .iter()
        .filter(|i| i.name != "verify")
        .map(|i| i.id.as_str())
        .collect();
    images.sort_unstable();
    let mut want = keep.to_vec();
    want.sort_unstable();
    assert_eq!(images, want, "{case}: images left");
}

#[needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn a_mibe_spec_bakes_on_triton_and_its_image_shows_everything() {
    let sim = triton_ssh_sim().await;
    let spec = mibe_spec(
        "base-64-lts-23.4.0",
        "# web\nnginx\ncurl  \ngsed\n",
        CUSTOMIZE,
    );
    let artifact = bake(&sim, spec.path()).await.expect("the spec bakes");
    let a = artifact.downcast_ref::<TritonArtifact>().expect("triton");
    assert_eq!((a.name.as_str(), a.version.as_str()), ("web", "1.2.3"));
    assert_eq!(
        a.image.description.as_deref(),
        Some("A web server, $5 a month")
    );
    assert_eq!(a.image.homepage.as_deref(), Some("https://example.com/web"));
    assert_eq!(a.image.tags.get("role"), Some(&json!("webserver")));
    // Made from the spec's base: its requirements (min_platform) are inherited.
    let req = a.image.requirements.clone().unwrap_or_default();
    assert_eq!(
        req["min_platform"]["7.0"],
        json!("20240104T000728Z"),
        "{req}"
    );
    let id = a.image_id.to_string();
    let shown = what_a_machine_shows(&sim, &id).await;
    for want in [
        "nginx-1.25.4  Lightweight HTTP server and mail proxy server",
        "curl-8.6.0  Command line tool for transferring data with URL syntax",
        "gsed-4.9  GNU implementation of sed, the POSIX stream editor",
        "pkgin-23.8.1  ",
        "750 0:0 /opt/app/run.sh",
        "640 0:0 /etc/app.conf",
        "   Web \"Edge\" web 1.2.3\n   https://example.com/web\n",
        "Name: Example Web \"Edge\"\nImage: web 1.2.3\nBase Image: base-64-lts 23.4.0\n\
         Documentation: https://example.com/web\nDescription: A web server, $5 a month\n",
        "customized by 0\n",
    ] {
        assert!(shown.contains(want), "want {want:?} in:\n{shown}");
    }
    assert!(
        !shown.contains("imagebake-spec."),
        "staging left in /tmp:\n{shown}"
    );
    nothing_left(&sim, &[&id], "mibe");
}

#[needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn a_manifest_json_spec_bakes_on_triton() {
    let sim = triton_ssh_sim().await;
    let spec = json_spec();
    let artifact = bake(&sim, spec.path()).await.expect("the spec bakes");
    let a = artifact.downcast_ref::<TritonArtifact>().expect("triton");
    assert_eq!((a.name.as_str(), a.version.as_str()), ("core-web", "2.0.0"));
    assert_eq!(a.image.description.as_deref(), Some("Core \"web\" image"));
    let id = a.image_id.to_string();
    let shown = what_a_machine_shows(&sim, &id).await;
    for want in [
        "nginx-1.25.4  ",
        "curl-8.6.0  ",
        "750 0:0 /opt/app/run.sh",
        "   Core core-web 2.0.0\n",
        "Name: SkyLime Core\nImage: core-web 2.0.0\nBase Image: e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301\n",
        "customized by 0\n",
    ] {
        assert!(shown.contains(want), "want {want:?} in:\n{shown}");
    }
    nothing_left(&sim, &[&id], "json");
}

#[needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn failing_specs_name_the_cause_and_leave_nothing() {
    let sim = triton_ssh_sim().await;

    let spec = mibe_spec(
        "base-64-lts-23.4.0",
        "curl\n",
        "#!/usr/bin/bash\nset -o errexit\necho 'configuring web'\nexit 42\n",
    );
    let e = bake(&sim, spec.path()).await.expect_err("customize fails");
    assert_eq!(e.step.as_deref(), Some("image-spec"), "{e}");
    let Error::CommandFailed {
        command,
        status,
        stderr_tail,
    } = &e.cause
    else {
        panic!("{e}");
    };
    assert!(command.starts_with("customize ("), "{e}");
    assert_eq!(*status, 42);
    assert_eq!(
        stderr_tail.last().map(String::as_str),
        Some("configuring web"),
        "{e}"
    );
    assert!(e.cleanup.is_clean(), "{}", e.cleanup);
    nothing_left(&sim, &[], "customize");

    let spec = mibe_spec("base-64-lts-23.4.0", "nginx\nno-such-pkg\n", CUSTOMIZE);
    let e = bake(&sim, spec.path()).await.expect_err("unknown package");
    let text = e.to_string();
    assert!(
        text.contains("installing packages nginx no-such-pkg with pkgin"),
        "{text}"
    );
    assert!(
        text.contains("no-such-pkg is not available in the repository"),
        "{text}"
    );
    nothing_left(&sim, &[], "package");

    let spec = mibe_spec("base-64-lts-23.4.0", "curl\n", CUSTOMIZE);
    fs::write(
        spec.path().join("manifest"),
        "name=\"web-1.0.0\"\nbase=\"base-64-lts-23.4.0\"\nbrand=$(hostname)\n",
    )
    .unwrap();
    let before = sim.request_count();
    let t = Template::single(
        block(&sim, json!({})),
        vec![json!({"type": "image-spec", "path": spec.path().to_str().unwrap()})],
    );
    let e = t.expect_err("a bad manifest line is refused").to_string();
    assert!(e.contains("manifest:3"), "{e}");
    assert_eq!(
        sim.request_count(),
        before,
        "nothing was asked of the cloud"
    );

    let spec = mibe_spec("no-such-base-1.0.0", "curl\n", CUSTOMIZE);
    let e = bake(&sim, spec.path()).await.expect_err("missing base");
    assert_eq!(e.step.as_deref(), Some("source image"), "{e}");
    assert!(e.to_string().contains("no-such-base"), "{e}");
    nothing_left(&sim, &[], "base");
}

/// The same spec folder on the `oxide-instance` builder: the Oxide
/// simulator's Linux image (debian-12) installs with `apt-get`.
#[needs_root("simulated machines: overlay mounts, chroot, sshd")]
#[tokio::test]
async fn the_spec_bakes_on_oxide_instance_with_apt_get() {
    use imagebake_core::builders::oxide::OxideArtifact;
    use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};

    let sim = OxideSim::start(OxideSimOptions {
        delays: OxideDelays {
            instance_start: ms(5),
            instance_stop: ms(1_000),
        },
        ssh: SshMode::On,
        ..OxideSimOptions::default()
    })
    .await
    .expect("simulator with SSH instances starts");
    let spec = mibe_spec(
        "debian-12",
        "nginx\ncurl\n",
        "#!/bin/bash\nset -o errexit\necho \"customized by $(id -u)\" > /etc/customized\n",
    );
    let block = json!({
        "type": "oxide-instance",
        "host": sim.url(),
        "token": sim.token(),
        "project": "imagebake",
        "boot_disk_size": 2u64 << 30,
        "memory": 1u64 << 30,
        "communicator": "ssh",
        "ssh_username": "root",
        "ssh_port": sim.ssh_port().expect("instances have SSH"),
        "ssh_timeout": "30s",
        "state_timeout": "30s",
        "poll_cap": "10ms",
    });
    let artifact = bake_on(block, spec.path())
        .await
        .expect("the spec bakes on oxide-instance");
    let a = artifact.downcast_ref::<OxideArtifact>().expect("oxide");
    assert_eq!((a.name.as_str(), a.version.as_str()), ("web", "1.2.3"));
    let id = a.image_id.expect("an image");
    let file = |p: &str| {
        sim.image_file(id, p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    assert_eq!(
        file("/etc/customized").as_deref(),
        Some("customized by 0\n")
    );
    assert!(file("/var/lib/imagebake-sim/packages/nginx-1.25.4/+COMMENT").is_some());
    assert!(file("/var/lib/imagebake-sim/packages/curl-8.6.0/+COMMENT").is_some());
    assert_eq!(
        file("/opt/app/run.sh").as_deref(),
        Some("#!/bin/sh\necho run\n")
    );
    assert!(file("/etc/product").unwrap().contains("Image: web 1.2.3\n"));
    let inv = sim.inventory();
    assert!(inv.instances.is_empty(), "{:?}", inv.instances);
}

/// The same spec folder on the `local-chroot` builder, from scratch: a
/// busybox root with an `apk` stand-in and bash played by busybox's shell;
/// the files are read back from the output's filesystem with `debugfs`.
#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn the_spec_bakes_on_local_chroot() {
    const APPLETS: &[&str] = &[
        "sh", "echo", "cat", "rm", "chmod", "chown", "mkdir", "mktemp", "cp", "ln", "id", "touch",
        "true", "false", "test", "[", "env", "sync",
    ];
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    imagebake_testing::busybox_tree(&tree, APPLETS, &["proc", "sys", "dev", "usr/bin", "var"]);
    write(
        &tree,
        "usr/bin/apk",
        "#!/bin/sh\n[ \"$1\" = add ] || exit 2\nshift\nfor p; do case $p in --*) ;; \
         curl|nginx) echo $p >> /var/apk-installed ;; \
         *) echo \"ERROR: unable to select packages: $p\" >&2; exit 1 ;; esac; done\n",
        0o755,
    );
    write(&tree, "bin/bash", "#!/bin/sh\nexec sh \"$@\"\n", 0o755);
    let spec = mibe_spec(
        "base-64-lts-23.4.0",
        "nginx\ncurl\n",
        "set -o errexit\necho \"customized by $(id -u)\" > /etc/customized\n",
    );
    let out = dir.path().join("out.raw");
    let block = json!({
        "type": "local-chroot",
        "from_scratch": true,
        "image_size": "64M",
        "partition_table": "none",
        "mount_partition": "0",
        "rootfs_dir": tree,
        "output_path": out,
        "mount_path": format!("{}/mnt/{{{{.Device}}}}", dir.path().display()),
        "imgapi_manifest": true,
    });
    let t = Template::single(
        block,
        vec![json!({"type": "image-spec", "path": spec.path().to_str().unwrap()})],
    )
    .expect("template decodes");
    t.builder(None)
        .expect("builder")
        .run(&Runner::new(), CancellationToken::new())
        .await
        .expect("the spec bakes on local-chroot");
    let cat = |p: &str| {
        let o = std::process::Command::new("debugfs")
            .args(["-R", &format!("cat {p}")])
            .arg(&out)
            .output()
            .expect("debugfs runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(cat("/etc/customized"), "customized by 0\n");
    assert_eq!(cat("/var/apk-installed"), "nginx\ncurl\n");
    assert_eq!(cat("/opt/app/run.sh"), "#!/bin/sh\necho run\n");
    assert!(cat("/etc/product").contains("Image: web 1.2.3\n"));
    let stat = std::process::Command::new("debugfs")
        .args(["-R", "stat /opt/app/run.sh"])
        .arg(&out)
        .output()
        .expect("debugfs runs");
    let stat = String::from_utf8_lossy(&stat.stdout);
    assert!(stat.contains("Mode:  0750"), "{stat}");
    // The compressed disk and its IMGAPI manifest, from the spec.
    let gz = dir.path().join("out.raw.gz");
    let sha1 = std::process::Command::new("sha1sum")
        .arg(&gz)
        .output()
        .expect("sha1sum runs");
    let sha1 = String::from_utf8_lossy(&sha1.stdout)[..40].to_owned();
    let m: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("out.raw.imgmanifest")).unwrap())
            .expect("the manifest is JSON");
    assert_eq!(m["v"], json!(2));
    assert_eq!(
        (m["name"].clone(), m["version"].clone()),
        (json!("web"), json!("1.2.3"))
    );
    assert_eq!(m["type"], json!("zvol"));
    assert_eq!(m["image_size"], json!(64));
    assert_eq!(m["description"], json!("A web server, $5 a month"));
    assert_eq!(
        m["requirements"],
        json!({"min_ram": 1024, "networks": [{"name": "net0", "description": "public"}]})
    );
    assert_eq!(m["users"], json!([{"name": "root"}, {"name": "admin"}]));
    assert_eq!(m["tags"], json!({"role": "webserver"}));
    assert_eq!(
        m["files"],
        json!([{"sha1": sha1, "size": fs::metadata(&gz).unwrap().len(), "compression": "gzip"}])
    );
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    let d = dir.path().to_string_lossy();
    assert!(!mounts.contains(d.as_ref()), "mounts left:\n{mounts}");
}

/// `imgapi_manifest` values IMGAPI would refuse are refused before anything
/// is created, naming the key: a quote and a space in the version.
#[test]
fn an_imgapi_manifest_imgapi_would_refuse_is_a_config_error() {
    use imagebake_core::builders::local_chroot::{LocalChrootBuilder, LocalChrootConfig};

    let block = |m: Value| {
        json!({"type": "local-chroot", "from_scratch": true, "image_size": "64M",
               "output_path": "/nonexistent/out.raw", "imgapi_manifest": m})
    };
    let err = |m: Value| {
        let c = LocalChrootConfig::from_json(&block(m)).expect("decodes");
        match LocalChrootBuilder::new(c) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        }
    };
    let e = err(json!({"name": "web", "version": "1.0 \"beta\""}));
    assert_eq!(e.config_key(), Some("imgapi_manifest"), "{e}");
    assert!(e.to_string().contains("`version`"), "{e}");
    let e = err(json!(true));
    assert!(e.to_string().contains("image-spec"), "{e}");
    let c = LocalChrootConfig::from_json(&block(json!({"name": "web", "version": "1.0-rc1",
        "description": "a \"quoted\" one"})))
    .unwrap();
    LocalChrootBuilder::new(c).expect("a `-` in an IMGAPI version and quotes in text are fine");
}

/// The same spec folder on the `osc-chroot` builder: the Outscale
/// simulator's seed disk is a Linux guest (busybox, bash, the `apt-get`
/// stand-in); the OMI takes the spec's name and description, and its
/// snapshot's filesystem (read with `debugfs`) holds the packages, the
/// `copy/` files with their modes, motd, `/etc/product` and customize's mark.
#[needs_root("loop devices, mount, chroot")]
#[tokio::test]
async fn the_spec_bakes_on_osc_chroot_with_apt_get() {
    use imagebake_core::builders::osc_chroot::OscChrootArtifact;
    use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};

    let sim = OscSim::start(OscSimOptions {
        delays: OscDelays::uniform(ms(5)),
        ..OscSimOptions::default()
    })
    .await
    .expect("simulator starts");
    let dir = tempfile::tempdir().unwrap();
    let spec = mibe_spec(
        "debian-12",
        "nginx\ncurl\n",
        "#!/bin/bash\nset -o errexit\necho \"customized by $(id -u)\" > /etc/customized\n",
    );
    let block = support::osc_chroot_block(&sim, dir.path());
    let artifact = bake_on(block, spec.path())
        .await
        .expect("the spec bakes on osc-chroot");
    let a = artifact
        .downcast_ref::<OscChrootArtifact>()
        .expect("osc-chroot");
    assert_eq!(a.omi_name, "web-1.2.3");
    assert_eq!(
        a.image.description.as_deref(),
        Some("A web server, $5 a month")
    );
    assert!(a.cleanup.is_clean(), "{}", a.cleanup);
    assert_eq!(a.snapshot_ids.len(), 1);
    let disk = sim
        .data_dir()
        .join("snapshots")
        .join(format!("{}.img", a.snapshot_ids[0]));
    let debugfs = |req: String| {
        let o = std::process::Command::new("debugfs")
            .args(["-R", &req])
            .arg(&disk)
            .output()
            .expect("debugfs runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let cat = |p: &str| debugfs(format!("cat {p}"));
    assert_eq!(cat("/etc/customized"), "customized by 0\n");
    assert_eq!(
        cat("/var/lib/imagebake-sim/packages/nginx-1.25.4/+COMMENT"),
        "Lightweight HTTP server and mail proxy server\n"
    );
    assert_eq!(
        cat("/var/lib/imagebake-sim/packages/curl-8.6.0/+COMMENT"),
        "Command line tool for transferring data with URL syntax\n"
    );
    assert_eq!(cat("/opt/app/run.sh"), "#!/bin/sh\necho run\n");
    assert_eq!(cat("/etc/app.conf"), "port=80\n");
    for (path, mode) in [("/opt/app/run.sh", "0750"), ("/etc/app.conf", "0640")] {
        let stat = debugfs(format!("stat {path}"));
        assert!(stat.contains(&format!("Mode:  {mode}")), "{path}: {stat}");
        assert!(
            stat.contains("User:     0   Group:     0"),
            "{path}: {stat}"
        );
    }
    assert_eq!(
        cat("/etc/motd"),
        "   Web \"Edge\" web 1.2.3\n   https://example.com/web\n"
    );
    assert!(
        cat("/etc/product").contains("Image: web 1.2.3\nBase Image: debian-12\n"),
        "{}",
        cat("/etc/product")
    );
    let tmp = debugfs("ls -l /tmp".to_owned());
    assert!(!tmp.contains("imagebake-spec."), "staging left: {tmp}");

    let inv = sim.inventory().await;
    let keep: Vec<&String> = std::iter::once(&a.omi_id).chain(&a.snapshot_ids).collect();
    let left: Vec<&String> = inv
        .volumes
        .iter()
        .chain(&inv.snapshots)
        .chain(&inv.images)
        .filter(|id| !keep.contains(id))
        .chain(&inv.loop_devices)
        .collect();
    assert!(left.is_empty(), "left in the simulator: {left:?}");
    assert!(inv.links.is_empty(), "{:?}", inv.links);
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    let d = dir.path().to_string_lossy();
    assert!(!mounts.contains(d.as_ref()), "mounts left:\n{mounts}");
    sim.shutdown().await;
}
