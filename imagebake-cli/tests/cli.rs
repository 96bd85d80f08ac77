//! Runs the real `imagebake` binary on template files (and against the
//! in-process Triton simulator) and checks its output and exit codes.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use imagebake_core::triton_client::{self, Client, types::CreateMachine, types::ListImages};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};

const BIN: &str = env!("CARGO_BIN_EXE_imagebake");

/// A Triton template for `sim`'s account and key; `extra` goes into the
/// source block. Its sensitive variable's value is `s3cr3t-value`.
fn template(sim: &TritonSim, extra: &str) -> String {
    format!(
        r#"variable "account" {{
  type    = string
  default = "{account}"
}}
variable "token" {{
  type      = string
  default   = "s3cr3t-value"
  sensitive = true
}}
locals {{
  version = "1.0.0"
}}
source "triton" "web" {{
  triton_url             = "{url}"
  triton_account         = var.account
  triton_key_id          = "{key_id}"
  triton_key_material    = "{key}"
  source_machine_package = "g1.small"
  source_machine_image_filter {{
    name        = "base-64-lts"
    most_recent = true
  }}
  image_name    = "web"
  image_version = local.version
  communicator  = "none"
{extra}
}}
build {{
  name    = "b"
  sources = ["source.triton.web"]
  provisioner "shell" {{
    inline = ["echo ${{var.token}}"]
  }}
  post-processor "manifest" {{}}
}}
"#,
        account = sim.account(),
        url = sim.url(),
        key_id = sim.key_id(),
        key = sim.private_key_path().display(),
    )
}

async fn sim() -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(Duration::from_millis(5)),
        ..TritonSimOptions::default()
    })
    .await
    .expect("triton simulator starts")
}

