"""The classic Meliae 0.5.x (PyPI sdist), in its own virtualenv.

Capture: ``scanner.dump_all_objects(path)``.  On Python 3 it writes each
record with several unbuffered write(2) calls, which is most of its cost.

Analysis: ``loader.load(path, show_prog=False)`` (parse, collapse instance
dicts, parents capped at 100) then ``summarize()``.  Its summary's repr
raises on Python 3, so it is built and not printed.  It has no dominators.
"""
from __future__ import annotations

import time
from typing import Any, Dict

NAME = "classic Meliae"


def prepare() -> None:
    """Import the classic scanner and loader."""
    global scanner, loader
    from meliae import scanner, loader  # noqa: F401


def capture(path: str) -> Dict[str, Any]:
    """``scanner.dump_all_objects(path)``; the count is the file's lines."""
    from common import count_lines

    scanner.dump_all_objects(path)
    return {"seen": count_lines(path)}


def analyze(path: str) -> Dict[str, Any]:
    """``loader.load`` (with its default collapse and parents) + ``summarize``."""
    stages: Dict[str, float] = {}
    t0 = time.perf_counter()
    om = loader.load(path, show_prog=False)
    t1 = time.perf_counter()
    stages["load"] = t1 - t0
    om.summarize()
    t2 = time.perf_counter()
    stages["summarize"] = t2 - t1
    return {"seen": len(om.objs), "stages": stages}
