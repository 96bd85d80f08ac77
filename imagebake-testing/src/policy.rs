//! What becomes of a root-only test. Only std: `imagebake-testing-macros`
//! compiles this same file, so the attribute and the runtime guard decide
//! alike.

/// The fate of a root-only test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootTest {
    /// It runs (as root it passes or fails on its own; without root its
    /// guard fails it).
    Run,
    /// The test runner reports it as ignored.
    Ignore,
}

/// Whether a value of the `CI` environment variable marks a CI run: set, not
/// empty, and neither `0` nor `false` (any case).
pub fn ci_from(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false")
    })
}

/// A root-only test runs as root; without root it is ignored, except in CI,
/// where it runs and fails (CI never skips a test silently).
pub fn root_test(euid: Option<u32>, ci: bool) -> RootTest {
    if euid == Some(0) || ci {
        RootTest::Run
    } else {
        RootTest::Ignore
    }
}
