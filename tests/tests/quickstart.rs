//! The quickstart (`cargo run --example quickstart`, the README's main
//! command) run as a test: each bake makes its image and leaves nothing
//! else in its simulator (the inventories are read by the quickstart and
//! returned). The `osc-chroot` bake needs root (loop devices, mount,
//! chroot) and `/bin/busybox`: without root it is reported as ignored.

use imagebake_core::CancellationToken;
use imagebake_examples::quickstart::{self, Bake, MARK, Outcome};
use imagebake_testing::needs_root;

fn assert_baked(b: &Bake) {
    assert_eq!(b.outcome, Outcome::Baked, "{b:?}");
    assert_eq!(b.images, 1, "one image made: {b:?}");
    assert!(b.leftovers.is_empty(), "nothing left: {b:?}");
    if b.ssh && b.cloud != "osc-chroot" {
        // The provisioner ran over SSH and its file is in the image.
        assert_eq!(b.mark.as_deref(), Some(MARK), "{b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_bakes_on_triton_and_oxide_and_leaves_nothing() {
    let bakes = quickstart::run(&["triton", "oxide"], &CancellationToken::new()).await;
    let clouds: Vec<&str> = bakes.iter().map(|b| b.cloud).collect();
    assert_eq!(clouds, ["triton", "oxide"]);
    bakes.iter().for_each(assert_baked);
}

#[needs_root("loop devices, mount, chroot")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_bakes_on_outscale_with_osc_chroot_and_leaves_nothing() {
    assert!(
        std::path::Path::new("/bin/busybox").exists(),
        "/bin/busybox is needed (scripts/test-deps.sh installs it)"
    );
    let bakes = quickstart::run(&["osc-chroot"], &CancellationToken::new()).await;
    assert_eq!(bakes.len(), 1);
    assert_baked(&bakes[0]);
}

#[tokio::test]
async fn a_cancelled_quickstart_starts_no_bake() {
    let token = CancellationToken::new();
    token.cancel();
    let bakes = quickstart::run(&quickstart::CLOUDS, &token).await;
    assert!(
        bakes
            .iter()
            .all(|b| b.outcome == Outcome::Skipped("cancelled".into()) && b.images == 0),
        "{bakes:?}"
    );
}
