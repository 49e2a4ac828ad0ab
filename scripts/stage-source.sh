#!/usr/bin/env bash
# Copies what building the package needs (setup.py, pyproject.toml, README.md,
# src/) into a fresh folder DEST, and prints DEST.  pip builds a local folder in
# place, in its build/ subfolder, and setuptools keeps an extension it finds
# newer than its sources: builds with different flags (plain, sanitized, debug
# CPython) from one tree would pick up each other's objects.  Each build
# installs from its own staged copy instead.
# Usage: bash scripts/stage-source.sh DEST
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:?usage: stage-source.sh DEST}"
rm -rf "$dest"
mkdir -p "$dest"
cp -r setup.py pyproject.toml README.md src "$dest"/
rm -rf "$dest"/src/*.egg-info
find "$dest/src" \( -name '*.so' -o -name '__pycache__' \) -prune -exec rm -rf {} +
echo "$dest"
