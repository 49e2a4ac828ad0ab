#!/usr/bin/env bash
# Installs meliae into build/venv-demo and runs the demo: a bundled sample
# program with a deliberate leak is run, dumped, and analysed.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
dpkg -s zlib1g-dev >/dev/null 2>&1 || { $SUDO apt-get update -qq; $SUDO apt-get install -y -qq zlib1g-dev libzstd-dev >/dev/null; }
py="${PYTHON:-python3}"
[ -x build/venv-demo/bin/python ] || "$py" -m venv build/venv-demo
build/venv-demo/bin/python -m pip install -q --upgrade pip >/dev/null
build/venv-demo/bin/python -m pip install -q .
build/venv-demo/bin/python -m meliae demo "$@"
