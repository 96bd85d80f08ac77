#!/usr/bin/env bash
# Runs every check and test of the project: the one command CI runs (.ci/run calls it).
# Installs what the tests need first (scripts/test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --workspace --no-fail-fast

echo "== node-manta (mls, mget, mput) against the simulator's Manta"
# The simulator binary cargo test built; node-manta pinned and cached (SKIPPED only when npm
# or its registry cannot be reached).
sim="${CARGO_TARGET_DIR:-$PWD/target}/debug/imagebake-sim"
IMAGEBAKE_SIM=$([ -x "$sim" ] && echo "$sim") bash scripts/sim-real-clients.sh manta

bash scripts/test-python.sh
