"""Build the two C extensions.  The engine sources are every .c file in
src/libmeliae/ (the one list both this file and the Makefile read).

Environment knobs: MELIAE_WERROR=1 (warnings are errors), MELIAE_CFLAGS and
MELIAE_LDFLAGS (extra flags, e.g. sanitizers), MELIAE_NO_ZSTD=1."""
import glob
import os
import sys

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
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
