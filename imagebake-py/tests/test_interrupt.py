"""Ctrl-C during run() and cancelling a run_async() task: the build is
cancelled, its cleanup runs to the end, then the interruption is raised; the
simulator is left with no machine."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

import imagebake
from conftest import Recorder, triton_block


def when_a_machine_exists(sim: imagebake.sim.Triton, then: object) -> threading.Thread:
    """Starts a thread that waits until the simulator holds a machine, then
    calls `then()`."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sim.inventory()["machines"]:
                then()  # type: ignore[operator]
                return
            time.sleep(0.005)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def test_ctrl_c_during_run_cancels_cleans_up_then_raises() -> None:
    # Long enough transitions that the build is inside a wait when SIGINT comes.
    with imagebake.sim.Triton(delay_ms=1000) as sim:
        build = imagebake.Build.from_template({"builders": [triton_block(sim)]})
        watcher = when_a_machine_exists(sim, lambda: os.kill(os.getpid(), signal.SIGINT))
        # No callback: the only Python code the main thread runs meanwhile is
        # run()'s own signal check, so that is where SIGINT is handled.
        with pytest.raises(KeyboardInterrupt) as e:
            build.run()
        watcher.join()
        # The handler path ran: the build was cancelled and its cleanup
        # finished before the KeyboardInterrupt came out of run().
        cause = e.value.__cause__
        assert isinstance(cause, imagebake.BuildCancelled), repr(cause)
        assert cause.step in ("create machine", "wait running"), cause.step
        assert [(x.kind, x.outcome) for x in cause.cleanup.removed] == [("machine", "removed")]
        assert sim.inventory()["machines"] == []
        assert sim.inventory()["custom_images"] == []


def test_run_async_returns_the_artifact(triton_sim: imagebake.sim.Triton) -> None:
    build = imagebake.Build.from_template({"builders": [triton_block(triton_sim)]})
    rec = Recorder()
    art = asyncio.run(build.run_async(on_event=rec))
    assert art.id and art.cloud == "triton"
    assert "create image" in rec.steps()


def test_cancelling_the_asyncio_task_cancels_and_cleans_up() -> None:
    with imagebake.sim.Triton(delay_ms=1000) as sim:
        build = imagebake.Build.from_template({"builders": [triton_block(sim)]})

        async def main() -> BaseException | None:
            task = asyncio.ensure_future(build.run_async())
            while not sim.inventory()["machines"]:
                await asyncio.sleep(0.005)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError as e:
                return e
            return None

        cancelled = asyncio.run(main())
        assert isinstance(cancelled, asyncio.CancelledError)
        assert isinstance(cancelled.__cause__, imagebake.BuildCancelled)
        assert sim.inventory()["machines"] == []


def test_events_as_an_iterator(triton_sim: imagebake.sim.Triton) -> None:
    running = imagebake.Build.from_template({"builders": [triton_block(triton_sim)]}).start()
    kinds = [e.kind for e in running]
    assert kinds[0] == "build_started" and kinds[-1] == "build_finished"
    assert running.done
    art = running.wait()
    assert art.id in [i["id"] for i in triton_sim.inventory()["custom_images"]]
