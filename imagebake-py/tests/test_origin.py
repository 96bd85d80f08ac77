"""`imagebake.origin_build`: a two-image origin set from a git work tree is
built on the Triton simulator and exported to its Manta (manifests made
portable, sha1 and size matching, markers written, no machine or image
left); an origin mismatch raises the failing build's error naming the
entry and leaves nothing; bad inputs are ConfigError."""

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import imagebake

BASE_64_LTS_22 = "c2c31b00-1d60-11ed-9f3a-4b8e2f0d2201"
BASE_64_LTS_23 = "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301"


def work_tree(tmp_path: Path, second_version: str = "22.4.0") -> Path:
    images = [
        {"namePrefix": "triton-origin-x86_64", "desc": "on 23.4",
         "origin": {"uuid": BASE_64_LTS_23, "name": "base-64-lts", "version": "23.4.0"},
         "pkgsrc": ["curl-8.4.0"], "protoMinMemoryMb": "1024"},
        {"namePrefix": "triton-origin-x86_64", "desc": "on 22.4",
         "origin": {"uuid": BASE_64_LTS_22, "name": "base-64-lts", "version": second_version},
         "pkgsrc": [], "protoMinMemoryMb": "2048"},
    ]
    (tmp_path / "images.json").write_text(json.dumps(images))
    (tmp_path / "package.json").write_text(json.dumps({"version": "1.0.1"}))
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    for args in (["init", "-q", "-b", "master"], ["add", "."], ["commit", "-q", "-m", "set"]):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, env=env)
    return tmp_path / "images.json"


def keys(sim: imagebake.sim.Triton) -> dict[str, Any]:
    return {
        **sim.builder_config(),
        "communicator": "none",
        "poll_cap": "10ms",
        "manta_url": sim.manta_url,
        "manta_user": sim.account,
        "manta_key_path": sim.private_key_path,
    }


def builds(sim: imagebake.sim.Triton) -> list[str]:
    return [p for p in sim.manta_paths() if p.startswith(f"/{sim.account}/public/builds")]


def test_a_two_image_set_is_exported_with_portable_manifests(
    triton_sim: imagebake.sim.Triton, tmp_path: Path
) -> None:
    images = work_tree(tmp_path)
    report = imagebake.origin_build(
        images, package_json=tmp_path / "package.json", parallel_builds=1, **keys(triton_sim)
    )
    d = report["export_dir"]
    assert d.startswith(f"/{triton_sim.account}/public/builds/triton-origin-image/master-")
    assert [i["name"] for i in report["images"]] == [
        "triton-origin-x86_64-23.4.0", "triton-origin-x86_64-22.4.0"]
    for img in report["images"]:
        assert img["version"] == "1.0.1" and not img["kept"]
        manifest = json.loads(triton_sim.manta_read(img["manifest_path"]))
        data = triton_sim.manta_read(img["image_path"])
        assert data is not None and data[:2] == b"\x1f\x8b"
        assert manifest["files"][0]["sha1"] == hashlib.sha1(data).hexdigest()
        assert manifest["files"][0]["size"] == len(data)
        assert manifest["owner"] == "00000000-0000-0000-0000-000000000000"
        assert manifest == img["manifest"]
    assert triton_sim.manta_read(report["latest"]) == f"{d}\n".encode()
    info = json.loads(triton_sim.manta_read(f"{d}/buildinfo.json"))
    assert info["branch"] == "master" and len(info["git"]) == 40
    inv = triton_sim.inventory()
    assert inv["machines"] == [] and inv["custom_images"] == []


def test_an_origin_mismatch_raises_and_leaves_nothing(
    triton_sim: imagebake.sim.Triton, tmp_path: Path
) -> None:
    images = work_tree(tmp_path, second_version="21.4.0")
    with pytest.raises(imagebake.ImagebakeError) as e:
        imagebake.origin_build(images, version="2.0.0", **keys(triton_sim))
    assert 'version is "22.4.0", not "21.4.0"' in str(e.value)
    assert e.value.step == "check origin"
    inv = triton_sim.inventory()
    assert inv["machines"] == [] and inv["custom_images"] == []
    assert builds(triton_sim) == []


def test_bad_inputs_are_config_errors(triton_sim: imagebake.sim.Triton, tmp_path: Path) -> None:
    images = work_tree(tmp_path)
    with pytest.raises(imagebake.ConfigError, match="image_name"):
        imagebake.origin_build(images, image_name="x", **keys(triton_sim))
    (tmp_path / "images.json").write_text("[]")
    with pytest.raises(imagebake.ConfigError, match="no images"):
        imagebake.origin_build(images, **keys(triton_sim))
