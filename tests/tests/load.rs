//! The load test at CI size (issue 15): 8 concurrent builds against each
//! simulator in chaos mode (10% of requests throttled, 10% answered 503,
//! 5% of connections dropped before or after the operation). Every build
//! succeeds or fails with a clean cleanup, no resource is made twice (the
//! simulator counts creations per name or idempotency token), and the
//! simulator holds nothing but the successful builds' images, then nothing
//! once those are deleted. `local-chroot` has no API and is not loaded.
//! The full size is `cargo run --release -p imagebake-examples --example load`.
//!
//! Each test has its own chaos seed; `IMAGEBAKE_LOAD_SEED` replaces it (to
//! replay a failing run, or to run with many distinct seeds).

use imagebake_examples::load::{self, LoadOptions, LoadReport};
use imagebake_testing::needs_root;

/// Builds per simulator.
const BUILDS: usize = 8;

/// The chaos seed: `IMAGEBAKE_LOAD_SEED` when set, else `default`.
fn seed(default: u64) -> u64 {
    match std::env::var("IMAGEBAKE_LOAD_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("IMAGEBAKE_LOAD_SEED={s:?} is not a number")),
        Err(_) => default,
    }
}

fn opts(default_seed: u64) -> LoadOptions {
    load::count_retries();
    let seed = seed(default_seed);
    println!("chaos seed {seed} (IMAGEBAKE_LOAD_SEED replays it)");
    let mut o = LoadOptions::issue(BUILDS, seed);
    // Raised so that each of the few builds meets every kind of fault.
    o.chaos.drop_ratio = 0.10;
    o
}

/// The report's outcomes add up, faults of every kind were injected, and
/// the report is clean.
fn assert_clean(r: &LoadReport, created_kinds: &[&str]) {
    println!("{r}");
    assert_eq!(r.builds, BUILDS);
    assert_eq!(
        r.succeeded + r.failed_clean.len() + r.failed_unclean.len(),
        BUILDS,
        "{r}"
    );
    assert!(r.failed_unclean.is_empty(), "{:#?}", r.failed_unclean);
    assert!(r.succeeded_unclean.is_empty(), "{:#?}", r.succeeded_unclean);
    assert_eq!(r.stats.made_twice(), [], "{r}");
    assert!(
        r.leftovers.is_empty(),
        "left after the builds: {:?}",
        r.leftovers
    );
    assert!(
        r.left_at_end.is_empty(),
        "left at the end: {:?}",
        r.left_at_end
    );
    for kind in ["429", "503", "drop-before", "drop-after"] {
        assert!(
            r.stats.injected.get(kind).copied().unwrap_or(0) > 0,
            "no {kind}: {r}"
        );
    }
    assert!(r.retries > 0, "no retry counted: {r}");
    assert!(r.succeeded > 0, "no build succeeded: {r}");
    for kind in created_kinds {
        assert!(
            r.stats.created_of(kind) >= r.succeeded as u64,
            "{kind}: {r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triton_builds_under_chaos_succeed_or_fail_cleanly_and_leave_nothing() {
    let r = load::triton(&opts(1)).await.expect("load run");
    assert_clean(&r, &["machine", "image"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxide_builds_under_chaos_succeed_or_fail_cleanly_and_leave_nothing() {
    let r = load::oxide(&opts(2)).await.expect("load run");
    assert_clean(&r, &["instance", "snapshot", "image"]);
}

#[needs_root("loop devices, mount")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn osc_chroot_builds_under_chaos_succeed_or_fail_cleanly_and_leave_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = load::osc(&opts(3), dir.path()).await.expect("load run");
    assert_clean(&r, &["volume", "snapshot", "image"]);
}
