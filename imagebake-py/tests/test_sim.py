"""The simulators as context managers: addresses and keys, faults,
inventories as plain dicts, shutdown on exit."""

import urllib.request

import pytest

import imagebake


def test_triton_sim_serves_until_the_block_ends() -> None:
    with imagebake.sim.Triton(delay_ms=5) as sim:
        url = sim.url
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/--ping") as r:
            assert r.status == 200
        cfg = sim.builder_config()
        assert cfg["triton_url"] == url and cfg["triton_account"] == sim.account
        assert cfg["triton_key_id"] == sim.key_id
        assert open(sim.private_key_path).read().startswith("-----BEGIN OPENSSH PRIVATE KEY")
        inv = sim.inventory()
        assert inv["machines"] == [] and inv["custom_images"] == []
        assert any(i["name"] == "base-64-lts" for i in inv["images"])
        assert sim.ssh_port is None
    with pytest.raises(imagebake.ImagebakeError, match="closed"):
        sim.inventory()
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/--ping", timeout=2)


def test_oxide_and_osc_sims_start_and_report() -> None:
    with imagebake.sim.Oxide(delay_ms=5) as sim:
        assert sim.builder_config()["token"] == sim.token
        inv = sim.inventory()
        assert inv["instances"] == [] and {"debian-12"} <= {i["name"] for i in inv["images"]}
    with imagebake.sim.Osc(delay_ms=5) as osc:
        assert osc.builder_config()["custom_endpoint_oapi"] == osc.endpoint
        assert osc.inventory()["volumes"] == []


def test_fault_kinds_are_checked() -> None:
    with imagebake.sim.Triton(delay_ms=5) as sim:
        sim.inject_fault("GetImage", "status", status=503, times=2)
        sim.inject_fault("GetImage", "slow", delay_ms=1)
        sim.clear_faults()
        with pytest.raises(imagebake.ConfigError) as e:
            sim.inject_fault("GetImage", "explode")  # type: ignore[arg-type]
        assert e.value.field == "kind"
        with pytest.raises(imagebake.ConfigError):
            sim.inject_fault("GetImage", "status")


def test_an_unknown_operation_name_is_refused_with_close_names() -> None:
    with imagebake.sim.Triton(delay_ms=5) as sim:
        with pytest.raises(imagebake.ConfigError) as e:
            sim.inject_fault("CreateMachin", "throttle")
        assert e.value.field == "operation"
        assert "close names: CreateMachine" in str(e.value)
    with imagebake.sim.Oxide(delay_ms=5) as oxide:
        oxide.inject_fault("instance_create", "throttle")
        with pytest.raises(imagebake.ConfigError, match="close names: instance_create"):
            oxide.inject_fault("instance_creat", "throttle")
    with imagebake.sim.Osc(delay_ms=5) as osc:
        with pytest.raises(imagebake.ConfigError, match="close names: ReadVolumes"):
            osc.inject_fault("ReadVolume", "throttle")


def test_oxide_api_version_is_settable() -> None:
    with imagebake.sim.Oxide(delay_ms=5) as sim:
        assert sim.api_version == "2026091500.0.0"
    with imagebake.sim.Oxide(delay_ms=5, api_version="2026010300.0.0") as old:
        assert old.api_version == "2026010300.0.0"
    with pytest.raises(imagebake.ConfigError) as e:
        imagebake.sim.Oxide(api_version="latest")
    assert e.value.field == "api_version"


def test_built_without_the_sim_feature_the_simulators_raise_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A wheel built with `--no-default-features` has no simulator classes in
    # the native module; imagebake.sim then says why, and the rest imports.
    import importlib

    import imagebake.sim as sim_module

    for name in ("TritonSim", "OxideSim", "OscSim"):
        monkeypatch.delattr(imagebake._imagebake, name)
    for name in ("Triton", "Oxide", "Osc"):
        monkeypatch.delattr(sim_module, name)
    try:
        without = importlib.reload(sim_module)
        assert without.__all__ == []
        with pytest.raises(ImportError, match="built without its simulators"):
            without.Triton  # noqa: B018
        with pytest.raises(ImportError, match="the `sim` feature"):
            from imagebake.sim import Osc  # noqa: F401
        with pytest.raises(AttributeError):
            without.nothing_of_the_kind  # noqa: B018
    finally:
        monkeypatch.undo()
        importlib.reload(sim_module)
    assert imagebake.sim.Triton is imagebake._imagebake.TritonSim
