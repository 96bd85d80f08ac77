#!/usr/bin/env python3
"""Bakes an image on the Triton simulator from Python, printing the build's
events (provisioner output included) and the artifact.

    bash scripts/test-python.sh   # once: builds and installs the wheel into target/py-venv
    target/py-venv/bin/python examples/python/bake.py

As root, the simulated machine is reachable over real SSH and the shell
provisioner runs on it; otherwise the build runs without a communicator.
"""

from __future__ import annotations

import os

import imagebake


def show(event: imagebake.Event) -> None:
    if event.kind == "output_line":
        print(f"    | {event.line}")
    elif event.kind in ("step_started", "undo_started"):
        what = event.step or event.data.get("resource", {}).get("id", "")
        print(f"  {event.kind.replace('_', ' ')}: {what}")
    elif event.kind == "build_finished":
        print(f"  build finished: {event.outcome} in {event.data['duration_ms']} ms")


def main() -> None:
    ssh = os.geteuid() == 0
    with imagebake.sim.Triton(ssh=ssh, delay_ms=20) as sim:
        print(f"Triton simulator at {sim.url} (SSH {'on' if ssh else 'off'})")
        template = {
            "builders": [{
                "type": "triton",
                **sim.builder_config(),
                "source_machine_package": "g1.small",
                "source_machine_image_filter": {"name": "base-64-lts", "most_recent": True},
                "image_name": "example-{{timestamp}}",
                "image_version": "1.0.0",
                "poll_cap": "50ms",
                **({"ssh_port": sim.ssh_port, "ssh_timeout": "30s"} if ssh
                   else {"communicator": "none"}),
            }],
            "provisioners": [imagebake.shell(inline=[
                "echo hello from imagebake",
                "echo baked-by-python > /etc/baked",
            ])] if ssh else [],
        }
        artifact = imagebake.Build.from_template(template).run(on_event=show)
        if not ssh:
            print("  (not root: the simulated machine has no SSH, so no provisioner ran)")
        print(f"artifact: {artifact.description}")
        print(f"  id={artifact.id} name={artifact.name} version={artifact.version}")
        print(f"  cleanup: {'clean' if artifact.cleanup.is_clean else artifact.cleanup.left}")
        print(f"  machines left in the simulator: {len(sim.inventory()['machines'])}")


if __name__ == "__main__":
    main()
