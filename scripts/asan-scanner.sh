#!/usr/bin/env bash
# Runs the scanner's tests with both extensions (and the engine inside them) built
# under AddressSanitizer and UndefinedBehaviorSanitizer, on an ordinary CPython:
# libasan is preloaded, PYTHONMALLOC=malloc sends every Python allocation through
# it, and leak detection is off (the interpreter itself keeps memory at exit).
# Needs gcc with libasan/libubsan (Debian: gcc) and a CPython with headers.
# MELIAE_SAN_TESTS names the test files (default: test_scanner*.py test_security.py).
# Usage: bash scripts/asan-scanner.sh [extra pytest arguments]
#   MELIAE_ASAN_PYTHON  the interpreter (default: the newest pyenv 3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${MELIAE_ASAN_PYTHON:-}"
if [ -z "$PY" ]; then
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    PY="$(ls -d "$root"/versions/3.11.*/bin/python3 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$PY" ] || PY=python3
fi

venv=build/venv-asan
[ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
"$venv/bin/python" -m pip install -q pytest >/dev/null
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
# Built from a staged copy: a plain build's objects in ./build must not stand in
# for sanitized ones (nor the other way round).
src="$(bash scripts/stage-source.sh build/stage-asan)"
MELIAE_WERROR=1 MELIAE_CFLAGS="$SAN -g -O1" MELIAE_LDFLAGS="$SAN" \
    "$venv/bin/python" -m pip install -q --force-reinstall --no-deps "./$src"

asan="$(gcc -print-file-name=libasan.so)"
ubsan="$(gcc -print-file-name=libubsan.so)"
export LD_PRELOAD="$asan:$ubsan"
export PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# MELIAE_SAN_DESELECT: pytest node ids (from the repository root) to leave out; by
# default TestRobustness::test_threads_mutating_during_dump, whose threads grow a
# shared list while the main thread parses the dump with json: slow on a debug or
# sanitized build.  MELIAE_SAN_DESELECT="" runs everything.
deselect="${MELIAE_SAN_DESELECT-tests/test_scanner.py::TestRobustness::test_threads_mutating_during_dump}"
args=()
for t in $deselect; do args+=(--deselect "$t"); done
cd tests
exec "../$venv/bin/python" -m pytest -q -p no:cacheprovider \
    "${args[@]}" ${MELIAE_SAN_TESTS:-test_scanner*.py test_security.py} "$@"
