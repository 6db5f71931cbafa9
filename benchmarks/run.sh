#!/usr/bin/env bash
# Runs one benchmark of this directory (see benchmarks/README.md) in the benchmarks' own
# virtualenv: installs wrk if missing, prepares benchmarks/.env (this project, editable, plus
# py-spy for --profile), then runs `python -m benchmarks.bench_<name>` with the other arguments.
#   benchmarks/run.sh images [--duration 10] [--connections 16,64,256] [--nice -15]
#   benchmarks/run.sh ws [--connections 1000] [--events 50] [--nice -15]
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:?usage: benchmarks/run.sh <images|ws|auth|jobs> [options]}"
shift

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

exec "$VENV/bin/python" -m "benchmarks.bench_${name}" "$@"
