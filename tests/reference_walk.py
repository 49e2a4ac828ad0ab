"""A slow, pure-Python reference heap walk, used to cross-check the scanner.

It knows nothing of the scanner's C code: it closes over ``gc.get_referents``
plus the references ``gc.get_referents`` is known to miss (dict keys, each
object's type).  Its own bookkeeping objects are created before
``gc.get_objects()`` is taken and are never walked, so they do not show up.
"""
from __future__ import annotations

import gc
import sys
from typing import Any, Dict, Iterable, List, Set


def referents(o: Any) -> List[Any]:
    """The references of *o* as the reference understands them."""
    out = list(gc.get_referents(o))
    if isinstance(o, dict):
        out.extend(dict.keys(o))
    return out


def reachable_ids(roots: Iterable[Any], with_types: bool = False) -> Set[int]:
    """ids of everything reachable from *roots* (roots included)."""
    seen: Dict[int, Any] = {}
    stack: List[Any] = []
    own = {id(seen), id(stack)}
    for r in roots:
        if id(r) not in seen:
            seen[id(r)] = None
            stack.append(r)
    while stack:
        o = stack.pop()
        nxt = referents(o)
        if with_types:
            nxt.append(type(o))
        for c in nxt:
            i = id(c)
            if i not in seen and i not in own:
                seen[i] = None
                stack.append(c)
    return set(seen)


def full_heap_ids(exclude: Iterable[Any] = (), tracked: Any = None) -> Set[int]:
    """The reference full-heap set: the tracked objects (*tracked*, a list
    taken earlier with gc.get_objects(), or a fresh gc.get_objects()) plus
    the interpreter roots, closed over referents and types.  The lists,
    this function's frame and the objects in *exclude* (and what only they
    reach) are left out."""
    seen: Dict[int, Any] = {}
    stack: List[Any] = []
    own = {id(seen), id(stack)}
    own.update(id(x) for x in exclude)
    own.add(id(exclude))
    objs = gc.get_objects() if tracked is None else list(tracked)
    own.add(id(objs))
    if tracked is not None:
        own.add(id(tracked))
    own.add(id(sys._getframe()))
    roots = [sys.modules, vars(sys), sys.modules["builtins"].__dict__]
    own.add(id(roots))
    for r in roots + objs:
        if id(r) not in seen and id(r) not in own:
            seen[id(r)] = None
            stack.append(r)
    while stack:
        o = stack.pop()
        nxt = referents(o)
        nxt.append(type(o))
        for c in nxt:
            i = id(c)
            if i not in seen and i not in own:
                seen[i] = None
                stack.append(c)
    objs.clear()
    return set(seen)
