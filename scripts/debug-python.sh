#!/usr/bin/env bash
# Runs the scanner's tests on a debug build of CPython (Debian's python3.11-dbg:
# Py_DEBUG, refcount and object-consistency assertions, sys.gettotalrefcount), with
# the extensions built against its headers, to catch reference-count mistakes.
# Needs the Debian packages python3.11-dbg python3.11-dev python3.11-venv.
# MELIAE_SAN_TESTS names the test files (default: test_scanner*.py test_security.py).
# Usage: bash scripts/debug-python.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${MELIAE_DEBUG_PYTHON:-python3.11-dbg}"
command -v "$PY" >/dev/null || { echo "$PY not found (apt-get install python3.11-dbg python3.11-dev python3.11-venv)" >&2; exit 1; }
"$PY" -c 'import sys; assert hasattr(sys, "gettotalrefcount"), "not a debug build"'

venv=build/venv-dbg
[ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
"$venv/bin/python" -m pip install -q pytest >/dev/null
MELIAE_WERROR=1 MELIAE_CFLAGS="-O0 -g" "$venv/bin/python" -m pip install -q --force-reinstall --no-deps .

# Python's own debug hooks on memory allocators, and faulthandler on crashes.
export PYTHONDEVMODE=1 PYTHONFAULTHANDLER=1
# test_scanner.py::test_threads_mutating_during_dump lets its threads grow a shared
# list without bound while the main thread parses the dump with json: on a slow
# (debug or sanitized) build it never ends.  MELIAE_SAN_DESELECT="" runs it anyway.
deselect="${MELIAE_SAN_DESELECT-tests/test_scanner.py::test_threads_mutating_during_dump}"
args=()
for t in $deselect; do args+=(--deselect "$t"); done
cd tests
exec "../$venv/bin/python" -X dev -m pytest -q -p no:cacheprovider \
    "${args[@]}" ${MELIAE_SAN_TESTS:-test_scanner*.py test_security.py} "$@"
