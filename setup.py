"""Build the two C extensions.  The engine sources are every .c file in
src/libmeliae/ (the one list both this file and the Makefile read).

Environment knobs: MELIAE_WERROR=1 (warnings are errors), MELIAE_CFLAGS and
MELIAE_LDFLAGS (extra flags, e.g. sanitizers), MELIAE_NO_ZSTD=1.

On a CPython that meliae does not support (src/meliae/_version.py: 3.10 to 3.15,
not free-threaded) it stops at once with one line saying so."""
import glob
import os
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))


def unsupported_python():
    """The one line src/meliae/_version.py gives for this interpreter, or None.  The
    file is run, not imported: importing the package would load what is not built."""
    path = os.path.join(HERE, "src", "meliae", "_version.py")
    names = {}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), names)
    return names["check"](sys.version_info, bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
                          sys.implementation.name)


# Refused before setuptools is even imported: one line, whatever is installed.
_unsupported = unsupported_python()
if _unsupported:
    raise SystemExit(_unsupported)

from setuptools import Extension, setup  # noqa: E402

ENGINE = sorted(
    os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "src", "libmeliae", "*.c"))
)


def have_header(name: str) -> bool:
    for d in ("/usr/include", "/usr/local/include", sys.prefix + "/include"):
        if os.path.exists(os.path.join(d, name)):
            return True
    return False


macros = [("MEL_STATIC_BUILD", "1")]
libs = ["z"]
if have_header("zstd.h") and os.environ.get("MELIAE_NO_ZSTD") != "1":
    macros.append(("MEL_HAVE_ZSTD", "1"))
    libs.append("zstd")

cflags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-fvisibility=hidden"]
if os.environ.get("MELIAE_WERROR") == "1":
    cflags.append("-Werror")
extra = os.environ.get("MELIAE_CFLAGS")
if extra:
    cflags += extra.split()

ldflags = os.environ.get("MELIAE_LDFLAGS", "").split()

common = dict(
    include_dirs=["src/libmeliae"],
    define_macros=macros,
    libraries=libs,
    extra_compile_args=cflags,
    extra_link_args=ldflags,
)

setup(
    ext_modules=[
        Extension(
            "meliae._scanner",
            sources=sorted(glob.glob("src/meliae/_scanner*.c")) + ENGINE,
            **common,
        ),
        Extension("meliae._engine", sources=["src/meliae/_engine.c"] + ENGINE, **common),
    ]
)
