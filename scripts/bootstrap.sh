#!/usr/bin/env bash
# Create .venv (reusing packages already installed for this Python) and install the project.
#   scripts/bootstrap.sh        runtime dependencies
#   scripts/bootstrap.sh test   plus the test dependencies
# torch is installed first, pinned to the CPU build, so that no CUDA build is pulled in.
# Outside an environment with a local CPU wheel, set TORCH_INDEX=https://download.pytorch.org/whl/cpu.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 is required, found {sys.version.split()[0]}"'
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv --system-site-packages .venv 2>/dev/null; then
    echo "bootstrap: python venv module missing; installing python3-venv" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-venv
    "$PY" -m venv --system-site-packages .venv
  fi
fi
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip >/dev/null 2>&1 || true
$PIP install -q torch==2.13.0 ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
extra=""; [ "${1:-}" = "test" ] && extra="[test]"
$PIP install -q -e ".${extra}"
echo "bootstrap: installed into .venv ($(.venv/bin/python -c 'import ray, torch; print(f"ray {ray.__version__}, torch {torch.__version__}")'))"
