#!/usr/bin/env bash
# Install what the demo (`setup.sh demo`) or the test suite (`setup.sh test`) needs on a fresh
# Debian/Ubuntu machine: Debian packages with apt-get, Python packages into ./.venv with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-test}

debs=(prometheus)
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
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[$purpose]"