/// Runs the binary in `dir` with a clean environment (HOME = `dir`) plus `env`.
fn imagebake(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("imagebake runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test]
async fn validate_accepts_a_good_template_and_locates_errors() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.pkr.hcl"), template(&sim, "")).unwrap();
    let o = imagebake(dir.path(), &["validate", "ok.pkr.hcl"], &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(out.trim(), "The configuration is valid.");

    // An unknown builder key: line 26 (after the 25 lines before `{extra}`), column 3.
    std::fs::write(
        dir.path().join("bad.pkr.hcl"),
        template(&sim, "  no_such_key = 1"),
    )
    .unwrap();
    let o = imagebake(dir.path(), &["validate", "bad.pkr.hcl"], &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("bad.pkr.hcl:26:3:") && err.contains("no_such_key"),
        "{err}"
    );
    assert!(!out.contains("valid"), "{out}");
    // -syntax-only does not ask the builder.
    let o = imagebake(
        dir.path(),
        &["validate", "-syntax-only", "bad.pkr.hcl"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));

    // A variable the template does not declare, in Packer's `-var=` form.
    let o = imagebake(dir.path(), &["validate", "-var=nope=1", "ok.pkr.hcl"], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("nope"), "{err}");
    // A value the builder refuses (a key id that is no fingerprint), located
    // at its key; `-var NAME VALUE` in Packer's two-argument form.
    std::fs::write(
        dir.path().join("key.pkr.hcl"),
        template(&sim, "").replace(sim.key_id(), "aa:bb"),
    )
    .unwrap();
    let o = imagebake(
        dir.path(),
        &["validate", "-var", "account=x", "key.pkr.hcl"],
        &[],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("key.pkr.hcl:16:3:") && err.contains("triton_key_id"),
        "{err}"
    );
    // Nothing was created by validate.
    assert!(sim.inventory().machines.is_empty());
}

#[tokio::test]
async fn inspect_lists_the_template_and_masks_sensitive_values() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.pkr.hcl"), template(&sim, "")).unwrap();
    let o = imagebake(dir.path(), &["inspect", "t.pkr.hcl"], &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        !out.contains("s3cr3t-value") && !err.contains("s3cr3t-value"),
        "{out}"
    );
    for want in [
        "Packer Inspect: HCL2 mode",
        "> input-variables:",
        &format!("var.account: \"{}\"", sim.account()),
        "var.token: \"<sensitive>\"",
        "> local-variables:",
        "local.version: \"1.0.0\"",
        "  > b:",
        "      triton.web",
        "    provisioners:\n\n      shell\n",
        "    post-processors:\n\n      0:\n        manifest\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // A -var value given for a sensitive variable is masked too.
    let o = imagebake(
        dir.path(),
        &["inspect", "-var", "token=other-secret", "t.pkr.hcl"],
        &[],
    );
    let (out, _) = text(&o);
    assert!(
        out.contains("var.token: \"<sensitive>\"") && !out.contains("other-secret"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_dry_run_lists_and_sweep_removes_leftovers() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("TRITON_URL", sim.url()),
        ("TRITON_ACCOUNT", sim.account().to_owned()),
        ("TRITON_KEY_ID", sim.key_id().to_owned()),
        (
            "TRITON_KEY_MATERIAL",
            sim.private_key_path().display().to_string(),
        ),
    ];
    // A leftover of a crashed build (named like a build's machine), and a
    // machine that is not a build's.
    let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    let config = triton_client::Config::from_env_with(&lookup, dir.path()).unwrap();
    let client = Client::new(config).unwrap();
    let image = client.list_images(&ListImages::new()).await.unwrap()[0].id;
    let mine = client
        .create_machine(&CreateMachine::new(image, "g1.small").name("ib-crashed0001-web"))
        .await
        .unwrap();
    client
        .create_machine(&CreateMachine::new(image, "g1.small").name("someone-else"))
        .await
        .unwrap();
    let count = || sim.inventory().machines.len();
    assert_eq!(count(), 2);

    let sweep = |args: &[&str]| imagebake(dir.path(), args, &env);
    let o = tokio::task::block_in_place(|| {
        sweep(&[
            "sweep",
            "--cloud",
            "triton",
            "--older-than",
            "0s",
            "--dry-run",
        ])
    });
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("would remove") && out.contains(&mine.id.to_string()),
        "{out}"
    );
    assert!(!out.contains("someone-else"), "{out}");
    assert_eq!(count(), 2, "a dry run removes nothing");

    let o = tokio::task::block_in_place(|| sweep(&["sweep", "-cloud=triton", "-older-than=0s"]));
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains(&format!("removed machine {}", mine.id)),
        "{out}"
    );
    let left: Vec<String> = sim
        .inventory()
        .machines
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(left, ["someone-else"]);
}

#[test]
fn help_describes_every_verb_and_flag_and_bad_flags_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = text(&imagebake(dir.path(), &["--help"], &[]));
    for verb in ["build", "validate", "inspect", "sweep"] {
        assert!(out.contains(verb), "{out}");
    }
    let (out, _) = text(&imagebake(dir.path(), &["build", "-help"], &[]));
    for flag in [
        "--var",
        "--var-file",
        "--only",
        "--except",
        "--on-error",
        "--parallel-builds",
        "--force",
        "--machine-readable",
        "--timestamp-ui",
    ] {
        assert!(out.contains(flag), "{flag} in {out}");
    }
    let o = imagebake(dir.path(), &["validate", "-no-such-flag", "x"], &[]);
    assert_eq!(o.status.code(), Some(1));
}

