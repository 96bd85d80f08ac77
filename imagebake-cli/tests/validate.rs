//! `imagebake validate` (`-syntax-only`, `-evaluate-datasources` against the
//! Oxide simulator) and `imagebake inspect`'s layout, by running the binary.

use std::path::Path;
use std::process::Command;

use imagebake_sim::oxide::{OxideSim, OxideSimOptions};

/// Exit code, stdout and stderr of `imagebake ARGS` run in `dir` with only
/// `env` (and PATH, HOME = `dir`) in its environment.
fn imagebake(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_imagebake"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("imagebake runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Parses, but cannot be evaluated: `var.region` has no value and
/// `local.nope` does not exist.
const UNEVALUABLE: &str = r#"variable "region" {
  type = string
}
source "triton" "web" {
  image_name = "web-${local.nope}"
}
build {
  sources = ["source.triton.web"]
}
"#;

#[test]
fn syntax_only_parses_and_evaluates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "t.pkr.hcl", UNEVALUABLE);
    let (code, out, err) = imagebake(d, &["validate", "-syntax-only", "t.pkr.hcl"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out, "Syntax-only check passed. Everything looks okay.\n");
    let (code, out, err) = imagebake(d, &["validate", "t.pkr.hcl"], &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("t.pkr.hcl:1:1:") && err.contains("Unset variable \"region\""),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");

    // Syntax errors, located: native HCL, HCL's JSON syntax, legacy JSON,
    // and a var file.
    write(d, "bad.pkr.hcl", "source \"triton\" \"web\" {\n  a = \n}\n");
    write(
        d,
        "bad.pkr.json",
        "{\n  \"source\": {\n    \"triton\": [1,]\n  }\n}\n",
    );
    write(
        d,
        "bad.json",
        "{\n  \"builders\": [\n    {\"type\": \"triton\",}\n  ]\n}\n",
    );
    write(d, "bad.pkrvars.hcl", "region = \n");
    for (args, at) in [
        (vec!["bad.pkr.hcl"], "bad.pkr.hcl:2:7:"),
        (vec!["bad.pkr.json"], "bad.pkr.json:3:"),
        (vec!["bad.json"], "bad.json:3:"),
        (
            vec!["-var-file=bad.pkrvars.hcl", "t.pkr.hcl"],
            "bad.pkrvars.hcl:",
        ),
        (
            vec!["-var-file=missing.pkrvars.hcl", "t.pkr.hcl"],
            "missing.pkrvars.hcl",
        ),
    ] {
        let mut a = vec!["validate", "-syntax-only"];
        a.extend(args);
        let (code, out, err) = imagebake(d, &a, &[]);
        assert_eq!(code, Some(1), "{a:?}: {out}{err}");
        assert!(
            err.starts_with("Error: ") && err.contains(at),
            "{a:?}: {err}"
        );
        assert!(err.contains("(fix: "), "{a:?}: {err}");
    }
}

/// An Oxide template whose source image comes from the `oxide-image` data
/// source; the data block takes its credentials from `OXIDE_HOST` and
/// `OXIDE_TOKEN`.
fn oxide_template(sim: &OxideSim) -> String {
    format!(
        r#"variable "image" {{
  type    = string
  default = "alpine-3-20"
}}
data "oxide-image" "base" {{
  name    = var.image
  project = "imagebake"
}}
source "oxide-instance" "vm" {{
  host               = "{url}"
  token              = "{token}"
  project            = "imagebake"
  boot_disk_image_id = data.oxide-image.base.image_id
  communicator       = "none"
}}
build {{
  sources = ["source.oxide-instance.vm"]
}}
"#,
        url = sim.url(),
        token = sim.token(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_datasources_reads_the_rack_and_only_then() {
    let sim = OxideSim::start(OxideSimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    write(&d, "t.pkr.hcl", &oxide_template(&sim));
    let (url, token) = (sim.url(), sim.token().to_owned());
    let env = [
        ("OXIDE_HOST", url.as_str()),
        ("OXIDE_TOKEN", token.as_str()),
    ];
    let image_calls = |sim: &OxideSim| {
        sim.requests()
            .iter()
            .filter(|r| r.path.starts_with("/v1/images/"))
            .count()
    };

    // Without the flag: placeholders, no API call, even for a missing image.
    for vars in [&[][..], &["-var", "image=no-such-image"][..]] {
        let mut args = vec!["validate"];
        args.extend(vars);
        args.push("t.pkr.hcl");
        let (code, out, err) = tokio::task::block_in_place(|| imagebake(&d, &args, &env));
        assert_eq!(code, Some(0), "{out}{err}");
        assert_eq!(out, "The configuration is valid.\n");
    }
    assert_eq!(sim.request_count(), 0);

    // With it: one lookup, by name in the project.
    let (code, out, err) = tokio::task::block_in_place(|| {
        imagebake(
            &d,
            &["validate", "-evaluate-datasources", "t.pkr.hcl"],
            &env,
        )
    });
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out, "The configuration is valid.\n");
    assert_eq!(image_calls(&sim), 1);
    let r = sim
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/v1/images/"))
        .unwrap();
    assert_eq!(r.path, "/v1/images/alpine-3-20");
    assert!(r.authorized, "the token from OXIDE_TOKEN was sent");

    // A missing image: exit 1, the data block and the image named.
    let (code, out, err) = tokio::task::block_in_place(|| {
        imagebake(
            &d,
            &[
                "validate",
                "-evaluate-datasources",
                "-var",
                "image=no-such-image",
                "t.pkr.hcl",
            ],
            &env,
        )
    });
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("t.pkr.hcl:5:1:")
            && err.contains("data \"oxide-image\" \"base\"")
            && err.contains("\"no-such-image\""),
        "{err}"
    );
    assert!(!err.contains(token.as_str()), "{err}");
    // Nothing was created.
    let inv = sim.inventory();
    assert!(inv.instances.is_empty() && inv.disks.is_empty());

    // `build` reads the data source too (with placeholders its error would
    // be the builder refusing `<unknown>`): a missing image stops it before
    // anything is created.
    let (code, out, err) = tokio::task::block_in_place(|| {
        imagebake(
            &d,
            &["build", "-var", "image=no-such-image", "t.pkr.hcl"],
            &env,
        )
    });
    assert_eq!(code, Some(1), "{out}{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains("data \"oxide-image\" \"base\"") && all.contains("\"no-such-image\""),
        "{all}"
    );
    let inv = sim.inventory();
    assert!(inv.instances.is_empty() && inv.disks.is_empty());
    sim.shutdown().await;
}

