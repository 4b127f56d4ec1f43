#!/usr/bin/env bash
# The GPU check of config/paper.yaml's data path and networks, in at most 8 minutes on a machine
# with a CUDA GPU: training images/s of both backbones at the paper's batch sizes (AMP,
# channels_last), the loader's rate with the decoded-image cache and with JPEGs, and whether
# the loader keeps up. Run from the repository root after `make` has set up .venv:
#   benchmarks/gpu_check.sh            (PYTHON=... to use another interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export PYTHONUNBUFFERED=1
exec timeout 480 "$PYTHON" benchmarks/gpu_check.py "$@"
