//! What the tests that spawn `imagebake` with a state directory share:
//! the command with a clean environment, a Triton template and its
//! credentials in the environment.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use imagebake_sim::triton::TritonSim;

/// The `imagebake` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_imagebake");

/// The binary in `dir` with a clean environment whose state directory is
/// `dir/state`, plus `env`.
pub fn command(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("XDG_STATE_HOME", dir.join("xdg"))
        .env("IMAGEBAKE_STATE_DIR", dir.join("state"))
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// A `triton` template against `sim` (HCL2), with `comm` lines in the
/// source and `provisioner` blocks in the build.
pub fn triton_template(sim: &TritonSim, comm: &str, provisioner: &str) -> String {
    format!(
        r#"source "triton" "web" {{
  triton_url             = "{url}"
  triton_account         = "{account}"
  triton_key_id          = "{key_id}"
  triton_key_material    = "{key}"
  source_machine_package = "g1.small"
  source_machine_image_filter {{
    name        = "base-64-lts"
    most_recent = true
  }}
  image_name    = "web"
  image_version = "1.0.0"
  poll_cap      = "10ms"
{comm}
}}
build {{
  sources = ["source.triton.web"]
{provisioner}
}}
"#,
        account = sim.account(),
        url = sim.url(),
        key_id = sim.key_id(),
        key = sim.private_key_path().display(),
    )
}

/// The simulator's credentials as `TRITON_*` variables.
pub fn triton_env(sim: &TritonSim) -> Vec<(&'static str, String)> {
    vec![
        ("TRITON_URL", sim.url()),
        ("TRITON_ACCOUNT", sim.account().to_owned()),
        ("TRITON_KEY_ID", sim.key_id().to_owned()),
        (
            "TRITON_KEY_MATERIAL",
            sim.private_key_path().display().to_string(),
        ),
    ]
}
