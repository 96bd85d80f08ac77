"""`imagebake.origin_publish` and `imagebake.origin_release` against the
Triton simulator's Manta and IMGAPI repository: a set built and exported
by `origin_build` is published to dev (the repository lists its images
with the files' sha1 and size), released to staging, and a re-run
publishes nothing twice; a set whose origins' chain is not in the
repository is refused before anything is imported (ConfigError naming the
origin); a release of a version the channel does not have, or to an
unknown channel, is a ConfigError naming it."""

import base64
import email.utils
import hashlib
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import imagebake
from test_origin import BASE_64_LTS_22, BASE_64_LTS_23, keys, work_tree


def repo(sim: imagebake.sim.Triton) -> dict[str, Any]:
    return {
        "imgapi_url": sim.imgapi_url,
        "imgapi_user": sim.imgapi_user,
        "imgapi_key_path": sim.imgapi_key_path,
    }


def manta(sim: imagebake.sim.Triton) -> dict[str, Any]:
    return {
        "manta_url": sim.manta_url,
        "manta_user": sim.account,
        "manta_key_path": sim.private_key_path,
    }


def build_set(sim: imagebake.sim.Triton, tmp_path: Path) -> dict[str, Any]:
    """test_origin's two-image set, built on `sim` and exported to its Manta."""
    return imagebake.origin_build(work_tree(tmp_path), package_json=tmp_path / "package.json",
                                  parallel_builds=1, **keys(sim))


def test_a_set_whose_origins_are_not_in_the_repository_is_refused(
    triton_sim: imagebake.sim.Triton, tmp_path: Path
) -> None:
    built = build_set(triton_sim, tmp_path)
    with pytest.raises(imagebake.ConfigError, match=f"origin: image ({BASE_64_LTS_22}|{BASE_64_LTS_23}) is not in .*origin chain"):
        imagebake.origin_publish(built["latest"], **manta(triton_sim), **repo(triton_sim))
    assert triton_sim.imgapi_images() == []
    with pytest.raises(imagebake.ConfigError, match="no \\*.imgmanifest"):
        imagebake.origin_publish(
            f"/{triton_sim.account}/public", **manta(triton_sim), **repo(triton_sim)
        )


def test_release_errors_name_the_version_and_the_channel(
    triton_sim: imagebake.sim.Triton,
) -> None:
    with pytest.raises(imagebake.ConfigError, match="version 9.9.9.*channel dev"):
        imagebake.origin_release("9.9.9", **repo(triton_sim))
    with pytest.raises(imagebake.ConfigError, match="nightly"):
        imagebake.origin_release("1.0.0", to=["nightly"], **repo(triton_sim))
    assert triton_sim.imgapi_images("staging") == []


