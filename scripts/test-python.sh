#!/usr/bin/env bash
# Tests the `imagebake` Python package as a user gets it: builds the wheel
# with maturin (debug profile, the workspace's target dir), installs it into a
# FRESH virtualenv (target/py-venv, recreated on every run), runs pytest
# against the installed package (not the source tree), then checks the type
# stubs against the module with mypy's stubtest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=target/py-venv
WHEELS=target/py-wheels
# Pinned test tools (from PyPI).
TOOLS=(maturin==1.16.0 pytest==9.2.0 pytest-asyncio==1.5.0 mypy==2.4.1)

echo "== python: fresh virtualenv $VENV ($("$PYTHON" --version))"
rm -rf "$VENV" "$WHEELS"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${TOOLS[@]}"

echo "== python: maturin build (debug)"
"$VENV/bin/maturin" build --quiet -m imagebake-py/Cargo.toml -i "$VENV/bin/python" --out "$WHEELS"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$WHEELS"/imagebake-*.whl

echo "== python: pytest (against the installed wheel)"
# Run from a directory without the package sources, so `import imagebake`
# can only find the installed wheel.
status=0
(cd imagebake-py/tests && "../../$VENV/bin/python" -m pytest -p no:cacheprovider -q -rs \
    -c ../pyproject.toml --rootdir .. .) || status=$?

echo "== python: stubtest imagebake._imagebake"
"$VENV/bin/python" -m mypy.stubtest imagebake._imagebake \
    --allowlist imagebake-py/stubtest-allowlist.txt || status=$?

exit "$status"
