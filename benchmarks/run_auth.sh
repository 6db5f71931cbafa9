#!/usr/bin/env bash
# The auth benchmark (see benchmarks/README.md): installs wrk if missing, prepares the
# benchmark's own virtualenv (benchmarks/.env: this project plus py-spy), then runs the driver.
#   benchmarks/run_auth.sh [--duration 15] [--connections 64] [--users 10000] [--profile]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq wrk
fi

VENV=benchmarks/.env
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q -e . py-spy

exec "$VENV/bin/python" -m benchmarks.bench_auth "$@"
