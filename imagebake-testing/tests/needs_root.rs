//! `#[needs_root]` as `cargo test` sees it. Run as root, the marked tests run
//! (and pass); built and run as another user, they are reported as ignored
//! (check: `scripts/check-needs-root.sh`).

use imagebake_testing::{RootTest, ci_from, is_root, needs_root, root_test};

#[needs_root("the test of the attribute")]
#[test]
fn a_marked_test_runs_only_as_root() {
    // Reached only as root: without root it is ignored, or its guard fails it.
    assert!(is_root());
}

#[needs_root]
#[tokio::test]
async fn a_marked_async_test_runs_only_as_root() {
    assert!(is_root());
}

#[test]
fn without_root_a_root_test_is_ignored_except_in_ci() {
    assert_eq!(root_test(Some(0), false), RootTest::Run);
    assert_eq!(root_test(Some(0), true), RootTest::Run);
    assert_eq!(root_test(Some(1000), false), RootTest::Ignore);
    assert_eq!(root_test(None, false), RootTest::Ignore);
    // In CI it runs, and its guard fails it.
    assert_eq!(root_test(Some(1000), true), RootTest::Run);
}

#[test]
fn ci_is_any_value_but_empty_0_or_false() {
    for on in ["true", "1", "yes", "github"] {
        assert!(ci_from(Some(on)), "{on}");
    }
    for off in ["", " ", "0", "false", "FALSE"] {
        assert!(!ci_from(Some(off)), "{off:?}");
    }
    assert!(!ci_from(None));
}

#[test]
fn the_guard_refuses_every_user_but_root() {
    use imagebake_testing::refusal;
    assert_eq!(refusal(Some(0), false, "t", "loop devices"), None);
    assert_eq!(refusal(Some(0), true, "t", "loop devices"), None);
    let local = refusal(Some(1000), false, "t", "loop devices").expect("refused");
    assert!(
        local.contains("t needs root (loop devices) but runs as uid 1000"),
        "{local}"
    );
    let ci = refusal(None, true, "t", "loop devices").expect("refused");
    assert!(ci.contains("uid unknown; CI is set"), "{ci}");
}
