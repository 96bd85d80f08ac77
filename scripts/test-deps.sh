#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine (Debian, root). Idempotent and quiet.
set -euo pipefail

need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-agent >/dev/null 2>&1 || need+=(openssh-client)
# The simulators' machines serve SFTP with OpenSSH's sftp-server (only recommended by openssh-server).
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v sfdisk >/dev/null 2>&1 || need+=(fdisk)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || need+=(mount)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
command -v partx >/dev/null 2>&1 || need+=(util-linux)
# The Outscale plugin's own from-scratch example partitions with parted.
command -v parted >/dev/null 2>&1 || need+=(parted)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-deps: missing ${need[*]} and not root; install them first" >&2
    exit 1
  fi
  echo "test-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may hold the lock for a while (unattended upgrades, a parallel job): wait for it.
  for try in $(seq 1 60); do
    if apt-get -o DPkg::Lock::Timeout=60 update -qq >/dev/null 2>&1 &&
       apt-get -o DPkg::Lock::Timeout=60 install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
      exit 0
    fi
    echo "test-deps: apt busy or failed (try $try), retrying" >&2
    sleep 5
  done
  echo "test-deps: could not install ${need[*]}" >&2
  exit 1
fi
