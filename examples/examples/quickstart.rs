//! Bakes a Triton image offline, against the Triton simulator started in
//! this process, and shows what a build looks like: its steps with their
//! durations, the waits, the provisioner's output, the cleanup, the artifact,
//! and a simulator inventory with nothing left behind.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! When simulated machines can run real SSH here (root, overlayfs, OpenSSH,
//! busybox: see `scripts/test-deps.sh`), the build connects to the machine
//! and runs a shell provisioner whose file is then read back from the
//! captured image; otherwise it bakes with `communicator: none` and says so.
//! Ctrl-C cancels the build and waits for its cleanup. Exits non-zero on
//! failure.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imagebake_core::builders::triton::{TritonBuilder, TritonConfig};
use imagebake_core::provision::Shell;
use imagebake_core::{CancellationToken, ChannelObserver, Event, Runner};
use imagebake_examples::progress::describe;
use imagebake_sim::machine::{SshMode, check_support};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::json;

/// What the provisioner writes, and where.
const MARK_PATH: &str = "/etc/imagebake-quickstart";
const MARK: &str = "baked by the imagebake quickstart";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("quickstart: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<bool> {
    let ssh = match check_support() {
        Ok(()) => true,
        Err(why) => {
            println!("! simulated machines cannot run SSH here ({why});");
            println!("! baking with communicator \"none\" (no provisioner)");
            false
        }
    };
    let delays = TritonDelays {
        provision: Duration::from_millis(1500),
        stop: Duration::from_millis(700),
        start: Duration::from_millis(700),
        delete: Duration::from_millis(500),
        image_create: Duration::from_millis(2500),
    };
    let sim = TritonSim::start(TritonSimOptions {
        delays,
        ssh: if ssh { SshMode::On } else { SshMode::Off },
        ..TritonSimOptions::default()
    })
    .await?;
    println!(
        "Triton simulator at {} (account {})",
        sim.url(),
        sim.account()
    );

    // A Packer builder block, as a template would hold it.
    let mut block = json!({
        "type": "triton",
        "triton_url": sim.url(),
        "triton_account": sim.account(),
        "triton_key_id": sim.key_id(),
        "triton_key_material": sim.private_key_path(),
        "source_machine_package": "g1.small",
        "source_machine_image_filter": {"name": "base-64-lts", "most_recent": true},
        "source_machine_tags": {"purpose": "quickstart"},
        "image_name": "quickstart",
        "image_version": "1.0.{{timestamp}}",
        "image_description": "An image baked by the imagebake quickstart",
        "communicator": "none",
    });
    if let Some(port) = sim.ssh_port().filter(|_| ssh) {
        block["communicator"] = json!("ssh");
        block["ssh_port"] = json!(port);
        block["ssh_timeout"] = json!("1m");
    }
    println!("builder block:\n{}", serde_json::to_string_pretty(&block)?);
    let mut builder = TritonBuilder::new(TritonConfig::from_json(&block)?)?;
    if ssh {
        builder = builder.provisioner(Shell::inline([
            format!("echo '{MARK}' > {MARK_PATH}"),
            "uname -a".to_owned(),
            format!("cat {MARK_PATH}"),
        ]));
    }

    let (observer, mut events) = ChannelObserver::new();
    let runner = Runner::new().observer(Arc::new(observer));
    let printer = tokio::spawn(async move {
        let start = Instant::now();
        while let Some(e) = events.recv().await {
            print_event(start.elapsed(), &e);
        }
    });

    let token = CancellationToken::new();
    let on_ctrl_c = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nCtrl-C: cancelling, then cleaning up (Ctrl-C again is ignored)…");
            on_ctrl_c.cancel();
        }
    });
    let result = builder.run(&runner, token).await;
    drop(runner);
    // The runner and the builder's steps hold no more senders: the printer ends.
    let _ = printer.await;

    let ok = match &result {
        Ok(artifact) => {
            println!("\n{artifact}");
            println!("cleanup: {}", artifact.cleanup);
            if ssh {
                let file = sim.image_file(&artifact.image_id.to_string(), MARK_PATH);
                match file {
                    Some(bytes) => println!(
                        "{MARK_PATH} in the image: {:?}",
                        String::from_utf8_lossy(&bytes).trim_end()
                    ),
                    None => println!("{MARK_PATH} is NOT in the image"),
                }
            }
            true
        }
        Err(e) => {
            println!("\n{e}");
            println!("cleanup: {}", e.cleanup);
            false
        }
    };

    let inv = sim.inventory();
    println!(
        "\nsimulator inventory: {} machine(s), {} custom image(s), {} requests served",
        inv.machines.len(),
        inv.custom_images().len(),
        sim.request_count()
    );
    for i in inv.custom_images() {
        println!("  image {} {}@{} ({})", i.id, i.name, i.version, i.state);
    }
    let clean = inv.machines.is_empty() && inv.custom_images().len() == usize::from(ok);
    println!(
        "{}",
        if clean {
            "nothing left behind"
        } else {
            "LEFTOVERS in the simulator"
        }
    );
    sim.shutdown().await;
    Ok(ok && clean)
}

fn print_event(at: Duration, e: &Event) {
    if let Some(line) = describe(e) {
        println!("[{:>6.2}s] {line}", at.as_secs_f64());
    }
}
