"""meliae.scanner: the classic API, the walk's coverage, the format of what it
writes and its robustness.  Cross-checks use tests/reference_walk.py (a
pure-Python walk) and Python's json module."""
from __future__ import annotations

import collections
import errno
import gc
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from typing import Any, Dict, List

import pytest

from conftest import read_dump
from meliae import scanner
import reference_walk

HERE = os.path.dirname(os.path.abspath(__file__))


def dump_referenced(obj: Any, **kw: Any) -> List[Dict[str, Any]]:
    """Dumps obj with dump_all_referenced into memory; returns object lines."""
    buf = io.BytesIO()
    scanner.dump_all_referenced(buf, obj, **kw)
    recs = read_dump(buf.getvalue())
    assert recs[0]["meliae"] == "dump" and recs[-1]["meliae"] == "end"
    return recs[1:-1]


def by_address(recs: List[Dict[str, Any]]) -> Dict[int, Dict[str, Any]]:
    return {r["address"]: r for r in recs}


def run_py(code: str, *args: str) -> subprocess.CompletedProcess:
    """Runs code in a fresh interpreter with this test's import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([HERE] + sys.path)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


# --- classic dump_all_referenced sets (meliae-compat.md 5.7) -------------


class TestDumpAllReferenced:
    def test_str(self) -> None:
        s = "a test string"
        assert {r["address"] for r in dump_referenced(s)} == {id(s)}

    def test_object(self) -> None:
        o = object()
        assert {r["address"] for r in dump_referenced(o)} == {id(o)}

    def test_simple_tuple(self) -> None:
        k, v = 10245, "a value string"
        t = (k, v)
        assert {r["address"] for r in dump_referenced(t)} == {id(k), id(v), id(t)}

    def test_list_of_tuple(self) -> None:
        k, v = 10245, "a value string"
        t = (k, v)
        lst = [k, v, t]
        assert {r["address"] for r in dump_referenced(lst)} == {id(k), id(v), id(t), id(lst)}

    def test_pending_list(self) -> None:
        k, v = 10245, "a value string"
        t = (k, v)
        pending = [t, k]
        got = {r["address"] for r in dump_referenced(pending, is_pending=True)}
        assert got == {id(k), id(v), id(t)}

    def test_cycle(self) -> None:
        s = "str"
        one = 1
        lst: List[Any] = [one, s]
        c = {one: lst}
        lst.append(c)
        want = {id(one), id(s), id(c), id(lst)}
        assert {r["address"] for r in dump_referenced(lst)} == want
        assert {r["address"] for r in dump_referenced(c)} == want

    def test_each_object_once_in_walk_order(self) -> None:
        shared = "shared value"
        root = [shared, (shared, shared), {"k": shared}]
        recs = dump_referenced(root)
        addrs = [r["address"] for r in recs]
        assert len(addrs) == len(set(addrs))
        assert addrs[0] == id(root)

    def test_matches_reference_walk(self) -> None:
        # Plain containers: lists, str-keyed and int-keyed dicts, tuples that
        # the GC has untracked, sets, bytes, floats, big ints, nesting.
        gc.collect()
        leaf_tuples = [tuple(range(i, i + 3)) for i in range(50)]
        root = {
            "strs": ["s%d" % i for i in range(100)],
            "d": {("k%d" % i): [i * 1.5, str(i) * 3] for i in range(50)},
            "ints": {i: -i * 10**20 for i in range(30)},
            "tuples": leaf_tuples,
            "set": frozenset("abcdef"),
            "bytes": [bytes([i]) * 7 for i in range(20)],
            "nested": [[[["deep"]]]],
        }
        gc.collect()  # untracks the all-atomic tuples and dicts
        assert not gc.is_tracked(leaf_tuples[0])
        recs = dump_referenced(root)
        ref = reference_walk.reachable_ids([root])
        assert {r["address"] for r in recs} == ref


class TestRecursive:
    def test_single_objects(self) -> None:
        for x in (12345678, {}, []):
            assert scanner.get_recursive_size(x) == (1, scanner.size_of(x))

    def test_dict_of_distinct_keys(self) -> None:
        s1, s2, s3, s4 = object(), object(), object(), object()
        d = {s1: s2, s3: s4}
        total = sum(scanner.size_of(o) for o in (d, s1, s2, s3, s4))
        assert scanner.get_recursive_size(d) == (5, total)

    def test_self_containing_list(self) -> None:
        a = "a distinct string"
        lst: List[Any] = [a]
        lst.append(lst)
        inner = [lst]
        assert scanner.get_recursive_size(inner) == (
            3,
            scanner.size_of(inner) + scanner.size_of(lst) + scanner.size_of(a),
        )

    def test_items(self) -> None:
        one = 1
        assert scanner.get_recursive_items(one) == [one]
        d = {1: 2, "three": "four"}
        items = scanner.get_recursive_items(d)
        assert len(items) == 5
        want = [d, 1, 2, "three", "four"]
        assert {id(x) for x in items} == {id(x) for x in want}

    def test_get_referents_list_matches_gc(self) -> None:
        lst = ["one", 2, object(), 4.0]
        assert [id(x) for x in scanner.get_referents(lst)] == [
            id(x) for x in gc.get_referents(lst)
        ]

    def test_get_referents_dict_pairs_in_order(self) -> None:
        k1, v1, k2, v2 = "key1", [1], "key2", [2]
        d = {k1: v1, k2: v2}
        assert [id(x) for x in scanner.get_referents(d)] == [id(k1), id(v1), id(k2), id(v2)]


# --- what each line says -------------------------------------------------


class Plain:
    def __init__(self, a: Any, b: Any) -> None:
        self.a = a
        self.b = b


class TestLines:
    def test_dict_refs_are_key_value_pairs(self) -> None:
        k, v = "a key", ["value"]
        d = {k: v}
        rec = by_address(dump_referenced(d))[id(d)]
        assert rec["type"] == "dict" and rec["len"] == 1
        assert rec["refs"] == [id(k), id(v)]
        assert "kv" not in rec

    def test_managed_values_without_materializing(self) -> None:
        va, vb = ["value a"], ("value", "b")
        o = Plain(va, vb)
        recs = by_address(dump_referenced([o]))
        rec = recs[id(o)]
        if sys.version_info >= (3, 11):
            assert rec["kv"] == 2
            pairs = list(zip(rec["refs"][0:4:2], rec["refs"][1:4:2]))
            names = {k for k, _ in pairs}
            # Computed after the dump: materializing now changes nothing seen.
            attrs = vars(o)
            assert names == {id(k) for k in attrs}
            assert dict(pairs) == {id(k): id(v) for k, v in attrs.items()}
            assert rec["refs"][-1] == id(Plain)
            assert rec["refs"].count(id(va)) == 1
        else:
            assert id(o.__dict__) in rec["refs"]

    def test_materialized_dict_is_listed_values_once(self) -> None:
        # vars(o) makes the __dict__ (3.13+: a dict sharing the inline
        # values, which tp_traverse visits instead of the dict).  The line
        # lists the dict, not the values; the dict lists the pairs.
        va, vb = ["value a"], ("value", "b")
        o = Plain(va, vb)
        d = vars(o)
        recs = by_address(dump_referenced([o]))
        rec = recs[id(o)]
        assert id(d) in rec["refs"]
        assert rec.get("kv", 0) == 0
        assert id(va) not in rec["refs"] and id(vb) not in rec["refs"]
        assert recs[id(d)]["refs"] == [x for k, v in d.items() for x in (id(k), id(v))]
        # Exactly one holder of each value in the dump.
        holders = [a for a, r in recs.items() if id(va) in r.get("refs", ())]
        assert holders == [id(d)]

    def test_dump_does_not_materialize_dict(self) -> None:
        if sys.version_info < (3, 11):
            pytest.skip("managed dicts exist from CPython 3.11")
        o = Plain(1, 2)
        before = sys.getsizeof(o), len(gc.get_referents(o))
        dump_referenced([o])
        assert (sys.getsizeof(o), len(gc.get_referents(o))) == before
        assert not any(isinstance(x, dict) for x in gc.get_referents(o))

    def test_values(self) -> None:
        big = 2**70
        n = -(2**40) - 3
        objs = [True, False, n, big, b"a \"q\" \\ / \x00\xff\n", "uni \xb5 \u20ac \U0001f600"]
        recs = by_address(dump_referenced(objs))
        assert recs[id(True)]["value"] == "True"
        assert recs[id(False)]["value"] == "False"
        assert recs[id(n)]["value"] == n
        assert "value" not in recs[id(big)]
        b = recs[id(objs[4])]
        assert b["len"] == 13 and b["value"].encode("latin-1") == objs[4]
        s = recs[id(objs[5])]
        assert s["len"] == 9 and s["value"] == objs[5]

    def test_module_function_type_names(self) -> None:
        mod = sys.modules["collections"]

        def fn() -> None:
            pass

        recs = dump_referenced(mod)
        m = by_address(recs)[id(mod)]
        assert m["name"] == "collections"
        rec = by_address(dump_referenced(fn))[id(fn)]
        assert rec["name"] == "fn"
        t = by_address(dump_referenced(Plain))[id(Plain)]
        assert t["name"] == "Plain" and t["qualname"] == "test_scanner.Plain"
        assert "static" not in t
        od = by_address(dump_referenced(collections.OrderedDict))[id(collections.OrderedDict)]
        assert od["qualname"] == "collections.OrderedDict" and od["static"] is True
        i = by_address(dump_referenced(int))[id(int)]
        assert i["qualname"] == "builtins.int" and i["static"] is True

    def test_static_markers(self) -> None:
        recs = by_address(dump_referenced([None, 5, ()]))
        assert recs[id(None)].get("static") is True
        # Small ints live in the runtime's static image from 3.11 on (3.10
        # allocates them on the heap at start-up).
        assert recs[id(5)].get("static") is (True if sys.version_info >= (3, 11) else None)
        big = 10**12 + len(recs)
        assert "static" not in by_address(dump_referenced(big))[id(big)]

    def test_type_addr(self) -> None:
        x = [1.5]
        rec = by_address(dump_referenced(x))[id(x)]
        assert rec["type_addr"] == id(list)


# --- format: every line is JSON; hostile text round-trips ----------------


HOSTILE = [
    'quote " and backslash \\ and slash /',
    "nul \x00 unit \x1f del \x7f",
    "lone \ud800 surrogates \udfff",
    "\U0001f600" * 200,
    "latin \xe9\xff",
    "bmp \u20ac\uffff",
    "x" * (1 << 20),
]


class TestFormat:
    def test_hostile_strings_round_trip(self) -> None:
        objs = list(HOSTILE) + [b"\x00\xff\x80 bytes \"\\", bytes(range(256))]
        recs = by_address(dump_referenced(objs, value_limit=None))
        for o in objs:
            r = recs[id(o)]
            if isinstance(o, bytes):
                assert r["value"].encode("latin-1") == o
            else:
                assert r["value"] == o
            assert r["len"] == len(o)

    def test_truncation_keeps_len(self) -> None:
        s = "\U0001f600" * 200
        r = by_address(dump_referenced(s))[id(s)]
        assert r["len"] == 200 and r["value"] == s[:100]
        r = by_address(dump_referenced(s, value_limit=3))[id(s)]
        assert r["value"] == s[:3]

    def test_redacted(self) -> None:
        objs = ["secret", 12345, True, b"secret"]
        buf = io.BytesIO()
        scanner.dump_all_referenced(buf, objs, include_values=False)
        text = buf.getvalue().decode()
        assert "secret" not in text and "12345" not in text
        recs = read_dump(buf.getvalue())
        assert recs[0]["values"] is False
        assert by_address(recs[1:-1])[id(True)]["value"] == "True"

    def test_non_ascii_type_and_module_names(self, tmp_path: Any) -> None:
        modfile = tmp_path / "m\xf6dul\u20ac.py"
        modfile.write_text("class \xd1ame\u00e9:\n    pass\nx = \xd1ame\u00e9()\n", encoding="utf-8")
        sys.path.insert(0, str(tmp_path))
        try:
            import importlib

            mod = importlib.import_module("m\xf6dul\u20ac")
            recs = by_address(dump_referenced([mod.x, mod]))
            inst = recs[id(mod.x)]
            assert inst["type"] == "\xd1ame\u00e9"
            cls = recs[id(type(mod.x))]
            assert cls["qualname"] == "m\xf6dul\u20ac.\xd1ame\u00e9"
            assert recs[id(mod)]["name"] == "m\xf6dul\u20ac"
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop("m\xf6dul\u20ac", None)

    def test_thread_roots_carry_ident_and_name(self, tmp_path: Any) -> None:
        """Each thread root is labelled "thread IDENT NAME" from threading's
        own records (a name longer than the label's room is cut whole
        characters at a time)."""
        started, release = threading.Event(), threading.Event()

        def wait() -> None:
            started.set()
            release.wait(30)

        long_name = "w\u00f6rker-" + "\u20ac" * 40
        workers = [threading.Thread(target=wait, name="meliae-worker-7"),
                   threading.Thread(target=wait, name=long_name)]
        try:
            for w in workers:
                started.clear()
                w.start()
                assert started.wait(10)
            p = tmp_path / "threads.json"
            scanner.dump_all_objects(str(p))
        finally:
            release.set()
            for w in workers:
                w.join(10)
        raw = p.read_bytes().split(b"\n", 1)[0]
        raw.decode("utf-8")  # strict: a cut name must stay valid UTF-8
        names = [r["name"] for r in json.loads(raw)["roots"] if r["kind"] == "thread"]
        assert f"thread {threading.main_thread().ident} MainThread" in names
        assert f"thread {workers[0].ident} meliae-worker-7" in names
        cut = [n for n in names if n.startswith(f"thread {workers[1].ident} ")]
        assert len(cut) == 1
        label = cut[0][len(f"thread {workers[1].ident} "):]
        assert 10 < len(label) < len(long_name) and long_name.startswith(label)

    def test_header_and_trailer_in_every_output_kind(self, tmp_path: Any) -> None:
        p = tmp_path / "d.json"
        n = scanner.dump_all_objects(str(p))
        assert oct(os.stat(p).st_mode & 0o777) == oct(0o600)
        recs = read_dump(str(p))
        h, t = recs[0], recs[-1]
        assert h["meliae"] == "dump" and h["format"] == "meliae-dump" and h["version"][0] == 2
        assert h["entry"] == "dump_all_objects" and h["pid"] == os.getpid()
        assert {r["kind"] for r in h["roots"]} >= {"modules", "builtins", "sys", "thread"}
        assert t == {"meliae": "end", "objects": n, "complete": True}
        assert len(recs) == n + 2
        addrs = [r["address"] for r in recs[1:-1]]
        assert len(addrs) == len(set(addrs))
        # gzip by suffix, PathLike accepted
        g = tmp_path / "d.json.gz"
        scanner.dump_all_objects(g)
        with open(g, "rb") as f:
            assert f.read(2) == b"\x1f\x8b"
        assert read_dump(str(g))[-1]["complete"] is True
        # a pipe
        r, w = os.pipe()
        chunks: List[bytes] = []
        reader = threading.Thread(target=lambda: chunks.append(os.fdopen(r, "rb").read()))
        reader.start()
        with os.fdopen(w, "wb") as wf:
            scanner.dump_all_referenced(wf, [1, 2, 3])
        reader.join()
        assert read_dump(b"".join(chunks))[-1]["objects"] >= 4


# --- whole-heap coverage, in a fresh interpreter ---------------------------


COVERAGE_CODE = """
import gc, json, sys, threading
from meliae import scanner
import reference_walk

