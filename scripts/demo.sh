#!/usr/bin/env bash
# The demo, from a fresh clone: a local Prometheus with a week of realistic data, and JupyterLab
# on the tour notebook. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh demo
export PATH="$PWD/.venv/bin:$PATH"
# binder's Jupyter config, on top of the user's own (which stays untouched): no news prompt.
export JUPYTER_CONFIG_PATH="$PWD/binder/jupyter-config${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"

# Use the demo server (start it, or share the running one) while JupyterLab runs; at exit it stops
# unless another process still uses it. A background job ignores Ctrl-C: that is JupyterLab's.
sysmon-magic demo &
demo=$!
trap 'kill -TERM "$demo" 2>/dev/null && wait "$demo"' EXIT

# JupyterLab on 127.0.0.1 only; the URL it prints opens the tour. It refuses to run as root
# (containers, CI) unless told to; answer_yes: one Ctrl-C stops it, without a question.
[ "$(id -u)" = 0 ] && root=True || root=False
jupyter lab --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks \
  --LabApp.default_url=/lab/tree/00-tour.ipynb --ServerApp.allow_root="$root" \
  --ServerApp.answer_yes=True
