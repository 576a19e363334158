#!/usr/bin/env bash
# Builds the Python wheel with maturin (a debug build: CI checks behaviour, not speed), installs
# it in a fresh virtual environment, and runs the pytest suite in python/tests against it; the
# console script is also compared byte for byte with the Rust binary.
# Needs Python 3.9+ with venv; maturin and pytest come from PyPI.
# Usage: python/ci.sh [PYTHON]   (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/build"
"$work/build/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.9,<2'
"$work/build/bin/maturin" build --locked --interpreter "$python" --out "$work/wheels"

"$python" -m venv "$work/test"
"$work/test/bin/pip" install --quiet --disable-pip-version-check "$work"/wheels/bwreset-*.whl pytest
cargo build --locked -p bwreset
BWRESET_BINARY="$PWD/target/debug/bwreset" "$work/test/bin/python" -m pytest -q python/tests
