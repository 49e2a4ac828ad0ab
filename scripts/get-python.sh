#!/usr/bin/env bash
# Makes CPython 3.14 or 3.15 runnable on Debian 12 (or 13), without root and without
# touching the system's apt state, and prints the interpreter's path on stdout.
#
#   bash scripts/get-python.sh 3.14               -> .../3.14/bin/python3.14
#   bash scripts/get-python.sh 3.15 --venv DIR    -> also a venv at DIR with pip
#                                                    (its interpreter: DIR/bin/python)
#
# How: Debian's development suite (sid) packages these interpreters.  Their binary
# packages are fetched with `apt-get download` from the Debian mirror that the
# system's apt sources name, through a sources file and a lists directory of our
# own, unpacked with `dpkg-deb -x` into a private prefix, and run through sid's own
# dynamic loader with sid's libc first on the library path: they need a newer glibc
# than this release has.  Extensions still build with the system's gcc (the glibc
# symbols they use are older, so they load fine).
#
# Everything lives in a cache that survives between runs and is reused: a second run
# only checks that the interpreter works.  An install is unpacked and checked in a
# temporary folder, then renamed into place, so an interrupted run never leaves a
# half-install that looks complete.  The venv's pip comes from a pip wheel
# downloaded once (Debian keeps ensurepip's wheels in a separate package).
#
# Environment:
#   MELIAE_PYTHON_CACHE   the cache (default ~/.cache/meliae/python)
#   MELIAE_DEBIAN_MIRROR  the Debian mirror to fetch from (default: the first Debian
#                         mirror in the system's apt sources)
# Exit codes: 0 ready; 1 failed; 2 bad usage or a version this script does not
# fetch; 3 the Debian registry is unreachable (nothing cached to fall back on).
set -euo pipefail

prog=get-python
usage="usage: bash scripts/get-python.sh 3.14|3.15 [--venv DIR]"
die() { echo "$prog: error: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }

# --- arguments --------------------------------------------------------------------------
ver="" venv=""
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; venv="$2"; shift 2;;
        --venv=*) venv="${1#--venv=}"; shift;;
        -h|--help) echo "$usage"; exit 0;;
        -*) echo "$prog: unknown option $1" >&2; echo "$usage" >&2; exit 2;;
        *) [ -z "$ver" ] || { echo "$usage" >&2; exit 2; }; ver="$1"; shift;;
    esac
done
[ -n "$ver" ] || { echo "$usage" >&2; exit 2; }
case "$ver" in
    3.14|3.15) ;;
    *) echo "$prog: error: only CPython 3.14 and 3.15 are fetched this way (asked for" \
            "'$ver'); CPython 3.10-3.13 come from pyenv or the system" >&2
       exit 2;;
esac

for tool in apt-get dpkg-deb flock; do
    command -v "$tool" >/dev/null ||
        die "$tool not found: this script needs Debian (or a derivative) with apt and dpkg"
done

cache="${MELIAE_PYTHON_CACHE:-$HOME/.cache/meliae/python}"
mkdir -p "$cache" || die "cannot create the cache folder $cache (set MELIAE_PYTHON_CACHE)"
cache="$(cd "$cache" && pwd)"
dest="$cache/$ver"               # a complete install, or nothing
py="$dest/bin/python$ver"        # what this script prints

# One run at a time per cache: two would share the apt lists and the temporary folders.
exec 9>"$cache/.lock"
if ! flock -n 9; then
    note "waiting for another get-python run on $cache"
    flock 9
fi

# Leftovers of an interrupted run (we hold the lock: nobody else uses them); this
# run's temporary folder goes whatever the outcome.
rm -rf "$cache"/.tmp-*
tmp=""
trap 'rm -rf "$tmp"' EXIT

# check PY -> the interpreter runs, is X.Y and has the modules builds and tests use.
check() {
    "$1" - "$ver" <<'PY'
import os, sys, sysconfig
import ssl, sqlite3, decimal, zlib, ctypes, venv
want = sys.argv[1]
have = "%d.%d" % sys.version_info[:2]
if have != want:
    sys.exit("get-python: this is CPython %s, not %s" % (have, want))
header = os.path.join(sysconfig.get_paths()["include"], "Python.h")
if not os.path.exists(header):
    sys.exit("get-python: %s is missing: extensions could not be built" % header)
PY
}

# --- the interpreter ---------------------------------------------------------------------

