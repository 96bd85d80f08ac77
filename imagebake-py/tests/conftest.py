"""Shared fixtures: the simulators (millisecond delays) and build blocks
pointing at them. Everything runs against the installed `imagebake` wheel."""

from __future__ import annotations

import atexit
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tempfile

import pytest

import imagebake

# Every build the tests run is journaled here, never in ~/.local/state.
os.environ["IMAGEBAKE_STATE_DIR"] = tempfile.mkdtemp(prefix="imagebake-state-")
atexit.register(shutil.rmtree, os.environ["IMAGEBAKE_STATE_DIR"], ignore_errors=True)

#: A seeded Triton image (base-64-lts 23.4.0).
BASE_64_LTS = "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301"

#: Busybox applets the chroot builds' root filesystems get.
APPLETS = ["sh", "echo", "cat", "sleep", "sync", "ls", "rm", "chmod", "mkdir", "env",
           "test", "true", "false", "printf", "id"]

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root (SSH machines, loop devices, chroot)")


@pytest.fixture
def triton_sim() -> Iterator[imagebake.sim.Triton]:
    with imagebake.sim.Triton(delay_ms=5) as sim:
        yield sim


@pytest.fixture
def oxide_sim() -> Iterator[imagebake.sim.Oxide]:
    with imagebake.sim.Oxide(delay_ms=5) as sim:
        yield sim


def triton_block(sim: imagebake.sim.Triton, **extra: Any) -> dict[str, Any]:
    """A `triton` builder block for `sim`: no communicator, fast polls;
    `extra` overrides (None removes a key)."""
    block: dict[str, Any] = {
        "type": "triton",
        **sim.builder_config(),
        "source_machine_package": "g1.small",
        "source_machine_image": BASE_64_LTS,
        "image_name": "py-image",
        "image_version": "1.0.{{timestamp}}",
        "communicator": "none",
        "state_timeout": "30s",
        "image_timeout": "30s",
        "poll_cap": "10ms",
    }
    for k, v in extra.items():
        if v is None:
            block.pop(k, None)
        else:
            block[k] = v
    return block


def oxide_block(sim: imagebake.sim.Oxide, **extra: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "oxide-instance",
        **sim.builder_config(),
        "boot_disk_image_name": "debian-12",
        "boot_disk_size": 2 << 30,
        "memory": 1 << 30,
        "communicator": "none",
        "state_timeout": "30s",
        "poll_cap": "10ms",
    }
    block.update(extra)
    return block


def busybox_tree(root: Path) -> Path:
    """A busybox root filesystem directory (for `rootfs_dir`)."""
    for d in ["bin", "etc", "root", "tmp", "proc", "sys", "dev"]:
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    busybox = Path("/bin/busybox")
    assert busybox.exists(), "/bin/busybox is missing: run scripts/test-deps.sh"
    shutil.copy(busybox, root / "bin" / "busybox")
    for a in APPLETS:
        (root / "bin" / a).symlink_to("busybox")
    return root


class Recorder:
    """An `on_event` callback keeping every event."""

    def __init__(self) -> None:
        self.events: list[imagebake.Event] = []

    def __call__(self, event: imagebake.Event) -> None:
        self.events.append(event)

    def steps(self) -> list[str]:
        return [e.step for e in self.events if e.kind == "step_started" and e.step]

    def lines(self) -> list[str]:
        return [e.line for e in self.events if e.kind == "output_line" and e.line is not None]