/// `template` without its shell provisioner (nothing to connect to with
/// `communicator = "none"`) and without post-processors.
fn plain_template(sim: &TritonSim) -> String {
    template(sim, "")
        .replace(
            "  provisioner \"shell\" {\n    inline = [\"echo ${var.token}\"]\n  }\n",
            "",
        )
        .replace("  post-processor \"manifest\" {}\n", "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_runs_a_triton_template_and_abort_keeps_a_failed_build() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let t = plain_template(&sim);
    assert!(!t.contains("provisioner"), "{t}");
    std::fs::write(dir.path().join("t.pkr.hcl"), &t).unwrap();

    let o = tokio::task::block_in_place(|| {
        imagebake(dir.path(), &["build", "-timestamp-ui", "t.pkr.hcl"], &[])
    });
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("Builds finished") && out.contains("b.triton.web"),
        "{out}"
    );
    // -timestamp-ui: each progress line starts with the local time.
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.starts_with("20") && l.contains("T")),
        "{out}"
    );
    let inv = sim.inventory();
    assert_eq!(inv.custom_images().len(), 1, "{out}");
    assert!(
        inv.machines.is_empty(),
        "the build machine is removed: {out}"
    );

    // A failed build with -on-error=abort keeps its machine and says how to
    // remove it.
    std::fs::write(dir.path().join("t2.pkr.hcl"), t.replace("1.0.0", "2.0.0")).unwrap();
    sim.faults().inject(
        "CreateImageFromMachine",
        imagebake_sim::Fault::FailResource,
        1,
    );
    let o = tokio::task::block_in_place(|| {
        imagebake(dir.path(), &["build", "-on-error=abort", "t2.pkr.hcl"], &[])
    });
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert_eq!(sim.inventory().machines.len(), 1, "kept: {out}");
    // The command it names (the build's journal knows what it kept, the
    // template its credentials) removes what it kept.
    let command = out
        .lines()
        .find_map(|l| l.split_once("remove them with: imagebake ").map(|(_, c)| c))
        .unwrap_or_else(|| panic!("no command in:\n{out}"));
    // A shell line: the template path is quoted (no space in it here).
    let args: Vec<&str> = command
        .split_whitespace()
        .map(|a| a.trim_matches('\''))
        .collect();
    assert_eq!(args[0], "cleanup", "{out}");
    assert!(
        args[1].starts_with("ib-") && args[2] == "--template",
        "{out}"
    );
    let o = tokio::task::block_in_place(|| imagebake(dir.path(), &args, &[]));
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let inv = sim.inventory();
    assert!(inv.machines.is_empty(), "machine left: {out}");
    assert_eq!(
        inv.custom_images().len(),
        1,
        "the first build's image only: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_the_build_cleans_up_and_exits_130() {
    let sim = TritonSim::start(TritonSimOptions {
        delays: TritonDelays {
            provision: Duration::from_secs(60),
            ..TritonDelays::all(Duration::from_millis(5))
        },
        ..TritonSimOptions::default()
    })
    .await
    .expect("triton simulator starts");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.pkr.hcl"), plain_template(&sim)).unwrap();
    let child = Command::new(BIN)
        .args(["build", "t.pkr.hcl"])
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("imagebake starts");
    // Once the build machine exists (provisioning for a minute), interrupt.
    while sim.inventory().machines.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let o = tokio::task::block_in_place(|| child.wait_with_output()).unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(130), "{out}\n{err}");
    assert!(
        err.contains("Cancelling build after receiving interrupt"),
        "{err}"
    );
    assert!(
        sim.inventory().machines.is_empty(),
        "cleaned up first: {out}"
    );
    assert!(sim.inventory().custom_images().is_empty(), "{out}");
}

/// `-machine-readable`: every stdout line is Packer's
/// `TIMESTAMP,TARGET,TYPE,DATA...`, the UI as `ui,say`/`ui,message` lines
/// with commas and newlines escaped, the artifact as Packer's records, and
/// the sensitive value nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_readable_output_is_packer_s_line_format() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let t = plain_template(&sim).replace(
        "image_name    = \"web\"",
        "image_name    = \"web-${var.token}\"",
    );
    std::fs::write(dir.path().join("t.pkr.hcl"), &t).unwrap();
    let o = tokio::task::block_in_place(|| {
        imagebake(
            dir.path(),
            &["build", "-machine-readable", "t.pkr.hcl"],
            &[],
        )
    });
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        !out.contains("s3cr3t-value") && !err.contains("s3cr3t-value"),
        "{out}"
    );

    let mut records = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.splitn(4, ',').collect();
        assert_eq!(f.len(), 4, "not a machine-readable line: {line:?}");
        assert!(
            f[0].parse::<u64>().is_ok_and(|t| t > 1_600_000_000),
            "{line:?}"
        );
        records.push((f[1].to_owned(), f[2].to_owned(), f[3].to_owned()));
    }
    let has = |target: &str, kind: &str, data: &str| {
        records
            .iter()
            .any(|(t, k, d)| t == target && k == kind && d == data)
    };
    let starts = |kind: &str, data: &str| {
        records
            .iter()
            .any(|(t, k, d)| t.is_empty() && k == kind && d.starts_with(data))
    };
    assert!(starts("ui", "say,==> b.triton.web: "), "{out}");
    assert!(
        starts("ui", "say,Build 'b.triton.web' finished after "),
        "{out}"
    );
    assert!(
        starts(
            "ui",
            "say,\\n==> Builds finished. The artifacts of successful builds are:"
        ),
        "{out}"
    );
    let image = sim.inventory().custom_images()[0].id.to_string();
    assert!(has("b.triton.web", "artifact-count", "1"), "{out}");
    assert!(
        has("b.triton.web", "artifact", "0,builder-id,joyent.triton"),
        "{out}"
    );
    assert!(
        has("b.triton.web", "artifact", &format!("0,id,{image}")),
        "{out}"
    );
    assert!(has("b.triton.web", "artifact", "0,files-count,0"), "{out}");
    assert!(has("b.triton.web", "artifact", "0,end"), "{out}");
    // The artifact's text: its comma escaped, the secret masked.
    assert!(
        records.iter().any(|(t, k, d)| t == "b.triton.web"
            && k == "artifact"
            && d.starts_with(&format!("0,string,Image was created: {image} (web-<sensitive>@1.0.0%!(PACKER_COMMA) build ib-"))),
        "{out}"
    );
    assert!(!records.iter().any(|(_, k, _)| k == "error-count"), "{out}");
}

