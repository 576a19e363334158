#!/usr/bin/env bash
# Interop checks: published Python clients from PyPI against odin-sim: odins-spear (Odin REST),
# broadworks-ocip (OCI-P over TCP) and broadworks-ocip-soap (OCI-P over SOAP, with zeep, over
# HTTPS with the simulator's private CA).
# Usage: tests/interop/run.sh [PATH_TO_ODIN_SIM]   (default: target/debug/odin-sim)
set -euo pipefail
cd "$(dirname "$0")/../.."
simulator=${1:-target/debug/odin-sim}
[ -x "$simulator" ] || cargo build --locked -p odin-sim
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check 'odins-spear==2.3.0' 'broadworks-ocip==3.0.0' \
    'broadworks-ocip-soap==0.4.1'
"$venv/bin/python" tests/interop/odins_spear_check.py "$simulator"
"$venv/bin/python" tests/interop/ocip_check.py "$simulator"
"$venv/bin/python" tests/interop/ocip_soap_check.py "$simulator"
