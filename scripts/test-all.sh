#!/usr/bin/env bash
# Installs what the tests need (Debian packages) and runs every test, timing each
# step, then prints which steps ran and how they ended:
#   c-asan        the C engine tests under ASan+UBSan, -Werror
#   c-valgrind    the same tests unsanitized under valgrind memcheck
#   lint          cppcheck over the engine, its tests and the fuzz targets (make lint)
#   fuzz          each libFuzzer target for FUZZ_SECONDS (60 s; 45 s when CI=true)
#   py-X.Y        pytest on each CPython 3.10-3.13 found through pyenv, then on
#                 CPython 3.14 and 3.15 from scripts/get-python.sh (Debian sid's
#                 packages, cached in ~/.cache/meliae/python between runs); when the
#                 Debian registry is unreachable and they are not cached yet, these two
#                 are skipped with a loud warning (SKIPPED in the summary), never
#                 silently; any other failure to get them fails the step
#   scanner-asan  the scanner, stress and security tests with ASan+UBSan extensions
#   scanner-dbg   the same tests on Debian's debug CPython (refcount checks)
# Used verbatim by .ci/run (the README's test command).  Any failed step makes the
# script exit 1 after the summary; a missing package that cannot be installed
# (apt needs root or sudo) stops it at once with exit 2.
# Knobs: MELIAE_PYTHONS (the py-X.Y steps' interpreters, space separated, instead of
# all of the above: paths, or 3.14 / 3.15 to get through scripts/get-python.sh),
# MELIAE_PYTHON_CACHE (get-python.sh's cache), MELIAE_FUZZ_SECONDS, MELIAE_SKIP (step
# names to leave out, shown as skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

T0=$(date +%s)
if [ "${CI:-}" = true ]; then FUZZ_DEFAULT=45; else FUZZ_DEFAULT=60; fi
FUZZ_SECONDS="${MELIAE_FUZZ_SECONDS:-$FUZZ_DEFAULT}"

# --- Debian packages -------------------------------------------------------------
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        SUDO="none"
    fi
fi
APT_UPDATED=""

# missing PKG... -> prints the packages that are not installed.
missing() {
    local p out=""
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || out="$out $p"
    done
    echo "$out"
}

apt_update_once() {
    [ -n "$APT_UPDATED" ] && return 0
    echo "== apt-get update"
    $SUDO apt-get update -qq || { echo "error: apt-get update failed" >&2; exit 2; }
    APT_UPDATED=1
}

# install PKG... -> installs those not yet installed; fails clearly without apt rights.
install() {
    local need
    need="$(missing "$@")"
    [ -z "$need" ] && return 0
    if [ "$SUDO" = none ]; then
        echo "error: these Debian packages are needed and not installed:$need" >&2
        echo "error: installing them needs apt as root (or passwordless sudo); run as root" >&2
        echo "       or install them first: apt-get install$need" >&2
        exit 2
    fi
    command -v apt-get >/dev/null || {
        echo "error: apt-get not found; install by hand:$need" >&2; exit 2; }
    apt_update_once
    echo "== apt-get install$need"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null || {
        echo "error: apt-get install$need failed" >&2; exit 2; }
}

# known PKG -> true when apt knows a package of that name.
known() {
    dpkg -s "$1" >/dev/null 2>&1 && return 0
    [ "$SUDO" = none ] || apt_update_once
    [ -n "$(apt-cache show --no-all-versions "$1" 2>/dev/null | head -n 1)" ]
}

# first_known PKG... -> sets FOUND to the first package name apt knows, or fails.
first_known() {
    local p
    for p in "$@"; do
        if known "$p"; then FOUND="$p"; return 0; fi
    done
    return 1
}

TI=$(date +%s)
echo "== $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(nproc) cores, CI=${CI:-}"
install gcc make zlib1g-dev libzstd-dev valgrind cppcheck clang python3
# libFuzzer ships with clang's runtime libraries, in a package named after clang's
# major version (Debian 12: clang 14, Debian 13: clang 19).
CLANG_MAJOR="$(clang --version | sed -n 's/.*clang version \([0-9][0-9]*\).*/\1/p' | head -n 1)"
first_known "libclang-rt-$CLANG_MAJOR-dev" libclang-rt-dev "libclang-common-$CLANG_MAJOR-dev" || {
    echo "error: no Debian package with libFuzzer for clang $CLANG_MAJOR" \
         "(tried libclang-rt-$CLANG_MAJOR-dev, libclang-rt-dev)" >&2; exit 2; }
