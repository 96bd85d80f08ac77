"""The clouds' read operations against the simulators, as plain dicts; API
errors are ApiError with status, code and request id."""

import pytest

import imagebake
from conftest import BASE_64_LTS


def test_triton_reads(triton_sim: imagebake.sim.Triton) -> None:
    c = imagebake.TritonClient(triton_sim.url, triton_sim.account, triton_sim.private_key_path)
    images = c.list_images(name="base-64-lts")
    assert images and all(i["name"] == "base-64-lts" for i in images)
    one = c.get_image(BASE_64_LTS)
    assert one["id"] == BASE_64_LTS and one["state"] == "active"
    assert c.list_machines() == []
    with pytest.raises(imagebake.ApiError) as e:
        c.get_image("00000000-0000-4000-8000-000000000000")
    assert e.value.status == 404
    assert e.value.code == "ResourceNotFound"


def test_triton_api_error_from_a_fault(triton_sim: imagebake.sim.Triton) -> None:
    c = imagebake.TritonClient(triton_sim.url, triton_sim.account, triton_sim.private_key_path)
    triton_sim.inject_fault("ListMachines", "status", status=403)
    with pytest.raises(imagebake.ApiError) as e:
        c.list_machines()
    assert e.value.status == 403


def test_oxide_reads(oxide_sim: imagebake.sim.Oxide) -> None:
    c = imagebake.OxideClient(oxide_sim.url, oxide_sim.token)
    project = oxide_sim.project
    images = c.list_images(project) + c.list_images()
    assert "debian-12" in {i["name"] for i in images}
    assert c.list_instances(project) == []
    assert isinstance(c.list_disks(project), list)
    assert isinstance(c.list_snapshots(project), list)
    with pytest.raises(imagebake.ApiError) as e:
        c.get_instance("no-such-instance", project)
    assert e.value.status == 404
    assert e.value.request_id


def test_osc_reads() -> None:
    with imagebake.sim.Osc(delay_ms=5) as sim:
        c = imagebake.OscClient(sim.access_key, sim.secret_key, sim.region, endpoint=sim.endpoint)
        images = c.read_images({"ImageIds": [sim.source_image_id]})
        assert [i["image_id"] for i in images] == [sim.source_image_id]
        assert isinstance(c.read_volumes(), list)
        assert isinstance(c.read_snapshots(), list)
        assert isinstance(c.read_vms(), list)
        bad = imagebake.OscClient(sim.access_key, "wrong-secret", sim.region, endpoint=sim.endpoint)
        with pytest.raises(imagebake.ApiError) as e:
            bad.read_images()
        assert e.value.status == 401