# mirror -> prints the Debian mirror to fetch from.
mirror() {
    local uri
    if [ -n "${MELIAE_DEBIAN_MIRROR:-}" ]; then echo "$MELIAE_DEBIAN_MIRROR"; return; fi
    # deb822 sources (Debian 12's and 13's default), then one-line ones; a mirror of
    # Debian's main archive ends in /debian (not /debian-security).
    uri="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
           | tr ' \t' '\n\n' | grep -E '/debian/?$' | head -n 1 || true)"
    [ -n "$uri" ] || uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
           | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /=/ && $i !~ /\]$/) { print $i; break } }' \
           | grep -E '/debian/?$' | head -n 1 || true)"
    [ -n "$uri" ] || die "no Debian mirror (a URI ending in /debian) in the apt sources;" \
                         "set MELIAE_DEBIAN_MIRROR, e.g. to http://deb.debian.org/debian"
    echo "$uri"
}

# unreachable LOG -> true when apt's output LOG says the mirror could not be reached.
unreachable() {
    grep -qiE 'could not resolve|temporary failure resolving|could not connect|connection (timed out|refused|failed)|network is unreachable|no route to host|unable to connect|cannot initiate the connection' "$1"
}

# apt_run LOG ARGS... -> runs apt-get on sid's lists only; on failure shows LOG and
# exits 3 when the mirror is unreachable, 1 otherwise.
apt_run() {
    local log="$1"
    shift
    if apt-get "${aptopts[@]}" "$@" >"$log" 2>&1 && ! grep -qE '^(E|Err):' "$log"; then
        return 0
    fi
    if unreachable "$log"; then
        echo "$prog: error: the Debian registry is unreachable ($uri); cannot fetch" \
             "CPython $ver:" >&2
        grep -E '^(E|W|Err):' "$log" | head -n 5 | sed 's/^/    /' >&2
        exit 3
    fi
    echo "$prog: error: apt-get $* failed:" >&2
    sed 's/^/    /' "$log" | tail -n 20 >&2
    exit 1
}