RT="$FOUND"
install "$RT"
# The debug CPython matches the system's python3 (Debian 12: 3.11, Debian 13: 3.13).
SYSPY="$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
first_known "python$SYSPY-dbg" python3-dbg || {
    echo "error: no debug CPython package for python $SYSPY (tried python$SYSPY-dbg," \
         "python3-dbg)" >&2; exit 2; }
install "$FOUND" "python$SYSPY-dev" "python$SYSPY-venv"
# libFuzzer must link: a missing runtime would otherwise only show in the fuzz step.
probe="$(mktemp -d)"
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
    > "$probe/p.c"
clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>"$probe/err" || {
    echo "error: clang $CLANG_MAJOR cannot link libFuzzer (package $RT):" >&2
    cat "$probe/err" >&2; rm -rf "$probe"; exit 2; }
rm -rf "$probe"
echo "== packages ready in $(( $(date +%s) - TI ))s: clang $CLANG_MAJOR ($RT)," \
     "debug CPython python$SYSPY-dbg, $(cppcheck --version)"

# --- the Pythons -------------------------------------------------------------------
# Each entry is an interpreter's path, or a version (3.14, 3.15) that
# scripts/get-python.sh fetches when its step comes.
pythons="${MELIAE_PYTHONS:-}"
if [ -z "$pythons" ]; then
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for v in 3.10 3.11 3.12 3.13; do
        best="$(ls -d "$root"/versions/"$v".* 2>/dev/null | sort -V | tail -n 1 || true)"
        [ -n "$best" ] && [ -x "$best/bin/python3" ] && pythons="$pythons $best/bin/python3"
    done
    [ -n "$pythons" ] || { echo "error: no CPython 3.10-3.13 found (set MELIAE_PYTHONS)" >&2; exit 2; }
    pythons="$pythons 3.14 3.15"
fi
# The sanitized scanner run uses the newest pyenv 3.11 when there is one (else the first
# path given, else asan-scanner.sh's own choice).
ASAN_PY="$(for p in $pythons; do echo "$p"; done | grep -E '/3\.11\.[0-9]+/' | tail -n 1 || true)"
[ -n "$ASAN_PY" ] || ASAN_PY="$(for p in $pythons; do echo "$p"; done | grep / | head -n 1 || true)"

# --- steps ---------------------------------------------------------------------------
SUMMARY=()
WARNINGS=()
FAILED=0

# skipped NAME -> true, and the summary says so, when MELIAE_SKIP names the step.
skipped() {
    case " ${MELIAE_SKIP:-} " in
        *" $1 "*) SUMMARY+=("$(printf '%-14s %-22s' "$1" "skipped (MELIAE_SKIP)")"); return 0;;
    esac
    return 1
}

# step NAME CMD... -> runs CMD with errexit on (also inside shell functions), times
# it and records the outcome; a failure is remembered, the next steps still run.
step() {
    local name="$1" rc t
    shift
    skipped "$name" && return 0
    echo
    echo "======== $name"
    t=$(date +%s)
    set +e
    ( set -e; "$@" )
    rc=$?
    set -e
    t=$(( $(date +%s) - t ))
    if [ "$rc" = 0 ]; then
        SUMMARY+=("$(printf '%-14s %-22s %5ds' "$name" passed "$t")")
    else
        SUMMARY+=("$(printf '%-14s %-22s %5ds' "$name" "FAILED (exit $rc)" "$t")")
        FAILED=1
    fi
    echo "======== $name: $([ "$rc" = 0 ] && echo passed || echo "FAILED (exit $rc)") in ${t}s"
}

