"""meliae (this project): the C scanner and the C analysis engine."""
from __future__ import annotations

import time
from typing import Any, Dict

NAME = "meliae"


def prepare() -> None:
    """Import the scanner and loader so import cost stays out of the timing."""
    global scanner, loader
    from meliae import scanner  # noqa: F401
    try:
        from meliae import loader  # noqa: F401
    except ImportError:
        loader = None


def capture(path: str) -> Dict[str, Any]:
    """``scanner.dump_all_objects(path)``; the count is read from the trailer."""
    scanner.dump_all_objects(path)
    return {"seen": _trailer_objects(path)}


def _trailer_objects(path: str) -> Any:
    import json
    import os

    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - 4096))
        tail = f.read().splitlines()
    for line in reversed(tail):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("meliae") == "end":
            return rec.get("objects")
    return None


def analyze(path: str) -> Dict[str, Any]:
    """``load`` + ``summarize`` + ``compute_parents`` + ``compute_dominators``."""
    if loader is None:
        raise ImportError("meliae.loader is not available")
    stages: Dict[str, float] = {}
    t0 = time.perf_counter()
    om = loader.load(path, show_prog=False)
    t1 = time.perf_counter()
    stages["load"] = t1 - t0
    om.summarize()
    t2 = time.perf_counter()
    stages["summarize"] = t2 - t1
    om.compute_parents()
    t3 = time.perf_counter()
    stages["parents"] = t3 - t2
    om.compute_dominators()
    t4 = time.perf_counter()
    stages["dominators"] = t4 - t3
    try:
        seen = len(om)
    except TypeError:
        seen = None
    return {"seen": seen, "stages": stages}
