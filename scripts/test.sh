#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install, lint, type-check, the JupyterLab
# extension's own unit tests, unit + integration tests
# against a real Prometheus, NHN-style gateway and VictoriaMetrics, and every notebook under nbval.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== labextension unit tests (node)"
(cd labextension && npm test --silent)
echo "== pytest"
pytest tests --nbval notebooks --nbval-sanitize-with tests/nbval-sanitize.cfg "$@"
