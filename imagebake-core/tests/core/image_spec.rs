//! The `image-spec` provisioner for real in a busybox root (with an `apk`
//! stand-in), and its block in Packer JSON and HCL2 templates.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Arc;

use imagebake_core::packer_template::provisioner;
use imagebake_core::provision::ImageSpec;
use imagebake_core::template::{self, Placeholders};
use imagebake_core::{CancellationToken, ChrootCommunicator, Comm, Error, Runner};
use imagebake_testing::needs_root;
use serde_json::json;

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "rm", "chmod", "chown", "mkdir", "mktemp", "cp", "ln", "id", "touch",
    "true", "false", "test", "[", "env",
];

/// `apk add` that knows curl and nginx, as the guest's package manager.
const APK: &str = r#"#!/bin/sh
[ "$1" = add ] || exit 2
shift
for p in "$@"; do
  case "$p" in
    --*) ;;
    curl|nginx) echo "$p" >> /var/apk-installed ;;
    *) echo "ERROR: unable to select packages: $p (no such package)" >&2; exit 1 ;;
  esac
done
"#;

fn write(dir: &Path, rel: &str, text: &str, mode: u32) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

/// A spec folder in the mibe form.
fn spec(customize: &str, packages: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "manifest",
        "# mibe form\nname=\"web-1.2.3\"\nbase=\"base-64-lts-22.4.0\"\norganization=\"Example\"\n\
         brand=\"Web \\\"Edge\\\"\"\nhomepage=\"https://example.com\"\ndescription=\"A web image\"\n",
        0o644,
    );
    write(p, "packages", packages, 0o644);
    write(p, "customize", customize, 0o644);
    write(p, "motd", "%brand% %name% %version% (%homepage%)\n", 0o644);
    write(p, "copy/opt/app/run.sh", "#!/bin/sh\necho run\n", 0o750);
    write(p, "copy/etc/app.conf", "port=80\n", 0o640);
    d
}

fn root() -> (tempfile::TempDir, Comm) {
    let dir = tempfile::tempdir().unwrap();
    imagebake_testing::busybox_tree(dir.path(), APPLETS, &["usr/bin", "var", "dev"]);
    // Every guest has /dev/null (the package manager detection writes to it).
    let null = dir.path().join("dev/null");
    let made = std::process::Command::new("mknod")
        .args(["-m", "666"])
        .arg(&null)
        .args(["c", "1", "3"])
        .status()
        .expect("mknod runs");
    assert!(made.success(), "mknod {}", null.display());
    write(dir.path(), "usr/bin/apk", APK, 0o755);
    // `bash -e customize` with busybox's shell standing in for bash.
    write(dir.path(), "bin/bash", "#!/bin/sh\nexec sh \"$@\"\n", 0o755);
    let comm = Comm::from(Arc::new(ChrootCommunicator::new(dir.path()).unwrap()));
    (dir, comm)
}

async fn apply(step: ImageSpec, comm: Comm) -> Result<(), Error> {
    Runner::new()
        .run("spec", CancellationToken::new(), |cx| async move {
            cx.step(&step, comm).await.map(|_| ())
        })
        .await
        .map(|_| ())
        .map_err(|e| e.cause)
}

fn no_stage_left(root: &Path) {
    let left: Vec<_> = fs::read_dir(root.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "staging left behind: {left:?}");
}

#[needs_root("chroot")]
#[tokio::test]
async fn a_mibe_spec_is_applied_in_a_chroot() {
    let s = spec(
        "touch /etc/customized\necho \"PATH=$PATH\"\n",
        "nginx\n# c\ncurl\n",
    );
    let (dir, comm) = root();
    let r = dir.path();
    apply(ImageSpec::new(s.path()).unwrap(), comm)
        .await
        .expect("spec applied");
    let mode = |p: &str| fs::metadata(r.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("opt/app/run.sh"), 0o750);
    assert_eq!(mode("etc/app.conf"), 0o640);
    assert_eq!(fs::metadata(r.join("opt/app/run.sh")).unwrap().uid(), 0);
    assert_eq!(
        fs::read_to_string(r.join("etc/motd")).unwrap(),
        "Web \"Edge\" web 1.2.3 (https://example.com)\n"
    );
    assert_eq!(
        fs::read_to_string(r.join("etc/product")).unwrap(),
        "Name: Example Web \"Edge\"\nImage: web 1.2.3\nBase Image: base-64-lts 22.4.0\n\
         Documentation: https://example.com\nDescription: A web image\n"
    );
    assert_eq!(
        fs::read_to_string(r.join("var/apk-installed")).unwrap(),
        "nginx\ncurl\n"
    );
    assert!(r.join("etc/customized").is_file());
    no_stage_left(r);
}

