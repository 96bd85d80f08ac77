"""The example script the README shows runs as documented."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python" / "bake.py"


def test_examples_python_bake_runs() -> None:
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                         timeout=180, check=False)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "artifact:" in out.stdout
    assert "hello from imagebake" in out.stdout
