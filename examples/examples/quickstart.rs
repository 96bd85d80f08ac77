//! Bakes an image offline on each cloud's simulator, started in this
//! process, one after the other: Triton (`triton`), Oxide
//! (`oxide-instance`), then Outscale (`osc-chroot`); see
//! `imagebake_examples::quickstart` for what each shows and checks.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Ctrl-C cancels the running build, waits for its cleanup and skips the
//! rest. Exits non-zero if any bake failed.

use std::process::ExitCode;

use imagebake_core::CancellationToken;
use imagebake_examples::quickstart::{self, CLOUDS, Outcome};

#[tokio::main]
async fn main() -> ExitCode {
    let token = CancellationToken::new();
    let on_ctrl_c = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nCtrl-C: cancelling, then cleaning up (Ctrl-C again is ignored)…");
            on_ctrl_c.cancel();
        }
    });
    let bakes = quickstart::run(&CLOUDS, &token).await;

    println!("\n==================== summary ====================");
    let mut ok = true;
    for b in &bakes {
        let cloud = b.cloud;
        match &b.outcome {
            Outcome::Baked => println!("{cloud:>10}: baked, nothing left behind"),
            Outcome::Failed => {
                ok = false;
                println!("{cloud:>10}: FAILED");
            }
            Outcome::Skipped(why) => {
                ok &= why != "cancelled";
                println!("{cloud:>10}: skipped ({why})");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
