#!/usr/bin/env bash
# The demo, from a fresh clone: a local Prometheus with a week of realistic data, and JupyterLab
# on the tour notebook. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
export PATH="$PWD/.venv/bin:$PATH"

sysmon-magic demo --detach
trap 'sysmon-magic demo --stop' EXIT
jupyter lab --ip=127.0.0.1 --no-browser notebooks/00-tour.ipynb
