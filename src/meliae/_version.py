"""Which CPython meliae runs on: checked when it is built and when it is imported.

The scanner reads each CPython version's object layout, so a version it does not
know (or a free-threaded build, whose object header differs) must be refused with
one clear line, not a compiler error or a wrong dump.  ``setup.py`` runs this file
without importing the package, so it stays plain Python that any CPython 3 can
parse, with no module-level imports.
"""

# The oldest and the newest (major, minor) supported.
OLDEST = (3, 10)
NEWEST = (3, 15)

_LEVELS = {"alpha": "a", "beta": "b", "candidate": "rc"}


def _spell(version_info):
    """``3.9.18`` or ``3.16.0a1`` from a ``sys.version_info``-like tuple."""
    text = ".".join(str(n) for n in tuple(version_info)[:3])
    if len(version_info) >= 5 and version_info[3] in _LEVELS:
        text += "%s%s" % (_LEVELS[version_info[3]], version_info[4])
    return text


def check(version_info, gil_disabled, implementation="cpython"):
    """Returns None when meliae supports this interpreter, else the one line that
    says why not: ``version_info`` is a ``sys.version_info``-like tuple,
    ``gil_disabled`` whether it is a free-threaded build (``Py_GIL_DISABLED``),
    ``implementation`` ``sys.implementation.name``."""
    supported = "meliae supports CPython %d.%d to %d.%d" % (OLDEST + NEWEST)
    version = _spell(version_info)
    if implementation != "cpython":
        return "%s; this is %s %s" % (supported, implementation, version)
    if not OLDEST <= tuple(version_info)[:2] <= NEWEST:
        return "%s; this is CPython %s" % (supported, version)
    if gil_disabled:
        return "%s with the GIL; this is a free-threaded CPython %s" % (supported, version)
    return None


def gil_disabled():
    """True on a free-threaded build of this interpreter.  Its ABI flags carry a
    ``t`` exactly when ``Py_GIL_DISABLED`` is set; reading them spares importing
    sysconfig, which matters for ``import meliae`` (where there are no ABI flags,
    sysconfig answers)."""
    import sys

    abiflags = getattr(sys, "abiflags", None)
    if abiflags is not None:
        return "t" in abiflags
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
