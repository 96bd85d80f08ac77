"""Each exception class raised by a real failure."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import imagebake
from conftest import Recorder, busybox_tree, needs_root, triton_block


def test_bad_config_names_the_field(triton_sim: imagebake.sim.Triton) -> None:
    cases = [
        (triton_block(triton_sim, ssh_pty=True), "ssh_pty"),
        (triton_block(triton_sim, image_version=None), "image_version"),
        (triton_block(triton_sim, ssh_port="twenty-two"), "ssh_port"),
        (triton_block(triton_sim, poll_cap="soon"), "poll_cap"),
    ]
    for block, field in cases:
        with pytest.raises(imagebake.ConfigError) as e:
            imagebake.Build.from_template({"builders": [block]})
        assert e.value.field == field, str(e.value)
        assert field in str(e.value)

    with pytest.raises(imagebake.ConfigError) as e:
        imagebake.Build.from_template({"builders": [triton_block(triton_sim)],
                                       "provisioners": [{"type": "shell", "inlin": ["x"]}]})
    assert e.value.field == "inlin"
    with pytest.raises(imagebake.ConfigError) as e:
        imagebake.triton(image_name=object())
    assert e.value.field == "image_name"
    with pytest.raises(imagebake.ConfigError) as e:
        imagebake.Build.from_template("{not json")
    with pytest.raises(imagebake.ConfigError) as e:
        imagebake.Build.from_template({"builders": [triton_block(triton_sim)]}).run(
            on_error="sometimes")  # type: ignore[arg-type]
    assert e.value.field == "on_error"


def test_api_error_from_an_injected_fault(triton_sim: imagebake.sim.Triton) -> None:
    triton_sim.inject_fault("CreateMachine", "status", status=403)
    with pytest.raises(imagebake.ApiError) as e:
        imagebake.Build.from_template({"builders": [triton_block(triton_sim)]}).run()
    err = e.value
    assert err.status == 403 and err.code
    assert err.step == "create machine"
    assert err.cleanup.is_clean
    assert triton_sim.inventory()["machines"] == []


def test_cleanup_incomplete_lists_what_was_left(triton_sim: imagebake.sim.Triton) -> None:
    # The machine can never be deleted: the build fails in its delete step,
    # and so does the undo.
    triton_sim.inject_fault("DeleteMachine", "status", status=403, times=50)
    with pytest.raises(imagebake.CleanupIncomplete) as e:
        imagebake.Build.from_template({"builders": [triton_block(triton_sim)]}).run()
    err = e.value
    assert [(x.kind, x.outcome) for x in err.left] == [("machine", "failed")]
    assert err.left[0].id == triton_sim.inventory()["machines"][0]["id"]
    assert isinstance(err.__cause__, imagebake.ApiError) and err.__cause__.status == 403
    assert err.artifact is None


def test_ssh_error_from_an_unusable_key(triton_sim: imagebake.sim.Triton, tmp_path: Path) -> None:
    key = tmp_path / "not-a-key"
    key.write_text("this is not a private key\n")
    block = triton_block(triton_sim, communicator="ssh", ssh_private_key_file=str(key),
                         ssh_timeout="5s")
    with pytest.raises(imagebake.SshError) as e:
        imagebake.Build.from_template({"builders": [block],
                                       "provisioners": [imagebake.shell(inline=["true"])]}).run()
    assert e.value.step == "connect ssh"
    assert triton_sim.inventory()["machines"] == []


def test_cancel_raises_build_cancelled_and_cleans_up() -> None:
    with imagebake.sim.Triton(delay_ms=300) as sim:
        build = imagebake.Build.from_template({"builders": [triton_block(sim)]})
        running: list[imagebake.RunningBuild] = []

        def on_event(e: imagebake.Event) -> None:
            if e.kind == "step_started" and e.step == "wait running":
                running[0].cancel()

        running.append(build.start(on_event=on_event))
        with pytest.raises(imagebake.BuildCancelled) as e:
            running[0].wait()
        assert running[0].done
        assert e.value.step == "wait running"
        assert [x.kind for x in e.value.cleanup.removed] == ["machine"]
        assert sim.inventory()["machines"] == []
        # The result is kept: waiting again raises the same.
        with pytest.raises(imagebake.BuildCancelled):
            running[0].wait()


def test_an_exception_in_the_callback_cancels_the_build(triton_sim: imagebake.sim.Triton) -> None:
    class Boom(Exception):
        pass

    def on_event(e: imagebake.Event) -> None:
        if e.kind == "step_started" and e.step == "wait running":
            raise Boom("from the callback")

    with pytest.raises(Boom) as e:
        imagebake.Build.from_template({"builders": [triton_block(triton_sim)]}).run(
            on_event=on_event)
    assert isinstance(e.value.__cause__, imagebake.BuildCancelled)
    assert triton_sim.inventory()["machines"] == []


@needs_root
def test_failing_command_raises_provisioner_error(tmp_path: Path) -> None:
    tree = busybox_tree(tmp_path / "tree")
    rec = Recorder()
    build = imagebake.local_chroot(
        mount_path=str(tmp_path / "mnt" / "{{.Device}}"),
        from_scratch=True, image_size="64M", rootfs_dir=tree,
        output_path=tmp_path / "out.raw",
        provisioners=[imagebake.shell(inline=["echo about-to-fail", "echo oops >&2", "exit 7"])],
    )
    with pytest.raises(imagebake.ProvisionerError) as e:
        build.run(on_event=rec)
    err = e.value
    assert err.exit_status == 7
    assert err.stderr_tail == ["oops"]
    assert err.command
    assert "about-to-fail" in rec.lines()
    assert err.cleanup.is_clean
    assert not (tmp_path / "out.raw").exists()


def test_parallel_builds_from_threads(triton_sim: imagebake.sim.Triton) -> None:
    results: dict[int, imagebake.Artifact | BaseException] = {}

    def bake(n: int) -> None:
        try:
            results[n] = imagebake.Build.from_template(
                {"builders": [triton_block(triton_sim, image_name=f"parallel-{n}")]}).run()
        except BaseException as e:  # noqa: BLE001 - reported below
            results[n] = e

    threads = [threading.Thread(target=bake, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    arts = [results[n] for n in range(4)]
    assert all(isinstance(a, imagebake.Artifact) for a in arts), arts
    names = sorted(a.name for a in arts if isinstance(a, imagebake.Artifact))
    assert names == [f"parallel-{n}" for n in range(4)]
    assert len({a.build_id for a in arts if isinstance(a, imagebake.Artifact)}) == 4
    inv = triton_sim.inventory()
    assert inv["machines"] == [] and len(inv["custom_images"]) == 4
