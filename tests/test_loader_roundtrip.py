"""Round trips through the scanner: what the loader reads back is what the
scanner saw (objects, references and sizes checked against gc and sys), and
the analyses name the leak of a sample program."""
from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from meliae import cli, loader, scanner


class Node:
    def __init__(self, name: str, payload: object) -> None:
        self.name = name
        self.payload = payload


def test_dump_all_referenced_round_trip(tmp_path) -> None:
    leaf = "a leaf string %d" % os.getpid()
    big = 2 ** 40 + 7
    items = [leaf, big, (leaf, 3.5), {"k": leaf, "n": big}, b"\x00\xffbytes", True]
    root = Node("root", items)
    path = tmp_path / "d.json"
    scanner.dump_all_referenced(str(path), root)
    om = loader.load(str(path), show_prog=False, collapse=False)
    om.compute_parents()

    # every object reachable through gc.get_referents is there, with its size.
    # The walk stops at type objects: past them lie module globals, which
    # change after the dump (this test's own frames and imports).
    seen = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        if not isinstance(obj, type):
            stack.extend(gc.get_referents(obj))
    for address, obj in seen.items():
        proxy = om[address]
        # tp_name: the bare name for classes, dotted for C types (_abc._abc_data)
        assert proxy.type_str.rsplit(".", 1)[-1] == type(obj).__name__
    # sizes of the workload's own objects: at least what sys.getsizeof says
    for obj in items + [root, leaf, items[2], items[3]]:
        assert om[id(obj)].size >= sys.getsizeof(obj), obj
    # references: each gc referent appears among the children
    for address, obj in seen.items():
        if isinstance(obj, type):
            continue
        children = set(om[address].children)
        assert {id(r) for r in gc.get_referents(obj)} <= children
    # values come back as Python values
    assert om[id(leaf)].value == leaf
    assert om[id(big)].value == big
    assert om[id(items[4])].value == "\x00\xffbytes"
    assert om[id(True)].value is True
    # str keys of a dict come back in refs_as_dict
    d = om[id(items[3])].refs_as_dict()
    assert d["k"] == leaf and d["n"] == big
    # the instance lists its attributes by name
    # (before 3.11 they live in the instance's __dict__, which collapse=False keeps)
    owner = root if sys.version_info >= (3, 11) else root.__dict__
    attrs = om[id(owner)].refs_as_dict()
    assert attrs["name"] == "root"
    assert attrs["payload"] is om[id(items)]
    # refs are in tp_traverse order, as gc.get_referents reports them
    assert om[id(items)].children == [id(x) for x in gc.get_referents(items)]


def test_round_trip_through_a_file_object() -> None:
    data = ["x" * 50, "y" * 60]
    buf = io.BytesIO()
    scanner.dump_all_referenced(buf, data)
    buf.seek(0)
    om = loader.load(buf, show_prog=False, collapse=False)
    assert sorted(om[id(data)].children) == sorted([id(data[0]), id(data[1])])
    assert om[id(data[1])].value == "y" * 60
    assert om.load_report.has_trailer


LEAKY = textwrap.dedent('''
    import sys
    from meliae import scanner

    class Record:
        def __init__(self, i):
            self.i = i
            self.blob = "r" * 5000 + str(i)

    _CACHE = {}

    def handle(i):
        rec = Record(i)
        _CACHE[i] = rec          # the leak: nothing ever removes entries
        return len(rec.blob)

    for i in range(int(sys.argv[1])):
        handle(i)
    scanner.dump_all_objects(sys.argv[2])
''')


def _run_leaky(tmp_path: Path, n: int, name: str) -> Path:
    script = tmp_path / "leaky.py"
    script.write_text(LEAKY)
    out = tmp_path / name
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    subprocess.run([sys.executable, str(script), str(n), str(out)], check=True, env=env)
    return out


def test_path_names_the_module_level_cache(tmp_path, capsys) -> None:
    dump = _run_leaky(tmp_path, 300, "late.json")
    om = loader.load(str(dump), show_prog=False)
    records = om.get_all("Record")
    assert len(records) == 300
    path = om.path_to(records[0])
    assert "['_CACHE']" in path.text
    assert path.objects[-1] is records[0]
    # the command line prints the same chain
    assert cli.main(["path", "--quiet", str(dump), str(records[0].address)]) == 0
    out = capsys.readouterr().out
    assert "['_CACHE']" in out.splitlines()[0]
    # the cache dict is the suspect holding the Records
    report = om.suspects()
    groups = [s for s in report.suspects if s.kind == "group" and s.type_str == "Record"]
    assert groups and groups[0].count == 300
    assert "['_CACHE']" in groups[0].path


def test_diff_shows_the_leaked_type_growing(tmp_path) -> None:
    early = _run_leaky(tmp_path, 100, "early.json")
    late = _run_leaky(tmp_path, 400, "late.json")
    report = loader.diff(str(early), str(late))
    top = report.types[0]
    # each Record holds a ~5 KB str: str grows most by size, Record by count
    rows = {t["type"]: t for t in report.types}
    assert rows["Record"]["count_delta"] == 300
    assert rows["Record"]["new_count"] == 400 and rows["Record"]["old_count"] == 100
    assert top["type"] in ("str", "Record", "dict")
    assert top["size_delta"] >= rows["Record"]["size_delta"] > 0
    assert "Record" in repr(report)
