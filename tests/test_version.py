"""Which CPython meliae accepts: ``meliae._version.check`` and its two users.

``check`` is tested directly on many versions; then the same line must come out of
``import meliae`` (in a child whose ``sys.version_info`` or ABI flags are replaced
before the import) and out of ``setup.py`` (on pyenv's real 3.8 and 3.9 when they
are there, and on this interpreter with a replaced version).
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import sysconfig
from typing import Optional

import pytest

from meliae import _version

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = os.path.join(REPO, "setup.py")
RANGE = "meliae supports CPython 3.10 to 3.15"


@pytest.mark.parametrize("version", [
    (3, 10, 0, "final", 0), (3, 10, 13, "final", 0), (3, 11, 7, "final", 0),
    (3, 12, 1, "final", 0), (3, 13, 0, "final", 0), (3, 14, 10, "final", 0),
    (3, 15, 0, "alpha", 1), (3, 15, 2, "final", 0),
])
def test_supported_versions(version: tuple) -> None:
    assert _version.check(version, False) is None
    assert _version.check(version, False, "cpython") is None


@pytest.mark.parametrize("version, spelled", [
    ((3, 9, 18, "final", 0), "3.9.18"),
    ((3, 8, 18, "final", 0), "3.8.18"),
    ((2, 7, 18, "final", 0), "2.7.18"),
    ((3, 16, 0, "alpha", 1), "3.16.0a1"),
    ((3, 16, 0, "candidate", 2), "3.16.0rc2"),
    ((3, 16, 1, "final", 0), "3.16.1"),
    ((4, 0, 0, "final", 0), "4.0.0"),
])
def test_unsupported_versions(version: tuple, spelled: str) -> None:
    assert _version.check(version, False) == f"{RANGE}; this is CPython {spelled}"
    # Out of range is the reason given, free-threaded or not.
    assert _version.check(version, True) == f"{RANGE}; this is CPython {spelled}"


def test_free_threaded_build_is_refused() -> None:
    assert _version.check((3, 14, 10, "final", 0), True) == \
        f"{RANGE} with the GIL; this is a free-threaded CPython 3.14.10"
    assert _version.check((3, 13, 0, "final", 0), True) == \
        f"{RANGE} with the GIL; this is a free-threaded CPython 3.13.0"


def test_other_implementation_is_refused() -> None:
    assert _version.check((3, 11, 9, "final", 0), False, "pypy") == \
        f"{RANGE}; this is pypy 3.11.9"


def test_sys_version_info_itself_is_accepted() -> None:
    """The running interpreter passed the check at import; the real
    ``sys.version_info`` (a struct sequence, not a tuple) is read the same way."""
    assert _version.check(sys.version_info, False) is None


def test_gil_disabled_agrees_with_sysconfig() -> None:
    assert _version.gil_disabled() == bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def _import_meliae_with(patch: str) -> subprocess.CompletedProcess:
    """``import meliae`` in a child after running ``patch`` there."""
    code = "import importlib, typing, sys\n" + patch + "\nimport meliae\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("patch, line", [
    ("sys.version_info = (3, 9, 18, 'final', 0)",
     f"ImportError: {RANGE}; this is CPython 3.9.18"),
    ("sys.version_info = (3, 16, 0, 'beta', 3)",
     f"ImportError: {RANGE}; this is CPython 3.16.0b3"),
    ("sys.abiflags = 't'",
     "ImportError: %s with the GIL; this is a free-threaded CPython %d.%d.%d" % (
         (RANGE,) + tuple(sys.version_info[:3]))),
])
def test_import_on_unsupported_python_says_so(patch: str, line: str) -> None:
    if patch.startswith("sys.abiflags") and not hasattr(sys, "abiflags"):
        pytest.skip("this interpreter has no ABI flags")
    proc = _import_meliae_with(patch)
    assert proc.returncode != 0
    assert proc.stderr.rstrip().splitlines()[-1] == line, proc.stderr


def test_import_on_this_python_works() -> None:
    proc = _import_meliae_with("")
    assert proc.returncode == 0, proc.stderr


def _need_setup() -> None:
    if not os.path.exists(SETUP):
        pytest.skip("setup.py is not beside the tests (installed tests only)")


def _pyenv_python(minor: str) -> Optional[str]:
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(os.path.join(root, "versions", minor + ".*", "bin", "python3")),
                   key=lambda p: [int(x) for x in p.split(os.sep)[-3].split(".") if x.isdigit()])
    return found[-1] if found else None


@pytest.mark.parametrize("minor", ["3.8", "3.9"])
def test_setup_py_on_old_python_fails_with_one_line(minor: str) -> None:
    _need_setup()
    py = _pyenv_python(minor)
    if py is None:
        pytest.skip(f"no pyenv CPython {minor} here")
    full = subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    proc = subprocess.run([py, SETUP, "build_ext"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert proc.stderr == f"{RANGE}; this is CPython {full}\n"


@pytest.mark.parametrize("patch, line", [
    ("sys.version_info = (3, 16, 0, 'final', 0)", f"{RANGE}; this is CPython 3.16.0"),
    ("sys.version_info = (3, 9, 1, 'final', 0)", f"{RANGE}; this is CPython 3.9.1"),
    ("import sysconfig\n"
     "_get = sysconfig.get_config_var\n"
     "sysconfig.get_config_var = lambda name: 1 if name == 'Py_GIL_DISABLED' else _get(name)",
     "%s with the GIL; this is a free-threaded CPython %d.%d.%d" % (
         (RANGE,) + tuple(sys.version_info[:3]))),
])
def test_setup_py_on_unsupported_python_fails_with_one_line(patch: str, line: str) -> None:
    """setup.py run (as ``python setup.py --name``) under a replaced version or a
    build that claims to be free-threaded stops before setuptools with the line."""
    _need_setup()
    code = ("import runpy, sys\n" + patch + "\n"
            "sys.argv = [%r, '--name']\n"
            "runpy.run_path(%r, run_name='__main__')\n" % (SETUP, SETUP))
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert proc.stderr == line + "\n"