class Node:
    def __init__(self, v, nxt):
        self.value = v
        self.next = nxt

head = None
for i in range(200):
    head = Node(("t", i), head)          # tuples untracked after a collect
store = {"k%d" % i: {"inner": i * 1000} for i in range(100)}
gc.collect()

def take(first, _):
    return id(first)

def hold_locals(path):
    only_local = "only in a frame local " + str(len(path))
    only_tuple = (only_local, 12345678901)
    # The first argument is held by nothing but the caller's value stack
    # while the dump runs.
    on_stack = take("only on the value stack " + str(len(path)), scanner.dump_all_objects(path))
    return id(only_local), id(only_tuple), on_stack

def check():
    # Everything made after the dump stays inside "post" and is excluded.
    post = {"dumped": set()}
    # The tracked objects as they were just before the dump; whatever is
    # created afterwards is not in it.
    post["tracked"] = gc.get_objects()
    post["locals"] = hold_locals(sys.argv[1])
    post["stack_holders"] = []
    with open(sys.argv[1]) as f:
        for line in f.read().splitlines()[1:-1]:
            rec = json.loads(line)
            post["dumped"].add(rec["address"])
            if post["locals"][2] in rec.get("refs", ()):
                post["stack_holders"].append(rec["type"])
    ref = reference_walk.full_heap_ids(exclude=[post, post["dumped"]], tracked=post["tracked"])
    post["missing"] = ref - post["dumped"]
    post["n"] = (len(post["dumped"]), len(ref))
    return post

