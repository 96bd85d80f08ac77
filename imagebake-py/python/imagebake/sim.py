"""The clouds' simulators, to run your pipelines offline.

Each is a context manager serving on 127.0.0.1 until the ``with`` block ends
(or ``close()``)::

    with imagebake.sim.Triton(ssh=True) as sim:
        build = imagebake.triton(**sim.builder_config(), ...)
        print(sim.inventory()["machines"])

``ssh=True`` (Triton, Oxide) makes machines reachable over real SSH and needs
root; the Outscale simulator's volumes are real loop devices (root too).
"""

from ._imagebake import OscSim as Osc
from ._imagebake import OxideSim as Oxide
from ._imagebake import TritonSim as Triton

__all__ = ["Osc", "Oxide", "Triton"]