# py_tests PY X.Y [fetched] -> the py-X.Y step: a venv, a build, pytest.  A fetched
# interpreter's venv is made by get-python.sh (Debian keeps ensurepip's wheels in
# another package, which it does not fetch).
py_tests() {
    local py="$1" ver="$2" venv="build/venv-$2" src
    if [ "${3:-}" = fetched ]; then
        bash scripts/get-python.sh "$ver" --venv "$venv" >/dev/null
    else
        [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    # A staged copy: objects in ./build from builds with other flags are never reused.
    src="$(bash scripts/stage-source.sh "build/stage-py$ver")"
    MELIAE_WERROR=1 "$venv/bin/python" -m pip install -q "./$src[test]"
    cd tests
    "../$venv/bin/python" -m pytest -q -p no:cacheprovider .
}

# fetched_py_tests X.Y -> gets CPython X.Y through scripts/get-python.sh (cached
# between runs) and runs the py-X.Y step on it.  An unreachable Debian registry (exit
# 3, nothing cached) skips the step with a loud warning, repeated after the summary;
# any other failure to get it fails the step.
fetched_py_tests() {
    local ver="$1" py rc t
    skipped "py-$ver" && return 0
    echo
    echo "== CPython $ver through scripts/get-python.sh"
    t=$(date +%s)
    set +e
    py="$(bash scripts/get-python.sh "$ver")"
    rc=$?
    set -e
    t=$(( $(date +%s) - t ))
    if [ "$rc" = 0 ]; then
        echo "== CPython $ver ready in ${t}s: $py"
        step "py-$ver" py_tests "$py" "$ver" fetched
    elif [ "$rc" = 3 ]; then
        WARNINGS+=("py-$ver was NOT run: the Debian registry is unreachable and CPython $ver is not cached")
        SUMMARY+=("$(printf '%-14s %s' "py-$ver" "SKIPPED: Debian registry unreachable")")
        loud "py-$ver is SKIPPED: the Debian registry is unreachable and CPython $ver" \
             "is not in the cache yet (scripts/get-python.sh exit 3, see above)." \
             "meliae is NOT tested on CPython $ver in this run."
    else
        SUMMARY+=("$(printf '%-14s %-22s %5ds' "py-$ver" "FAILED (fetch, exit $rc)" "$t")")
        FAILED=1
        echo "======== py-$ver: FAILED (scripts/get-python.sh $ver exit $rc) in ${t}s"
    fi
}

# loud LINE... -> a warning no one reading the log can miss.
loud() {
    local line bar="!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo
    echo "$bar"
    echo "!!  WARNING"
    for line in "$@"; do echo "!!  $line"; done
    echo "$bar"
}

fuzz() {
    rm -f tests/fuzz/artifacts/fuzz_*.log
    make -s -C tests/fuzz build
    make -s fuzz FUZZ_SECONDS="$FUZZ_SECONDS"
}

SAN_TESTS="test_scanner.py test_scanner_sizes.py test_scanner_stress.py test_security.py test_instance_dicts.py"

step c-asan make -s check-c WERROR=-Werror
step c-valgrind make -s valgrind
step lint make -s lint
step fuzz fuzz
for py in $pythons; do
    case "$py" in
        3.14|3.15) fetched_py_tests "$py"; continue;;
    esac
    ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    step "py-$ver" py_tests "$py" "$ver"
done
# Under ASan all of them run (about 3 minutes).  The debug interpreter runs pure
# Python about 15 times slower: TestFormat::test_header_and_trailer_in_every_output_kind,
# which parses whole-heap dumps of the test process with json, takes over 6 minutes
# there and is left out (the rest take about 2 minutes).
DBG_DESELECT="tests/test_scanner.py::TestFormat::test_header_and_trailer_in_every_output_kind"
step scanner-asan env MELIAE_ASAN_PYTHON="$ASAN_PY" MELIAE_SAN_TESTS="$SAN_TESTS" \
    MELIAE_SAN_DESELECT="" bash scripts/asan-scanner.sh
step scanner-dbg env MELIAE_DEBUG_PYTHON="python$SYSPY-dbg" MELIAE_SAN_TESTS="$SAN_TESTS" \
    MELIAE_SAN_DESELECT="$DBG_DESELECT" bash scripts/debug-python.sh

# --- summary ---------------------------------------------------------------------------
echo
echo "======== summary (fuzz: ${FUZZ_SECONDS}s per target)"
for line in "${SUMMARY[@]}"; do echo "  $line"; done
for log in tests/fuzz/artifacts/fuzz_*.log; do
    [ -f "$log" ] || continue
    case " ${MELIAE_SKIP:-} " in *" fuzz "*) break;; esac
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    echo "  $(basename "$log" .log): ${runs:-?} executions"
done
echo "  total $(( $(date +%s) - T0 ))s"
[ "${#WARNINGS[@]}" = 0 ] || loud "${WARNINGS[@]}"
if [ "$FAILED" != 0 ]; then
    echo "FAILED: at least one step failed (see above)"
    exit 1
fi
if [ "${#WARNINGS[@]}" != 0 ]; then
    echo "all steps that ran passed; ${#WARNINGS[@]} NOT run (see the warning above)"
else
    echo "all steps passed"
fi
