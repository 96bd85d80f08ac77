#!/usr/bin/env bash
# The README's main command: installs what the simulated machines need (as root:
# OpenSSH server, busybox-static, ...; nothing when already there), then bakes on the
# Triton, Oxide and Outscale simulators with SSH provisioning and the chroot bake.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/test-deps.sh
else
  echo "quickstart: not root, so the simulated machines are not reachable over SSH and the" >&2
  echo "quickstart: chroot bake is skipped; run as root for the full bake" >&2
fi
exec cargo run --example quickstart "$@"