#[needs_root("chroot")]
#[tokio::test]
async fn a_failing_customize_shows_status_and_output_and_cleans_up() {
    let s = spec("echo before the failure\nfalse\necho never\n", "curl\n");
    let (dir, comm) = root();
    let e = apply(ImageSpec::new(s.path()).unwrap(), comm)
        .await
        .expect_err("customize fails");
    let Error::CommandFailed {
        command,
        status,
        stderr_tail,
    } = &e
    else {
        panic!("{e}");
    };
    assert!(command.starts_with("customize ("), "{e}");
    assert_eq!(*status, 1);
    assert!(stderr_tail.iter().any(|l| l == "before the failure"), "{e}");
    assert!(!stderr_tail.iter().any(|l| l == "never"), "errexit: {e}");
    no_stage_left(dir.path());
}

#[needs_root("chroot")]
#[tokio::test]
async fn an_unknown_package_fails_naming_it() {
    let s = spec("touch /etc/customized\n", "curl\nbogus-pkg\n");
    let (dir, comm) = root();
    let e = apply(ImageSpec::new(s.path()).unwrap(), comm)
        .await
        .expect_err("unknown package");
    let text = e.to_string();
    assert!(
        text.contains("installing packages curl bogus-pkg with apk"),
        "{text}"
    );
    assert!(text.contains("bogus-pkg (no such package)"), "{text}");
    assert!(!dir.path().join("etc/customized").exists());
    no_stage_left(dir.path());
}

#[test]
fn the_provisioner_block_reads_the_spec_when_decoded() {
    let err = |v: serde_json::Value| match provisioner(&v) {
        Ok(_) => panic!("{v} decoded"),
        Err(e) => e,
    };
    let s = spec("true\n", "curl\n");
    let path = s.path().to_str().unwrap();
    provisioner(&json!({"type": "image-spec", "path": path})).expect("decodes");
    let e = err(json!({"type": "image-spec"}));
    assert_eq!(e.config_key(), Some("path"), "{e}");
    let e = err(json!({"type": "image-spec", "path": path, "x": 1}));
    assert_eq!(e.config_key(), Some("x"), "{e}");
    fs::write(
        s.path().join("manifest"),
        "name=\"a-1\"\nbase=$(curl evil)\n",
    )
    .unwrap();
    let e = err(json!({"type": "image-spec", "path": path}));
    assert!(e.to_string().contains("manifest:2"), "{e}");
}

#[test]
fn hcl2_and_json_templates_plan_an_image_spec_provisioner() {
    let d = tempfile::tempdir().unwrap();
    let hcl = d.path().join("t.pkr.hcl");
    fs::write(
        &hcl,
        "source \"local-chroot\" \"x\" {\n  output_path = \"/tmp/x.raw\"\n}\n\
         build {\n  sources = [\"source.local-chroot.x\"]\n  \
         provisioner \"image-spec\" {\n    path = \"mi-web\"\n  }\n}\n",
    )
    .unwrap();
    let js = d.path().join("t.json");
    fs::write(
        &js,
        r#"{"builders": [{"type": "local-chroot", "output_path": "/tmp/x.raw"}],
            "provisioners": [{"type": "image-spec", "path": "mi-web"}]}"#,
    )
    .unwrap();
    for t in [hcl, js] {
        let opts = template::Options {
            vars: Vec::new(),
            var_files: Vec::new(),
            env: Default::default(),
            cwd: d.path().to_owned(),
            init_time: None,
        };
        let plan = futures::executor::block_on(template::plan(&t, &opts, &Placeholders))
            .unwrap_or_else(|e| panic!("{}: {e}", t.display()));
        let p = &plan.builds[0].provisioners[0];
        assert_eq!(p.kind, "image-spec");
        assert_eq!(p.config["path"], json!("mi-web"));
    }
}
