#!/usr/bin/env bash
# Installs what the tests need and runs every test: the C engine tests under
# ASan+UBSan (and valgrind), then pytest on each supported CPython found
# through pyenv.  Used verbatim by .ci/run (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
need=""
for p in zlib1g-dev libzstd-dev valgrind; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    echo "== apt-get install$need"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
fi

echo "== C engine tests (ASan+UBSan, -Werror)"
make -s check-c WERROR=-Werror
echo "== C engine tests (valgrind)"
make -s valgrind

# The Pythons to test: MELIAE_PYTHONS (space separated) or every pyenv 3.10-3.13.
pythons="${MELIAE_PYTHONS:-}"
if [ -z "$pythons" ]; then
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for v in 3.10 3.11 3.12 3.13; do
        best="$(ls -d "$root"/versions/"$v".* 2>/dev/null | sort -V | tail -n 1 || true)"
        [ -n "$best" ] && [ -x "$best/bin/python3" ] && pythons="$pythons $best/bin/python3"
    done
fi
[ -n "$pythons" ] || { echo "no CPython 3.10-3.13 found (set MELIAE_PYTHONS)" >&2; exit 1; }

status=0
for py in $pythons; do
    ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    venv="build/venv-$ver"
    echo "== Python $ver ($py)"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    MELIAE_WERROR=1 "$venv/bin/python" -m pip install -q '.[test]'
    (cd tests && "../$venv/bin/python" -m pytest -q -p no:cacheprovider .) || status=1
done
exit $status
