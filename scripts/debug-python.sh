#!/usr/bin/env bash
# Runs the scanner's tests on a debug build of CPython (Debian's pythonX.Y-dbg:
# Py_DEBUG, refcount and object-consistency assertions, sys.gettotalrefcount), with
# the extensions built against its headers, to catch reference-count mistakes.
# Needs the Debian packages pythonX.Y-dbg pythonX.Y-dev pythonX.Y-venv for the
# system's python3 X.Y (Debian 12: 3.11, Debian 13: 3.13).
# MELIAE_SAN_TESTS names the test files (default: test_scanner*.py test_security.py).
# Usage: bash scripts/debug-python.sh [extra pytest arguments]
#   MELIAE_DEBUG_PYTHON  the interpreter (default: python<system X.Y>-dbg)
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${MELIAE_DEBUG_PYTHON:-}"
if [ -z "$PY" ]; then
    sysver="$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
    PY="python${sysver:-3}-dbg"
fi
command -v "$PY" >/dev/null || {
    echo "$PY not found (apt-get install ${PY} ${PY%-dbg}-dev ${PY%-dbg}-venv)" >&2; exit 1; }
"$PY" -c 'import sys; assert hasattr(sys, "gettotalrefcount"), "not a debug build"'

venv=build/venv-dbg
[ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
"$venv/bin/python" -m pip install -q pytest >/dev/null
# Built from a staged copy: objects of other builds in ./build must not be reused.
src="$(bash scripts/stage-source.sh build/stage-dbg)"
MELIAE_WERROR=1 MELIAE_CFLAGS="-O0 -g" \
    "$venv/bin/python" -m pip install -q --force-reinstall --no-deps "./$src"

# Python's own debug hooks on memory allocators, and faulthandler on crashes.
export PYTHONDEVMODE=1 PYTHONFAULTHANDLER=1
# MELIAE_SAN_DESELECT: pytest node ids (from the repository root) to leave out; by
# default TestRobustness::test_threads_mutating_during_dump, whose threads grow a
# shared list while the main thread parses the dump with json: slow on a debug or
# sanitized build.  MELIAE_SAN_DESELECT="" runs everything.
deselect="${MELIAE_SAN_DESELECT-tests/test_scanner.py::TestRobustness::test_threads_mutating_during_dump}"
args=()
for t in $deselect; do args+=(--deselect "$t"); done
cd tests
exec "../$venv/bin/python" -X dev -m pytest -q -p no:cacheprovider \
    "${args[@]}" ${MELIAE_SAN_TESTS:-test_scanner*.py test_security.py} "$@"