install_python() {
    local t0 keyring pkg deb libdir loader triplet debver
    t0=$(date +%s)
    uri="$(mirror)"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -e "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.pgp
    [ -e "$keyring" ] || die "Debian's archive keyring is missing (apt-get install debian-archive-keyring)"

    # Our own sources file, lists and package cache: the system's apt state is
    # neither read for packages nor written.
    mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"
    cat > "$cache/apt/sid.sources" <<SRC
Types: deb
URIs: $uri
Suites: sid
Components: main
Signed-By: $keyring
SRC
    aptopts=(-o "Dir::Etc::SourceList=$cache/apt/sid.sources" -o Dir::Etc::SourceParts=-
             -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache"
             -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=-
             -o Debug::NoLocking=1)
    # As root apt downloads as the user _apt, who cannot write to a cache under /root.
    [ "$(id -u)" != 0 ] || aptopts+=(-o APT::Sandbox::User=root)

    tmp="$(mktemp -d "$cache/.tmp-$ver.XXXXXX")"
    mkdir -p "$tmp/debs"

    note "fetching CPython $ver from Debian sid ($uri)"
    apt_run "$tmp/update.log" update
    cd "$tmp/debs"
    # The interpreter, its standard library and headers, and the libraries it needs
    # newer than Debian 12's: libc6 (glibc 2.38 or later), OpenSSL 3 (t64 ABI),
    # expat, zstd, mpdecimal and libffi.  The rest comes from the system.
    apt_run "$tmp/download.log" download \
        libc6 libexpat1 libssl3t64 libzstd1 libmpdec4 libffi8 \
        "python$ver-minimal" "libpython$ver-minimal" "libpython$ver-stdlib" \
        "libpython$ver" "libpython$ver-dev" "python$ver-dev" "python$ver"
    for deb in ./*.deb; do
        dpkg-deb -x "$deb" "$tmp/root" || die "cannot unpack $deb"
    done
    debver="$(ls python"$ver"_*.deb | sed 's/^[^_]*_\([^_]*\)_.*/\1/')"
    cd "$cache"

    # sid's libc folder and its dynamic loader (ld-linux-x86-64.so.2 on amd64).
    libdir="$(dirname "$(ls "$tmp"/root/usr/lib/*-linux-gnu*/libc.so.6 | head -n 1)")"
    triplet="$(basename "$libdir")"
    loader="$(cd "$libdir" && ls ld-linux*.so.[0-9] | head -n 1)"
    [ -n "$loader" ] || die "no dynamic loader in sid's libc6 ($libdir)"

    # Debian splits pyconfig.h per architecture and the plain one only includes
    # <$triplet/python$ver/pyconfig.h>, which the system's include path does not
    # have: put the real one in its place so that extensions compile.
    cp "$tmp/root/usr/include/$triplet/python$ver/pyconfig.h" \
       "$tmp/root/usr/include/python$ver/pyconfig.h" ||
        die "no pyconfig.h for $triplet in python$ver's headers"

    # The wrapper sits beside the real binary: Python finds its prefix from argv[0]
    # (through symlinks), and so does the wrapper find sid's loader and libraries.
    # It computes every path at run time, so the install can be renamed into place.
    cat > "$tmp/root/usr/bin/python$ver-run" <<WRAP
#!/bin/sh
# Runs Debian sid's python$ver through sid's own dynamic loader, with sid's libc
# first on the library path and the system's libraries after it.
self=\$(readlink -f "\$0")
usr=\${self%/*}
usr=\${usr%/*}
exec "\$usr/lib/$triplet/$loader" --argv0 "\$0" \\
    --library-path "\$usr/lib/$triplet:/lib/$triplet:/usr/lib/$triplet" \\
    "\$usr/bin/python$ver" "\$@"
WRAP
    chmod +x "$tmp/root/usr/bin/python$ver-run"
    mkdir -p "$tmp/root/bin"
    ln -s "../usr/bin/python$ver-run" "$tmp/root/bin/python$ver"
    echo "$debver" > "$tmp/root/debian-version"

    check "$tmp/root/bin/python$ver" ||
        die "the unpacked CPython $ver ($debver) does not work (see above)"

    # Into place: a broken older install goes first.
    if [ -e "$dest" ]; then
        mv "$dest" "$tmp/old"
    fi
    mv -T "$tmp/root" "$dest"
    rm -rf "$tmp"
    note "CPython $ver ($debver) ready in $dest in $(( $(date +%s) - t0 ))s"
}

if [ -x "$py" ] && check "$py" 2>/dev/null; then
    :
else
    [ ! -e "$dest" ] || note "the cached CPython $ver in $dest does not work; fetching it again"
    install_python
fi

# --- the venv ------------------------------------------------------------------------------

# pip_wheel -> prints the cached pip wheel, downloading it from PyPI the first time
# with whichever Python here has pip.
pip_wheel() {
    local whl cand root
    whl="$(ls "$cache"/wheels/pip-*.whl 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$whl" ]; then echo "$whl"; return; fi
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for cand in python3 /usr/bin/python3 \
                $(ls -d "$root"/versions/3.*/bin/python3 2>/dev/null | sort -rV); do
        "$cand" -m pip --version >/dev/null 2>&1 || continue
        mkdir -p "$cache/wheels"
        tmp="$(mktemp -d "$cache/.tmp-wheels.XXXXXX")"
        if "$cand" -m pip download -q --no-deps --only-binary=:all: --python-version "$ver" \
                -d "$tmp" pip >"$tmp/log" 2>&1; then
            mv "$tmp"/pip-*.whl "$cache/wheels/"
            rm -rf "$tmp"
            ls "$cache"/wheels/pip-*.whl | sort -V | tail -n 1
            return
        fi
        echo "$prog: error: downloading the pip wheel with $cand failed:" >&2
        sed 's/^/    /' "$tmp/log" | tail -n 10 >&2
        rm -rf "$tmp"
        exit 1
    done
    die "no Python with pip here to download the pip wheel; put a pip-*.whl in $cache/wheels"
}

if [ -n "$venv" ]; then
    home="$(dirname "$py")"
    if [ -x "$venv/bin/python" ] && grep -qx "home = $home" "$venv/pyvenv.cfg" 2>/dev/null &&
       "$venv/bin/python" -c 'import pip' 2>/dev/null; then
        :   # already a working venv of this interpreter
    else
        if [ -e "$venv" ] && [ ! -e "$venv/pyvenv.cfg" ] && [ -n "$(ls -A "$venv")" ]; then
            die "$venv exists and is not a venv: not touching it"
        fi
        whl="$(pip_wheel)"
        "$py" -m venv --clear --without-pip "$venv" || die "python$ver -m venv $venv failed"
        # A wheel is a zip that Python can run: pip installs itself from it.
        "$venv/bin/python" "$whl/pip" install -q --no-index "$whl" ||
            die "installing pip into $venv from $whl failed"
    fi
fi

echo "$py"
