"""`imagebake.builds()` and `imagebake.cleanup()`: a build in a child
process killed with SIGKILL (no cleanup runs), then its journal listed and
replayed against the Triton simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import imagebake
from conftest import triton_block

CHILD = """
import json, sys
import imagebake
imagebake.triton(**json.loads(sys.argv[1])).run()
"""


def test_a_killed_build_is_crashed_and_cleanup_removes_its_machine(
    triton_sim: imagebake.sim.Triton, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("IMAGEBAKE_STATE_DIR", str(state))
    assert imagebake.builds() == []
    # The machine's first look hangs: the child is killed while it waits.
    triton_sim.inject_fault("GetMachine", "slow", delay_ms=30_000, times=100)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(triton_block(triton_sim))],
        env={**os.environ, "IMAGEBAKE_STATE_DIR": str(state)},
    )
    try:
        deadline = time.monotonic() + 30
        while not triton_sim.inventory()["machines"]:
            assert time.monotonic() < deadline, "the machine never came"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    triton_sim.clear_faults()

    [build] = imagebake.builds()
    assert build["state"] == "crashed"
    assert build["pending"] == 1
    assert build["builders"] == ["triton"]

    config = triton_sim.builder_config()
    monkeypatch.setenv("TRITON_URL", config["triton_url"])
    monkeypatch.setenv("TRITON_ACCOUNT", config["triton_account"])
    monkeypatch.setenv("TRITON_KEY_ID", config["triton_key_id"])
    monkeypatch.setenv("TRITON_KEY_MATERIAL", triton_sim.private_key_path)

    [dry] = imagebake.cleanup(crashed=True, dry_run=True)
    assert [e["outcome"] for e in dry["entries"]] == ["would_remove"]
    assert len(triton_sim.inventory()["machines"]) == 1

    [done] = imagebake.cleanup(build_ids=[build["build_id"]])
    assert done["clean"], done
    assert [(e["kind"], e["outcome"]) for e in done["entries"]] == [("machine", "removed")]
    assert triton_sim.inventory()["machines"] == []
    [after] = imagebake.builds()
    assert after["state"] == "cleaned"
    assert imagebake.cleanup(crashed=True) == []


def test_cleanup_needs_builds_or_crashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGEBAKE_STATE_DIR", str(tmp_path))
    with pytest.raises(imagebake.ConfigError, match="--crashed"):
        imagebake.cleanup()
    with pytest.raises(imagebake.ConfigError, match="no journal of build ib-0123456789"):
        imagebake.cleanup(build_ids=["ib-0123456789"])