/// `-force` reaches the builder (`packer_force`): a second build of the
/// same name@version is refused without it, and replaces the image with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_replaces_an_existing_image() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.pkr.hcl"), plain_template(&sim)).unwrap();
    let build = |args: &[&str]| {
        let o = tokio::task::block_in_place(|| imagebake(dir.path(), args, &[]));
        let (out, err) = text(&o);
        (o.status.code(), format!("{out}\n{err}"))
    };
    let (code, out) = build(&["build", "t.pkr.hcl"]);
    assert_eq!(code, Some(0), "{out}");
    let first = sim.inventory().custom_images()[0].id.to_string();

    let (code, out) = build(&["build", "t.pkr.hcl"]);
    assert_eq!(code, Some(1), "the name@version exists: {out}");
    assert_eq!(sim.inventory().custom_images().len(), 1, "{out}");

    let (code, out) = build(&["build", "-force", "t.pkr.hcl"]);
    assert_eq!(code, Some(0), "{out}");
    let images: Vec<String> = sim
        .inventory()
        .custom_images()
        .iter()
        .map(|i| i.id.to_string())
        .collect();
    assert_eq!(images.len(), 1, "{out}");
    assert_ne!(images[0], first, "replaced: {out}");
    assert!(sim.inventory().machines.is_empty(), "{out}");
}

/// A legacy JSON template written as the Triton builder's doc writes it
/// (`"most_recent": "true"`, a port as a string): decoded as weakly as
/// Packer's decoder does, it validates and builds.
#[tokio::test(flavor = "multi_thread")]
async fn a_json_template_with_packer_s_weak_types_builds() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let t = serde_json::json!({
        "variables": {"image_version": "1.0.{{timestamp}}"},
        "builders": [{
            "type": "triton",
            "triton_url": sim.url(),
            "triton_account": sim.account(),
            "triton_key_id": sim.key_id(),
            "triton_key_material": sim.private_key_path().display().to_string(),
            "source_machine_package": "g1.small",
            "source_machine_image_filter": {"name": "base-64-lts", "most_recent": "true"},
            "ssh_port": "22",
            "communicator": "none",
            "image_name": "weak",
            "image_version": "{{user `image_version`}}"
        }]
    });
    std::fs::write(dir.path().join("t.json"), t.to_string()).unwrap();
    let o = imagebake(dir.path(), &["validate", "t.json"], &[]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = tokio::task::block_in_place(|| imagebake(dir.path(), &["build", "t.json"], &[]));
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let inv = sim.inventory();
    let images = inv.custom_images();
    assert_eq!(images.len(), 1, "{out}");
    assert!(inv.machines.is_empty(), "{out}");

    // A value that is no bool even weakly is refused, naming the key.
    let bad = t
        .to_string()
        .replace(r#""most_recent":"true""#, r#""most_recent":"maybe""#);
    std::fs::write(dir.path().join("bad.json"), bad).unwrap();
    let o = imagebake(dir.path(), &["validate", "bad.json"], &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(err.contains("most_recent"), "{err}");
}
