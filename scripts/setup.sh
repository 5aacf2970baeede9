#!/usr/bin/env bash
# Install what the demo (`setup.sh demo`) or the test suite (`setup.sh test`) needs on a fresh
# Debian/Ubuntu machine: Debian packages with apt-get, the JupyterLab extension's npm packages
# into labextension/node_modules, Python packages into ./.venv with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-test}

debs=(prometheus)
# Node builds the JupyterLab extension (labextension/); Debian's is enough (Node 18 or later).
command -v npm >/dev/null || debs+=(nodejs npm)
[ "$purpose" = test ] && debs+=(victoria-metrics chromium)
missing=()
for deb in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "setup: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  # The packages' services are not wanted: the demo and tests start their own servers.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# SYSMON_SKIP_PIP=1: .venv is known to be set up (the test of demo.sh): pip would take a minute
# to find nothing to do, and would reinstall the package under the feet of running tests.
[ "${SYSMON_SKIP_PIP:-}" = 1 ] && exit 0
# The extension's npm packages, again whenever package-lock.json changes (npm ci starts afresh).
installed=labextension/node_modules/.package-lock.json
if [ ! "$installed" -nt labextension/package-lock.json ]; then
  echo "setup: npm ci (labextension/)"
  (cd labextension && npm ci --no-audit --no-fund --loglevel=error)
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# Builds the extension when stale (setup.py) ...
.venv/bin/python -m pip install -q -e ".[$purpose]"
# ... but setuptools leaves data files out of editable installs: link it in, as
# `jupyter labextension develop` does, so that a rebuild shows at the next page load.
labextensions=.venv/share/jupyter/labextensions
mkdir -p "$labextensions"
ln -sfn "$PWD/labextension/dist/sysmon-magic-promql" "$labextensions/sysmon-magic-promql"
