"""`imagebake.origin_publish` and `imagebake.origin_release` against the
Triton simulator's Manta and IMGAPI repository: a set built and exported
by `origin_build` whose origins' chain is not in the repository is refused
before anything is imported (ConfigError naming the origin); a release of
a version the channel does not have, or to an unknown channel, is a
ConfigError naming it. (The successful paths are tested in Rust:
tests/tests/origin_publish.rs and the CLI tests.)"""

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


def test_a_set_whose_origins_are_not_in_the_repository_is_refused(
    triton_sim: imagebake.sim.Triton, tmp_path: Path
) -> None:
    images = work_tree(tmp_path)
    built = imagebake.origin_build(
        images, package_json=tmp_path / "package.json", parallel_builds=1, **keys(triton_sim)
    )
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
