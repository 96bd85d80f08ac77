"""asyncio support for ``Build.run_async()``: waiting on a running build, and
cancelling it (then waiting for its cleanup) when the waiting task is
cancelled."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._imagebake import Artifact, RunningBuild


async def run_async(running: RunningBuild) -> Artifact:
    """Awaits ``running``; if the task is cancelled, cancels the build, waits
    until its cleanup has run, then re-raises ``asyncio.CancelledError`` (its
    ``__cause__`` is the build's ``BuildCancelled``)."""
    try:
        return await running.wait_async()
    except asyncio.CancelledError as cancelled:
        running.cancel()
        try:
            await running.wait_async()
        except Exception as build_error:  # BuildCancelled, or what the build hit first
            raise cancelled from build_error
        raise
