"""Pure-Python baselines: what a user writes with the standard library alone.

Capture: walk from ``gc.get_objects()`` through ``gc.get_referents`` (plus dict
keys, which CPython 3 does not traverse for str-keyed dicts) with an ``id()``
seen-set and write one ``json.dumps`` line per object in the classic Meliae
line shape (address, type, size, len, value, refs).

Analysis: read the dump one ``json.loads`` per line into a dict keyed by
address, then a type histogram and a parents map.  There is no pure-Python
dominator pass: on a million objects it would run for hours.
"""
from __future__ import annotations

import gc
import json
import sys
from typing import Any, Dict, List, Tuple

NAME = "pure-Python"


def prepare() -> None:
    """Nothing to import."""


def _referents(obj: Any) -> List[Any]:
    refs = gc.get_referents(obj)
    if type(obj) is dict:
        refs = list(obj.keys()) + refs
    return refs


def capture(path: str) -> Dict[str, Any]:
    """Dump every reachable object to ``path``; returns the object count."""
    seen = set()
    stack = gc.get_objects()
    # The walk's own bookkeeping is reachable from this frame: leave it out.
    seen.add(id(seen))
    seen.add(id(stack))
    written = 0
    getsizeof = sys.getsizeof
    dumps = json.dumps
    with open(path, "w", buffering=1 << 20) as out:
        while stack:
            obj = stack.pop()
            k = id(obj)
            if k in seen:
                continue
            seen.add(k)
            refs = _referents(obj)
            try:
                size = getsizeof(obj)
            except Exception:
                size = 0
            rec: Dict[str, Any] = {"address": k, "type": type(obj).__name__, "size": size}
            if isinstance(obj, (str, bytes)):
                rec["len"] = len(obj)
                rec["value"] = obj[:100] if isinstance(obj, str) else obj[:100].decode("latin-1")
            elif isinstance(obj, (list, tuple, dict, set, frozenset)):
                rec["len"] = len(obj)
            rec["refs"] = [id(r) for r in refs]
            out.write(dumps(rec))
            out.write("\n")
            written += 1
            stack.extend(refs)
    del stack, seen
    return {"seen": written}


def analyze(path: str) -> Dict[str, Any]:
    """Load ``path``, build a type histogram and parents; time each stage."""
    import time

    stages: Dict[str, float] = {}
    t0 = time.perf_counter()
    objs: Dict[int, Tuple[str, int, List[int]]] = {}
    loads = json.loads
    with open(path, "rb") as f:
        for line in f:
            if line[:1] in (b"[", b"]"):
                continue
            if line.endswith(b",\n"):
                line = line[:-2]
            rec = loads(line)
            addr = rec.get("address")
            if addr is None:
                continue  # header or trailer
            if addr not in objs:
                objs[addr] = (rec["type"], rec["size"], rec["refs"])
    t1 = time.perf_counter()
    stages["load"] = t1 - t0
    hist: Dict[str, List[int]] = {}
    for typ, size, _refs in objs.values():
        h = hist.get(typ)
        if h is None:
            hist[typ] = [1, size]
        else:
            h[0] += 1
            h[1] += size
    t2 = time.perf_counter()
    stages["summarize"] = t2 - t1
    parents: Dict[int, List[int]] = {}
    for addr, (_t, _s, refs) in objs.items():
        for r in refs:
            p = parents.get(r)
            if p is None:
                parents[r] = [addr]
            else:
                p.append(addr)
    t3 = time.perf_counter()
    stages["parents"] = t3 - t2
    return {"seen": len(objs), "stages": stages, "types": len(hist)}
