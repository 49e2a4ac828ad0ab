"""Workload programs for the benchmark suite: heaps of known shape and size.

Each workload builds a heap of about ``n`` new objects and returns a
:class:`Heap` holding its root (keep it alive while measuring) and the exact
number of objects it created.  The count is computed from the shape, not
measured, and :func:`count_new_objects` checks it by walking the heap.

Objects counted are the ones the workload itself allocates: instances, their
``__dict__`` where CPython materialises one (3.10 and older), strings, ints
outside the small-int cache, floats, tuples, lists and dicts.  Type objects,
small ints, ``None`` and other interpreter singletons are shared with the rest
of the process and are not counted.

This module runs on every Python the suite uses (3.8 for the classic Meliae up
to 3.13), so it sticks to syntax 3.8 understands.
"""
from __future__ import annotations

import gc
import sys
from typing import Any, Callable, Dict, List, NamedTuple, Tuple

# CPython 3.11+ stores instance attributes in managed values: no dict object
# exists until someone asks for __dict__.  3.10 and older make one per instance.
_INSTANCE_DICT = 0 if sys.version_info >= (3, 11) else 1


class Heap(NamedTuple):
    """A built workload: ``root`` keeps it alive, ``objects`` is its size."""

    root: Any
    objects: int


class Item:
    """A small record with three attributes (the "many small instances" case)."""

    def __init__(self, ident: int, name: str, price: float) -> None:
        self.ident = ident
        self.name = name
        self.price = price


class Node:
    """One cell of a singly linked list, with slots (no per-instance dict)."""

    __slots__ = ("value", "next")

    def __init__(self, value: int, nxt: "Node | None") -> None:
        self.value = value
        self.next = nxt


class User:
    """A web-app user record: ids, text fields, a tag list and a profile dict."""

    def __init__(self, ident: int, name: str, email: str, tags: List[str],
                 profile: Dict[str, Any]) -> None:
        self.ident = ident
        self.name = name
        self.email = email
        self.tags = tags
        self.profile = profile


def instances(n: int) -> Heap:
    """Many small instances: per unit an Item, its int, str and float.

    Per unit: the instance (+ its dict before 3.11), one int > 256, one str,
    one float.  Fixed: the list holding them.
    """
    per = 4 + _INSTANCE_DICT
    units = max(1, n // per)
    items = [Item(i + 1000, "item-%d" % i, i * 0.5 + 0.25) for i in range(units)]
    return Heap(items, units * per + 1)


def dict_str(n: int) -> Heap:
    """One big dict mapping str keys to str values (two objects per entry)."""
    units = max(1, n // 2)
    d = {"key-%d" % i: "value-%d-%s" % (i, "x" * (i % 17)) for i in range(units)}
    return Heap(d, units * 2 + 1)


def tuples(n: int) -> Heap:
    """A list of (int, str, float) tuples: four objects per entry."""
    units = max(1, n // 4)
    rows = [(i + 1000, "row-%d" % i, i / 3.0 + 0.1) for i in range(units)]
    return Heap(rows, units * 4 + 1)


def linked(n: int) -> Heap:
    """One linked list ``n/2`` cells deep (a slots Node and an int per cell).

    The chain is as deep as it is long, so any tool that recurses along
    references meets a path of ``n/2`` edges.
    """
    units = max(1, n // 2)
    head = None
    for i in range(units):
        head = Node(i + 1000, head)
    # The holder list keeps exactly one reference to the head.
    return Heap([head], units * 2 + 1)


_TAG_POOL = 10


def webapp(n: int) -> Heap:
    """A web-application-like mix: users, a session table, a request log.

    Per unit:
    - a User (+ its dict before 3.11) with an int id, a name str, an email str,
      a tags list (two strs from a shared pool of ten) and a profile dict
      holding a float score and a shared city str: 7 objects;
    - a session token str mapping to that user: 1 object;
    - a request-log tuple (float time, path str, status 200): 3 objects.
    Fixed: the tag pool (list + 10 str), the city str, the users list, the
    session dict, the log list and the root dict: 16 objects.
    """
    per = 11 + _INSTANCE_DICT
    fixed = 16
    units = max(1, (n - fixed) // per)
    pool = ["tag-%d" % k for k in range(_TAG_POOL)]
    city = "-".join(["city", "springfield"])
    users = []
    sessions: Dict[str, User] = {}
    log: List[Tuple[float, str, int]] = []
    for i in range(units):
        u = User(i + 1000, "user-%d" % i, "user%d@example.org" % i,
                 [pool[i % _TAG_POOL], pool[(i * 7) % _TAG_POOL]],
                 {"score": i * 0.01 + 0.5, "city": city})
        users.append(u)
        sessions["sess-%08x" % i] = u
        log.append((1.7e9 + i * 0.001, "/api/users/%d" % i, 200))
    root = {"users": users, "sessions": sessions, "log": log, "pool": pool,
            "city": city}
    return Heap(root, units * per + fixed)


WORKLOADS: Dict[str, Callable[[int], Heap]] = {
    "instances": instances,
    "dict_str": dict_str,
    "tuples": tuples,
    "linked": linked,
    "webapp": webapp,
}


def build(name: str, n: int) -> Heap:
    """Build workload ``name`` with about ``n`` objects (see WORKLOADS)."""
    try:
        fn = WORKLOADS[name]
    except KeyError:
        raise ValueError("unknown workload %r (known: %s)"
                         % (name, ", ".join(sorted(WORKLOADS)))) from None
    return fn(n)


def _referents(obj: Any) -> List[Any]:
    """``gc.get_referents`` plus dict keys, which CPython 3 does not traverse
    when every key is a str."""
    refs = gc.get_referents(obj)
    if type(obj) is dict:
        refs.extend(obj.keys())
    return refs


def count_new_objects(root: Any, before: Dict[int, Any]) -> int:
    """Count objects reachable from ``root`` that are not in ``before``.

    ``before`` maps id to object for everything that existed before the
    build (see :func:`existing_objects`; it holds them, so no id is reused);
    type objects are never followed.  Iterative: the linked workload is far
    deeper than the recursion limit.
    """
    seen = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        k = id(obj)
        if k in seen or k in before or isinstance(obj, type):
            continue
        seen.add(k)
        stack.extend(_referents(obj))
    return len(seen)


def existing_objects() -> Dict[int, Any]:
    """Every object reachable from the GC-tracked objects right now, by id."""
    found: Dict[int, Any] = {}
    stack = list(gc.get_objects())
    while stack:
        obj = stack.pop()
        k = id(obj)
        if k in found:
            continue
        found[k] = obj
        stack.extend(_referents(obj))
    return found


def _self_check(n: int) -> int:
    """Build every workload at size ``n`` and compare its count with a walk."""
    bad = 0
    for name in sorted(WORKLOADS):
        before = existing_objects()
        heap = build(name, n)
        walked = count_new_objects(heap.root, before)
        ok = walked == heap.objects
        bad += not ok
        print("%-10s declared %8d walked %8d %s"
              % (name, heap.objects, walked, "ok" if ok else "MISMATCH"))
        del heap, before
    return bad


if __name__ == "__main__":
    sys.exit(1 if _self_check(int(sys.argv[1]) if len(sys.argv) > 1 else 20000) else 0)
