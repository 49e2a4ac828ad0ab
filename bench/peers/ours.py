"""meliae (this project): the C scanner and the C analysis engine."""
from __future__ import annotations

import time
from typing import Any, Dict, List

NAME = "meliae"


def prepare() -> None:
    """Import the scanner and loader so import cost stays out of the timing.

    Either half may be missing while the other is measured: a missing one
    raises at its own call.
    """
    global scanner, loader
    try:
        from meliae import scanner  # noqa: F401
    except ImportError as e:
        scanner = e
    try:
        from meliae import loader  # noqa: F401
    except ImportError as e:
        loader = e


def capture(path: str) -> Dict[str, Any]:
    """``scanner.dump_all_objects(path)``; the count is read from the trailer."""
    if isinstance(scanner, Exception):
        raise scanner
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


def _sample_addresses(om: Any, k: int) -> List[int]:
    """Up to k addresses of live objects spread over the graph."""
    g = om._g
    n = g.count()
    out: List[int] = []
    step = max(1, n // (k * 4 + 1))
    i = n // 3
    tries = 0
    while len(out) < k and tries < 4 * k + 20:
        i = (i + step) % max(1, n)
        tries += 1
        addr = g.address(i)
        if addr in om.objs:
            out.append(addr)
    return out


def analyze(path: str) -> Dict[str, Any]:
    """Parse, collapse + parents, summarize, dominators, then path queries.

    ``load(path)`` with its defaults is the first two stages; they are timed
    apart (``load(collapse=False)`` then ``collapse_instance_dicts()`` and
    ``compute_parents()``, which is what ``load`` does).  Also reported: the
    graph's own memory after parents (steady state), the dominator stage's
    extra peak, and path query times after the first BFS.
    """
    from common import StageProbe

    if isinstance(loader, Exception):
        raise loader
    sp = StageProbe()
    out: Dict[str, Any] = {}
    sp.stage("parse")
    om = loader.load(path, show_prog=False, collapse=False)
    sp.stage("collapse+parents")
    om.collapse_instance_dicts()
    if not om._g.has_parents():
        om.compute_parents()
    sp.stage("summarize")
    om.summarize()
    sp.done()
    try:
        out["graph_bytes"] = om._g.memory()
    except AttributeError:
        pass
    sp.stage("dominators")
    om.compute_dominators()
    sp.done()
    out["dominators_extra_peak"] = sp.extra["dominators"]
    out["seen"] = len(om.objs)
    addrs = _sample_addresses(om, 6)
    if addrs:
        t0 = time.perf_counter()
        om.path_to(addrs[0])
        out["first_path_query_seconds"] = time.perf_counter() - t0
        times = []
        for a in addrs[1:]:
            t0 = time.perf_counter()
            om.path_to(a)
            times.append(time.perf_counter() - t0)
        if times:
            times.sort()
            out["path_query_seconds"] = times[len(times) // 2]
    out["stages"] = sp.seconds
    out["stage_extra_peak"] = sp.extra
    return out