#[test]
fn inspect_prints_packers_hcl2_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "t.pkr.hcl",
        r#"variable "version" {
  type    = string
  default = "1.0"
}
variable "token" {
  type      = string
  default   = "s3cret"
  sensitive = true
}
locals {
  n = 2
}
source "triton" "web" {
  image_name = "web"
}
build {
  description = "Web images."
  sources     = ["source.triton.web"]
  provisioner "shell" {
    inline = ["echo ${var.token}"]
  }
  provisioner "file" {
    name        = "motd"
    content     = "x"
    destination = "/etc/motd"
  }
  post-processor "manifest" {}
  post-processors {
    post-processor "checksum" {
      checksum_types = ["md5"]
    }
    post-processor "shell-local" {
      name   = "notify"
      inline = ["true"]
    }
  }
}
"#,
    );
    let (code, out, err) = imagebake(d, &["inspect", "t.pkr.hcl"], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        r#"Packer Inspect: HCL2 mode

> input-variables:

var.token: "<sensitive>"
var.version: "1.0"

> local-variables:

local.n: "2"

> builds:

  > <unnamed build 0>:

  > Description: Web images.

    sources:

      triton.web

    provisioners:

      shell
      file.motd

    post-processors:

      0:
        manifest

      1:
        checksum
        shell-local.notify

"#
    );
}

#[test]
fn inspect_prints_packers_json_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "t.json",
        r#"{
  "variables": {"region": "eu", "secret": "s3cret"},
  "sensitive-variables": ["secret"],
  "builders": [
    {"type": "triton", "name": "web", "image_name": "w"},
    {"type": "oxide-instance", "project": "p"}
  ],
  "provisioners": [{"type": "shell", "inline": ["echo {{user `secret`}}"]}]
}"#,
    );
    let (code, out, err) = imagebake(d, &["inspect", "t.json"], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out,
        "Packer Inspect: JSON mode
Optional variables and their defaults:

  region = eu
  secret = <sensitive>

Builders:

  oxide-instance
  web            (triton)

Provisioners:

  shell

Note: If your build names contain user variables or template
functions such as 'timestamp', these are processed at build time,
and therefore only show in their raw form here.
"
    );
}
