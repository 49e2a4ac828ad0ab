"""Dominators and retained sizes against networkx, an independent implementation.

Each generated graph is written as a small dump in our format, loaded, and
``om.compute_dominators()`` is compared with ``networkx.immediate_dominators``
from a super-root built with the rule of docs/format.md "Roots": the header's
root markers, every object with no incoming reference (in-degree 0; an
object that refers only to itself is not a root), and then, while some
object is still unreached, the unreached object that comes first in the file.
"""
from __future__ import annotations

import json
import random
from typing import Dict, List, Optional, Tuple

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meliae import loader

SUPER = "super-root"


def write_dump(order: List[int], sizes: Dict[int, int], edges: Dict[int, List[int]],
               roots: List[int]) -> List[str]:
    header = {"meliae": "dump", "format": "meliae-dump", "version": [2, 0],
              "python": "3.11.7", "implementation": "CPython", "pointer_size": 8,
              "gc_head_size": 16, "pid": 1, "time": 0.0, "argv": [],
              "entry": "dump_all_objects", "value_limit": 100, "values": True,
              "roots": [{"kind": "other", "name": "r%d" % r, "address": r} for r in roots]}
    lines = [json.dumps(header)]
    for a in order:
        lines.append(json.dumps({"address": a, "type": "T", "size": sizes[a],
                                 "refs": edges.get(a, [])}))
    lines.append(json.dumps({"meliae": "end", "objects": len(order), "complete": True}))
    return lines


def reference(order: List[int], sizes: Dict[int, int], edges: Dict[int, List[int]],
              roots: List[int]) -> Tuple[Dict[int, Optional[int]], Dict[int, int]]:
    """idom (None = super-root) and retained size of every node, by networkx."""
    g = nx.DiGraph()
    g.add_node(SUPER)
    nodes = list(order)
    for a in order:
        for b in edges.get(a, []):
            if b not in sizes and b not in nodes:
                nodes.append(b)  # dangling: a node of size 0
    g.add_nodes_from(nodes)
    for a in order:
        for b in edges.get(a, []):
            g.add_edge(a, b)
    for r in roots:
        g.add_edge(SUPER, r)
    for a in order:
        # nothing else in the dump refers to it (a self-reference does not count)
        if not set(g.predecessors(a)) - {a, SUPER}:
            g.add_edge(SUPER, a)
    position = {a: k for k, a in enumerate(nodes)}
    while True:
        reached = nx.descendants(g, SUPER)
        left = [a for a in nodes if a not in reached]
        if not left:
            break
        g.add_edge(SUPER, min(left, key=position.__getitem__))
    idom = nx.immediate_dominators(g, SUPER)
    retained = {a: sizes.get(a, 0) for a in nodes}
    # add each node's size to all its dominators
    for a in nodes:
        d = idom[a]
        while d != SUPER:
            retained[d] += sizes.get(a, 0)
            d = idom[d]
    return {a: (None if idom[a] == SUPER else idom[a]) for a in nodes}, retained


def check(order: List[int], sizes: Dict[int, int], edges: Dict[int, List[int]],
          roots: List[int]) -> None:
    om = loader.load(write_dump(order, sizes, edges, roots), show_prog=False, collapse=False)
    om.compute_dominators()
    want_idom, want_retained = reference(order, sizes, edges, roots)
    g = om._g
    got_idom = {}
    got_retained = {}
    for i in range(g.count() + g.missing()):
        a = g.address(i)
        d = g.idom(i)
        got_idom[a] = None if d is None else g.address(d)
        got_retained[a] = g.retained(i)
    assert got_idom == want_idom
    assert got_retained == want_retained
    # the public proxy API agrees with the binding
    for a in order:
        obj = om[a]
        assert obj.retained_size == want_retained[a]
        assert (obj.idom.address if obj.idom is not None else None) == want_idom[a]


@st.composite
def graphs(draw):
    n = draw(st.integers(min_value=1, max_value=24))
    addresses = [1000 + 16 * k for k in range(n)]
    dangling = [9000 + 16 * k for k in range(draw(st.integers(0, 2)))]
    sizes = {a: draw(st.integers(0, 500)) for a in addresses}
    edges = {}
    for a in addresses:
        edges[a] = draw(st.lists(st.sampled_from(addresses + dangling), max_size=4))
    order = draw(st.permutations(addresses))
    roots = draw(st.lists(st.sampled_from(addresses), max_size=2, unique=True))
    return list(order), sizes, edges, roots


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_dominators_match_networkx(case) -> None:
    check(*case)


def test_cycle_hanging_from_nothing() -> None:
    # 1 -> 2 -> 3 -> 1 and 4 -> 3: 4 is the only root and the only way into
    # the cycle, so 4 dominates 3, 3 dominates 1 and 1 dominates 2.
    order = [1, 2, 3, 4]
    sizes = {1: 10, 2: 20, 3: 30, 4: 40}
    edges = {1: [2], 2: [3], 3: [1], 4: [3]}
    check(order, sizes, edges, [])
    # without 4, the cycle hangs from nothing: the first object in the file
    # (2, written first) is attached to the super-root
    check([2, 1, 3], {1: 10, 2: 20, 3: 30}, {1: [2], 2: [3], 3: [1]}, [])


def test_diamond_and_header_root() -> None:
    # r -> a, r -> b, a -> c, b -> c: c is dominated by r only
    order = [1, 2, 3, 4]
    edges = {1: [2, 3], 2: [4], 3: [4]}
    check(order, {1: 1, 2: 2, 3: 4, 4: 8}, edges, [])
    # a header root that something else also references
    check(order, {1: 1, 2: 2, 3: 4, 4: 8}, edges, [4])


@pytest.mark.parametrize("seed", range(5))
def test_larger_random_graphs(seed: int) -> None:
    rng = random.Random(seed)
    n = 400
    addresses = [5000 + 8 * k for k in range(n)]
    sizes = {a: rng.randrange(1, 200) for a in addresses}
    edges = {a: [rng.choice(addresses) for _ in range(rng.randrange(0, 4))]
             for a in addresses}
    roots = rng.sample(addresses, 3)
    check(addresses, sizes, edges, roots)
