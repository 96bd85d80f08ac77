"""The clouds' simulators, to run your pipelines offline.

Each is a context manager serving on 127.0.0.1 until the ``with`` block ends
(or ``close()``)::

    with imagebake.sim.Triton(ssh=True) as sim:
        build = imagebake.triton(**sim.builder_config(), ...)
        print(sim.inventory()["machines"])

``ssh=True`` (Triton, Oxide) makes machines reachable over real SSH and needs
root; the Outscale simulator's volumes are real loop devices (root too).
"""

from typing import NoReturn

from . import _imagebake

if hasattr(_imagebake, "TritonSim"):
    from ._imagebake import OscSim as Osc
    from ._imagebake import OxideSim as Oxide
    from ._imagebake import TritonSim as Triton

    __all__ = ["Osc", "Oxide", "Triton"]
else:
    # Built without the `sim` feature of the imagebake-py crate.
    __all__ = []

    def __getattr__(name: str) -> NoReturn:
        if name in ("Osc", "Oxide", "Triton"):
            raise ImportError(
                f"imagebake.sim.{name}: this imagebake was built without its "
                "simulators (the `sim` feature of the imagebake-py crate, on by "
                "default); rebuild it with that feature to use them"
            )
        raise AttributeError(f"module 'imagebake.sim' has no attribute {name!r}")
