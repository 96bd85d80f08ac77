#!/usr/bin/env bash
# Shows that a #[needs_root] test is reported by `cargo test` as ignored when
# it is built and run without root (as `nobody`), and that it fails instead
# when CI is set. Run as root (it bind-mounts the toolchain for `nobody` in a
# private mount namespace and builds a throwaway crate in a temp directory).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root (it switches to nobody)"; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
sysroot=$(rustc --print sysroot)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/toolchain" "$work/probe/tests"
cat >"$work/probe/Cargo.toml" <<TOML
[package]
name = "needs-root-probe"
version = "0.0.0"
edition = "2024"
publish = false

[dev-dependencies]
imagebake-testing = { path = "$repo/imagebake-testing" }
TOML
cat >"$work/probe/tests/probe.rs" <<'RS'
#[imagebake_testing::needs_root("the probe")]
#[test]
fn root_only() {}
RS
chown -R nobody "$work"
as_nobody() {
    unshare -m sh -c "mount --bind '$sysroot' '$work/toolchain' && exec runuser -u nobody -- env \
        HOME='$work' CARGO_HOME='$work/cargo' CARGO_TARGET_DIR='$work/target' \
        PATH='$work/toolchain/bin:/usr/bin:/bin' RUSTC='$work/toolchain/bin/rustc' $*"
}
out=$(cd "$work/probe" && as_nobody env -u CI cargo test --offline 2>&1) || true
echo "$out" | grep -q 'test root_only ... ignored, needs root: the probe' && \
    echo "$out" | grep -q '0 passed; 0 failed; 1 ignored' \
    || { echo "FAIL: not reported as ignored without root:"; echo "$out"; exit 1; }
echo "ok: without root the test is ignored"
out=$(cd "$work/probe" && as_nobody env CI=true cargo test --offline 2>&1) && {
    echo "FAIL: with CI set and no root the test passed:"; echo "$out"; exit 1; }
echo "$out" | grep -q 'CI is set, so it fails' \
    || { echo "FAIL: unexpected output with CI set:"; echo "$out"; exit 1; }
echo "ok: with CI set and no root the test fails"