post = check()
dumped, missing, local_ids = post["dumped"], post["missing"], post["locals"]
print(json.dumps({
    "dumped": post["n"][0], "ref": post["n"][1], "missing": len(missing),
    "missing_objs": [repr(o)[:80] for o in gc.get_objects() if id(o) in missing][:10],
    "locals": [i in dumped for i in local_ids[:2]],
    "on_stack": local_ids[2] in dumped,
    "stack_holders": post["stack_holders"],
    "untracked": id(head.value) in dumped and not gc.is_tracked(head.value),
    "store_dict": id(store["k1"]) in dumped,
    "code": id(Node.__init__.__code__) in dumped,
    "int_type": id(int) in dumped,
}))
"""


def test_full_heap_coverage(tmp_path: Any) -> None:
    path = str(tmp_path / "heap.json")
    res = run_py(COVERAGE_CODE, path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    # Everything the pure-Python reference reaches after the dump was dumped
    # (it runs after the dump, so objects it finds that the dump missed
    # would be genuine losses).
    assert out["missing"] == 0, out
    assert out["dumped"] >= out["ref"]
    assert out["locals"] == [True, True]
    assert out["untracked"] and out["store_dict"] and out["code"] and out["int_type"]
    if sys.version_info >= (3, 14):
        # 3.14+ records the value stack's top: an object held only there
        # is dumped, with the executing frame as its holder.
        assert out["on_stack"] and out["stack_holders"] == ["frame"], out



def test_dump_gc_objects_keeps_untracked_containers(tmp_path: Any) -> None:
    # Tuples of atomic values are untracked by a collection on every version
    # (dicts stay tracked from 3.14 on).
    holder = [("only", "atomic values %d" % i) for i in range(10)]
    gc.collect()
    assert not gc.is_tracked(holder[3])
    path = tmp_path / "gc.json"
    n = scanner.dump_gc_objects(str(path))
    recs = read_dump(str(path))
    assert recs[0]["entry"] == "dump_gc_objects" and recs[-1]["objects"] == n
    addrs = {r["address"] for r in recs[1:-1]}
    assert id(holder) in addrs
    assert all(id(d) in addrs for d in holder)
    assert id(holder[3][1]) in addrs
    only_gc = read_dump_addresses(tmp_path / "gc0.json", depth=0)
    assert id(holder) in only_gc and id(holder[3]) not in only_gc


def read_dump_addresses(path: Any, depth: int) -> set:
    scanner.dump_gc_objects(str(path), recurse_depth=depth)
    return {r["address"] for r in read_dump(str(path))[1:-1]}


# --- robustness -------------------------------------------------------------


class Hostile:
    calls = 0

    def __sizeof__(self) -> int:
        Hostile.calls += 1
        raise RuntimeError("__sizeof__ must not run")

    def __eq__(self, other: object) -> bool:
        Hostile.calls += 1
        raise RuntimeError("__eq__ must not run")

    def __hash__(self) -> int:
        Hostile.calls += 1
        raise RuntimeError("__hash__ must not run")

    def __getattr__(self, name: str) -> Any:
        Hostile.calls += 1
        raise RuntimeError("__getattr__ must not run")

    def __getattribute__(self, name: str) -> Any:
        if name in ("__class__", "__dict__"):
            return object.__getattribute__(self, name)
        Hostile.calls += 1
        raise RuntimeError("__getattribute__ must not run")


class Looping:
    def __sizeof__(self) -> int:
        while True:
            pass

    def __hash__(self) -> int:
        while True:
            pass


class TestRobustness:
    def test_no_python_dunder_runs(self) -> None:
        h = Hostile()
        k = Hostile()
        d = {1: h}
        Hostile.calls = 0
        recs = by_address(dump_referenced([h, d, Looping(), {"x": k}]))
        assert Hostile.calls == 0
        assert id(h) in recs and id(k) in recs
        # Sized without calling the looping __sizeof__ (would never return).
        assert scanner.size_of(Looping()) >= sys.getsizeof(object())
        assert Hostile.calls == 0

    def test_special_size_callbacks(self) -> None:
        class Special:
            pass

        seen: List[Any] = []

        def cb(o: Any) -> int:
            seen.append(o)
            return 800

        obj = Special()
        base = scanner.size_of(obj)
        scanner.add_special_size("Special", cb, cb)
        try:
            got = scanner.size_of(obj)
            assert seen == [obj]
            # 800 plus what is not part of the object itself: the GC header,
            # the managed pre-header and the attribute values area.
            if sys.version_info >= (3, 11):
                assert got - 800 == base - type(obj).__basicsize__
            else:
                assert got == 800 + scanner._gc_head_size
            scanner.add_special_size("Special", None, lambda o: 1 / 0)
            assert scanner.size_of(obj) == base
            scanner.add_special_size("Special", None, lambda o: -1)
            assert scanner.size_of(obj) == base
        finally:
            scanner.add_special_size("Special", None, None)
        assert scanner.size_of(obj) == base

    def test_deep_structures(self) -> None:
        deep: List[Any] = []
        cur = deep
        for _ in range(100_000):
            nxt: List[Any] = []
            cur.append(nxt)
            cur = nxt
        chain = None
        for i in range(1_000_000):
            chain = (i, chain)
        with open(os.devnull, "wb") as f:
            n1 = scanner.dump_all_referenced(f, deep)
            n2 = scanner.dump_all_referenced(f, chain)
        assert n1 == 100_001
        assert n2 >= 1_000_000 + 1  # the tuples, their ints, None
        assert scanner.get_recursive_size(deep)[0] == 100_001

    def test_full_disk_raises_oserror(self) -> None:
        if not os.path.exists("/dev/full"):
            pytest.skip("no /dev/full on this system")
        with pytest.raises(OSError) as ei:
            scanner.dump_all_objects("/dev/full")
        assert ei.value.errno == errno.ENOSPC
        with open("/dev/full", "wb", buffering=0) as f:
            with pytest.raises(OSError):
                scanner.dump_all_referenced(f, list(range(100000)))
        # The process goes on and can dump again.
        assert scanner.dump_all_referenced(io.BytesIO(), [1, 2]) == 3

    def test_write_exception_propagates(self) -> None:
        class Broken:
            def write(self, b: bytes) -> int:
                raise ValueError("sink broken")

        with pytest.raises(ValueError, match="sink broken"):
            scanner.dump_all_objects(Broken())

    def test_threads_mutating_during_dump(self, tmp_path: Any) -> None:
        shared_list: List[Any] = []
        shared_dict: Dict[Any, Any] = {}
        stop = threading.Event()

        def mutate(k: int) -> None:
            i = 0
            while not stop.is_set():
                shared_list.append([i, str(i)])
                shared_dict[(k, i % 5000)] = {"v": i}
                if len(shared_list) > 5000:
                    del shared_list[:2500]
                i += 1

        threads = [threading.Thread(target=mutate, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        try:
            for j in range(2):
                p = tmp_path / ("t%d.json" % j)
                with open(p, "wb") as f:  # a buffered Python file: write() may drop the GIL
                    n = scanner.dump_all_objects(f)
                with open(p, "rb") as f:
                    lines = f.read().splitlines()
                # Every line is JSON; parsed one at a time so that the
                # parsed records do not inflate the next dump.
                for line in lines:
                    json.loads(line)
                assert json.loads(lines[-1]) == {"meliae": "end", "objects": n, "complete": True}
                assert len(lines) == n + 2
                del lines
        finally:
            stop.set()
            for t in threads:
                t.join()


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        scanner.dump_all_objects(12.5)
    with pytest.raises(TypeError):
        scanner.dump_all_referenced(io.BytesIO(), (1,), is_pending=True)
    with pytest.raises(ValueError):
        scanner.dump_all_objects(io.BytesIO(), value_limit=0)
    with pytest.raises(FileNotFoundError):
        scanner.dump_all_objects("/nonexistent-dir/x.json")


def test_dump_on_signal_and_run(tmp_path: Any) -> None:
    script = tmp_path / "prog.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, signal, sys
            keep = ["program data", sys.argv[1:]]
            os.kill(os.getpid(), signal.SIGUSR2)
            os.kill(os.getpid(), signal.SIGUSR2)
            print("ran", __name__, sys.argv)
            """
        )
    )
    code = """
    import sys
    from meliae import _run
    sys.exit(_run.main(sys.argv[1:]))
    """
    exit_dump = tmp_path / "exit-{pid}.json"
    res = run_py(
        code,
        "--dump-at-exit",
        str(exit_dump),
        "--signal-path",
        str(tmp_path / "sig-{n}.json"),
        str(script),
        "a1",
        "--b",
    )
    assert res.returncode == 0, res.stderr
    assert "ran __main__ ['%s', 'a1', '--b']" % script in res.stdout
    for name in ("sig-1.json", "sig-2.json"):
        recs = read_dump(str(tmp_path / name))
        assert recs[-1]["complete"] is True
        assert any(r.get("value") == "program data" for r in recs[1:-1])
    exits = list(tmp_path.glob("exit-*.json"))
    assert len(exits) == 1
    assert read_dump(str(exits[0]))[-1]["complete"] is True
