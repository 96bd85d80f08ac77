"""Bakes from Python on each simulator, with provisioner output received
through the callback; templates as dicts, JSON text and keyword arguments."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import imagebake
from conftest import (
    APPLETS,
    BASE_64_LTS,
    Recorder,
    busybox_tree,
    needs_root,
    oxide_block,
    triton_block,
)


def test_triton_without_communicator_from_keywords(triton_sim: imagebake.sim.Triton) -> None:
    block = triton_block(triton_sim, image_name="kw-{{uuid}}", image_tags={"role": "web"})
    del block["type"]
    build = imagebake.triton(**block)
    assert build.builder_type == "triton"
    rec = Recorder()
    art = build.run(on_event=rec)
    assert art.cloud == "triton" and art.builder == "triton"
    assert art.name.startswith("kw-") and art.version and art.version.startswith("1.0.")
    assert art.id and art.cleanup.is_clean
    assert rec.steps()[:3] == ["source image", "check image name", "create machine"]
    assert rec.events[0].kind == "build_started" and rec.events[-1].kind == "build_finished"
    assert rec.events[-1].outcome == "ok"
    inv = triton_sim.inventory()
    assert inv["machines"] == []
    assert [i["id"] for i in inv["custom_images"]] == [art.id]


def test_from_template_dict_and_json_text(triton_sim: imagebake.sim.Triton) -> None:
    template = {"builders": [triton_block(triton_sim, name="one", image_name="t1"),
                             triton_block(triton_sim, name="two", image_name="t2")]}
    a = imagebake.Build.from_template(template, build="one").run()
    b = imagebake.Build.from_template(json.dumps(template), "two").run()
    assert (a.name, b.name) == ("t1", "t2")
    assert len(triton_sim.inventory()["custom_images"]) == 2


@needs_root
def test_triton_over_ssh_streams_provisioner_output() -> None:
    with imagebake.sim.Triton(ssh=True, delay_ms=5) as sim:
        template = {
            "builders": [triton_block(sim, communicator="ssh", ssh_port=sim.ssh_port,
                                      ssh_timeout="30s")],
            "provisioners": [
                imagebake.shell(inline=["echo hello-from-triton", "echo baked > /etc/baked",
                                        "echo to-stderr >&2"]),
                imagebake.file(content="uploaded\n", destination="/etc/uploaded"),
            ],
        }
        rec = Recorder()
        art = imagebake.Build.from_template(template).run(on_event=rec)
        assert "hello-from-triton" in rec.lines()
        stderr = [e.line for e in rec.events if e.kind == "output_line" and e.stream == "stderr"]
        assert "to-stderr" in stderr
        assert art.id and sim.image_file(art.id, "/etc/baked") == b"baked\n"
        assert sim.image_file(art.id, "/etc/uploaded") == b"uploaded\n"
        assert sim.inventory()["machines"] == []


@needs_root
def test_oxide_over_ssh_streams_provisioner_output() -> None:
    with imagebake.sim.Oxide(ssh=True, delay_ms=5) as sim:
        block = oxide_block(sim, communicator="ssh", ssh_username="root",
                            ssh_port=sim.ssh_port, ssh_timeout="30s",
                            artifact_name="py-oxide-{{timestamp}}", artifact_version="1.0")
        del block["type"]
        rec = Recorder()
        art = imagebake.oxide(provisioners=[imagebake.shell(inline=["echo hello-from-oxide"])],
                              **block).run(on_event=rec)
        assert "hello-from-oxide" in rec.lines()
        assert art.cloud == "oxide" and art.id and art.name.startswith("py-oxide-")
        assert art.version == "1.0"
        inv = sim.inventory()
        assert inv["instances"] == [] and inv["disks"] == [] and inv["ssh_keys"] == []
        assert inv["snapshots"] == []


@needs_root
def test_local_chroot_bakes_a_disk_image(tmp_path: Path) -> None:
    tree = busybox_tree(tmp_path / "tree")
    out = tmp_path / "out.raw"
    rec = Recorder()
    art = imagebake.local_chroot(
        mount_path=str(tmp_path / "mnt" / "{{.Device}}"),
        from_scratch=True, image_size="64M", rootfs_dir=tree, output_path=out,
        provisioners=[imagebake.shell(inline=["echo hello-from-chroot", "echo x > /etc/x"])],
    ).run(on_event=rec)
    assert "hello-from-chroot" in rec.lines()
    assert art.cloud == "local" and art.id == str(out) and out.exists()
    assert art.cleanup.is_clean


def osc_block(sim: imagebake.sim.Osc, tmp: Path) -> dict[str, Any]:
    mp = "{{.MountPath}}"
    post = (f"mkdir -p {mp}/bin {mp}/tmp {mp}/proc {mp}/sys {mp}/dev && "
            f"cp /bin/busybox {mp}/bin/busybox && "
            f"for a in {' '.join(APPLETS)}; do ln -sf busybox {mp}/bin/$a; done")
    block: dict[str, Any] = {
        "type": "osc-chroot",
        **sim.builder_config(),
        "device_lock_path": str(tmp / "device.lock"),
        "mount_path": str(tmp / "mnt" / "{{.Device}}"),
        "mount_partition": "0",
        "source_omi_filter": {"filters": {"image-name": "Debian-12-*"}, "owners": ["Outscale"],
                              "most_recent": True},
        "omi_name": "py-baked-{{timestamp}}",
        "post_mount_commands": [post],
        "poll_cap": "20ms",
    }
    if not os.path.exists("/etc/resolv.conf"):
        block["copy_files"] = []
    return block


@needs_root
def test_osc_chroot_bakes_an_omi(tmp_path: Path) -> None:
    with imagebake.sim.Osc(delay_ms=5) as sim:
        rec = Recorder()
        art = imagebake.Build.from_template({
            "builders": [osc_block(sim, tmp_path)],
            "provisioners": [imagebake.shell(inline=["echo hello-from-osc"])],
        }).run(on_event=rec)
        assert "hello-from-osc" in rec.lines()
        assert art.cloud == "outscale" and art.id and art.id.startswith("ami-")
        inv = sim.inventory()
        assert inv["volumes"] == [] and inv["links"] == [] and inv["loop_devices"] == []
        assert inv["images"] == [art.id]


def test_from_template_file_with_vars(triton_sim: imagebake.sim.Triton, tmp_path: Path) -> None:
    """A template file evaluated by the template engine (HCL2, a variable
    set from Python), checked and run by the library's bake runner."""
    creds = "\n".join(f'  {k} = "{v}"' for k, v in triton_sim.builder_config().items())
    hcl = f'''
variable "version" {{
  type    = string
  default = "1.0.0"
}}
source "triton" "web" {{
{creds}
  source_machine_package = "g1.small"
  source_machine_image   = "{BASE_64_LTS}"
  image_name             = "from-file"
  image_version          = var.version
  communicator           = "none"
}}
build {{
  sources = ["source.triton.web"]
}}
'''
    path = tmp_path / "web.pkr.hcl"
    path.write_text(hcl)
    build = imagebake.Build.from_template(path, vars={"version": "2.1.0"})
    assert (build.builder_type, build.name) == ("triton", "triton.web")
    art = build.run()
    assert (art.name, art.version) == ("from-file", "2.1.0")
    inv = triton_sim.inventory()
    assert inv["machines"] == []
    assert [i["id"] for i in inv["custom_images"]] == [art.id]

    # A str path works too; an unknown key is a ConfigError naming it, and
    # nothing is created.
    path.write_text(hcl.replace('communicator           = "none"',
                                'communicator           = "none"\n  bogus_key = 1'))
    try:
        imagebake.Build.from_template(str(path))
    except imagebake.ConfigError as e:
        assert "bogus_key" in str(e) and "web.pkr.hcl" in str(e)
    else:
        raise AssertionError("an unknown key is refused")
    assert len(triton_sim.inventory()["custom_images"]) == 1