class Repo:
    """Requests to the simulator's IMGAPI repository signed as updates-imgadm
    signs them (keyId = the user, `date` only, rsa-sha256), with openssl
    and the repository's RSA key: the test's own way in, independent of
    imagebake."""

    def __init__(self, sim: imagebake.sim.Triton, tmp_path: Path) -> None:
        self.url = sim.imgapi_url
        self.user = sim.imgapi_user
        # The key is in OpenSSH's format; openssl signs with a PEM copy.
        self.pem = tmp_path / "imgapi_rsa"
        shutil.copyfile(sim.imgapi_key_path, self.pem)
        self.pem.chmod(0o600)
        subprocess.run(["ssh-keygen", "-q", "-p", "-m", "PEM", "-P", "", "-N", "", "-f",
                        str(self.pem)], check=True, capture_output=True)

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json", signed: bool = True) -> Any:
        headers = {"Accept": "application/json", "Accept-Version": "~2"}
        if signed:
            date = email.utils.formatdate(usegmt=True)
            sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.pem)],
                                 input=f"date: {date}".encode(), check=True,
                                 capture_output=True).stdout
            headers["Date"] = date
            headers["Authorization"] = (f'Signature keyId="{self.user}",algorithm="rsa-sha256",'
                                        f'signature="{base64.b64encode(sig).decode()}"')
        if body is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
        return json.loads(text) if text else None

    def add_origin(self, uuid: str, version: str, channel: str) -> None:
        """Imports, fills and activates a base image: the origins' chain
        is a prerequisite of the repository (triton-origin-image's
        "Prerequisite Chains")."""
        q = f"channel={channel}"
        manifest = {"v": 2, "uuid": uuid, "name": "base-64-lts", "version": version,
                    "type": "zone-dataset", "os": "smartos"}
        self.request("POST", f"/images/{uuid}?action=import&{q}", json.dumps(manifest).encode())
        self.request("PUT", f"/images/{uuid}/file?compression=gzip&{q}", b"an origin image",
                     content_type="application/octet-stream")
        self.request("POST", f"/images/{uuid}?action=activate&{q}")

    def listed(self, channel: str, version: str) -> dict[str, dict[str, Any]]:
        """ListImages (unauthenticated, as a reader): name -> image."""
        images = self.request("GET", f"/images?channel={channel}&version={version}",
                              signed=False)
        names = [i["name"] for i in images]
        assert len(names) == len(set(names)), f"duplicates in {channel}: {names}"
        return {i["name"]: i for i in images}


def test_a_built_set_is_published_to_dev_released_to_staging_and_never_duplicated(
    triton_sim: imagebake.sim.Triton, tmp_path: Path
) -> None:
    built = build_set(triton_sim, tmp_path)
    repo_ = Repo(triton_sim, tmp_path)
    for uuid, version in ((BASE_64_LTS_23, "23.4.0"), (BASE_64_LTS_22, "22.4.0")):
        repo_.add_origin(uuid, version, "dev")
    files = {}
    for img in built["images"]:
        data = triton_sim.manta_read(img["image_path"])
        assert data is not None
        files[img["name"]] = (hashlib.sha1(data).hexdigest(), len(data))
    assert len(files) == 2

    report = imagebake.origin_publish(built["latest"], **manta(triton_sim), **repo(triton_sim))
    assert report["dir"] == built["export_dir"] and report["channel"] == "dev"
    assert sorted(i["outcome"] for i in report["images"]) == ["published", "published"]
    listed = repo_.listed("dev", "1.0.1")
    assert set(listed) == set(files)
    for name, (sha1, size) in files.items():
        image = listed[name]
        assert image["state"] == "active" and "dev" in image["channels"]
        assert (image["files"][0]["sha1"], image["files"][0]["size"]) == (sha1, size)
        assert image["origin"] in (BASE_64_LTS_22, BASE_64_LTS_23)
    dev = {i["uuid"] for i in triton_sim.imgapi_images("dev")}
    assert len(dev) == 4, "the two origins and the two images"

    released = imagebake.origin_release("1.0.1", to=["staging"], **repo(triton_sim))
    assert sorted((r["name"], r["channel"], r["added"]) for r in released) == sorted(
        (name, "staging", True) for name in files)
    staging = repo_.listed("staging", "1.0.1")
    assert {n: i["uuid"] for n, i in staging.items()} == {n: i["uuid"] for n, i in listed.items()}

    again = imagebake.origin_publish(built["latest"], **manta(triton_sim), **repo(triton_sim))
    assert sorted(i["outcome"] for i in again["images"]) == ["already_there", "already_there"]
    assert {i["uuid"] for i in again["images"]} == {i["uuid"] for i in listed.values()}

    def same(i: dict[str, Any]) -> tuple[Any, ...]:
        return (i["uuid"], i["files"], i["published_at"])

    assert {n: same(i) for n, i in repo_.listed("dev", "1.0.1").items()} == {
        n: same(i) for n, i in listed.items()}
    assert {i["uuid"] for i in triton_sim.imgapi_images("dev")} == dev
    assert len(triton_sim.imgapi_images()) == 4, "nothing imported twice"
