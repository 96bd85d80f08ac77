"""`imagebake.oxide_import`: a local disk image file becomes an Oxide image
in the simulator (its bytes, nothing else left), a taken name is refused
unless `force=True`, and bad keys are ConfigError naming the key."""

from pathlib import Path

import pytest

import imagebake

MIB = 1 << 20


def sparse_raw(path: Path, size: int, extents: dict[int, bytes]) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
        for offset, data in extents.items():
            f.seek(offset)
            f.write(data)
    return path


def keys(sim: imagebake.sim.Oxide, **extra: object) -> dict[str, object]:
    return {
        "host": sim.url,
        "token": sim.token,
        "project": sim.project,
        "image_name": "baked-locally",
        "image_os": "busybox",
        "image_version": "1.36",
        **extra,
    }


def assert_only_images(sim: imagebake.sim.Oxide, before: list[str], *new: str) -> None:
    inv = sim.inventory()
    assert inv["disks"] == [] and inv["snapshots"] == []
    assert [i["name"] for i in inv["images"]] == before + list(new)


def test_a_raw_file_becomes_an_image_with_its_bytes(
    oxide_sim: imagebake.sim.Oxide, tmp_path: Path
) -> None:
    before = [i["name"] for i in oxide_sim.inventory()["images"]]
    data = bytes(range(256)) * 32
    raw = sparse_raw(tmp_path / "out.raw", 3 * MIB, {0: data, 2 * MIB: b"\x07" * 4096})

    art = imagebake.oxide_import(raw, block_size=4096, parallelism=2, **keys(oxide_sim))

    assert (art.cloud, art.builder, art.name, art.version) == (
        "oxide", "oxide-import", "baked-locally", "1.36"
    )
    assert art.details["block_size"] == 4096
    assert art.details["project"] == oxide_sim.project
    assert art.id is not None
    assert oxide_sim.image_bytes(art.id, 0, 3 * MIB) == raw.read_bytes()
    image = imagebake.OxideClient(oxide_sim.url, oxide_sim.token).get_image(art.id)
    assert image["os"] == "busybox" and image["version"] == "1.36"
    assert_only_images(oxide_sim, before, "baked-locally")


def test_a_taken_name_is_refused_unless_forced(
    oxide_sim: imagebake.sim.Oxide, tmp_path: Path
) -> None:
    before = [i["name"] for i in oxide_sim.inventory()["images"]]
    first = sparse_raw(tmp_path / "first.raw", MIB, {0: b"first"})
    second = sparse_raw(tmp_path / "second.raw", 2 * MIB, {MIB: b"second"})
    old = imagebake.oxide_import(str(first), **keys(oxide_sim))

    with pytest.raises(imagebake.ImagebakeError) as e:
        imagebake.oxide_import(second, **keys(oxide_sim))
    assert "baked-locally already exists" in str(e.value)
    assert_only_images(oxide_sim, before, "baked-locally")

    new = imagebake.oxide_import(second, force=True, **keys(oxide_sim))
    assert new.id != old.id
    assert new.id is not None
    assert oxide_sim.image_bytes(new.id, 0, 2 * MIB) == second.read_bytes()
    assert_only_images(oxide_sim, before, "baked-locally")


@pytest.mark.parametrize(
    ("extra", "field", "text"),
    [
        ({"bogus": 1}, "bogus", "unknown key `bogus`"),
        ({"project": None}, "project", "missing required key `project`"),
        ({"block_size": 1000}, "block_size", "1000 is not 512, 2048 or 4096"),
        ({"parallelism": 0}, "parallelism", "0 is not between 1 and 64"),
    ],
)
def test_bad_keys_are_config_errors_naming_the_key(
    oxide_sim: imagebake.sim.Oxide, tmp_path: Path, extra: dict[str, object], field: str, text: str
) -> None:
    raw = sparse_raw(tmp_path / "out.raw", MIB, {})
    with pytest.raises(imagebake.ConfigError) as e:
        imagebake.oxide_import(raw, **keys(oxide_sim, **extra))
    assert e.value.field == field
    assert text in str(e.value)
    assert oxide_sim.token not in str(e.value)
    assert oxide_sim.inventory()["disks"] == []
