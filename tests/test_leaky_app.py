"""Retention analyses on a real dump of the bundled leaky sample program.

src/meliae/examples/leaky_app.py files every session in the module-level
``_SESSION_CACHE`` and never prunes it.  The program is run under
``python -m meliae run`` and dumped at exit; the dump is then read twice: by
the engine (suspects, paths, per-type retained sizes) and, independently,
with the json module, to find the cache by following sys.modules by hand.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from meliae import loader

REQUESTS = 1000


@pytest.fixture(scope="module")
def leaky_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import meliae

    sample = Path(meliae.__file__).parent / "examples" / "leaky_app.py"
    out = tmp_path_factory.mktemp("leaky") / "leaky.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    subprocess.run([sys.executable, "-m", "meliae", "run", "--dump-at-exit", str(out),
                    str(sample), "--requests", str(REQUESTS)],
                   check=True, env=env, capture_output=True)
    return out


def _records(path: Path) -> Tuple[Dict[str, Any], Dict[int, Dict[str, Any]]]:
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    objs = {}
    for line in lines[1:]:
        rec = json.loads(line)
        if "address" in rec:
            objs[rec["address"]] = rec
    return header, objs


def _dict_items(rec: Dict[str, Any], objs: Dict[int, Dict[str, Any]]) -> Dict[str, int]:
    refs = rec["refs"]
    items = {}
    for k in range(0, len(refs) - 1, 2):
        key = objs.get(refs[k])
        if key is not None and key["type"] == "str":
            items[key.get("value")] = refs[k + 1]
    return items


def _cache_by_hand(path: Path) -> Tuple[int, List[int]]:
    """The cache's address and the chain sys.modules -> module -> dict -> cache,
    found by reading the JSON lines."""
    header, objs = _records(path)
    modules = [r["address"] for r in header["roots"] if r["kind"] == "modules"][0]
    module = _dict_items(objs[modules], objs)["__main__"]
    namespace = [a for a in objs[module]["refs"] if objs.get(a, {}).get("type") == "dict"][0]
    cache = _dict_items(objs[namespace], objs)["_SESSION_CACHE"]
    return cache, [modules, module, namespace, cache]


@pytest.mark.parametrize("collapse", [True, False])
def test_top_suspect_is_the_session_cache(leaky_dump: Path, collapse: bool) -> None:
    cache, chain = _cache_by_hand(leaky_dump)
    om = loader.load(str(leaky_dump), collapse=collapse, show_prog=False)
    report = om.suspects()
    top = report.suspects[0]
    assert top.kind == "object"
    assert top.obj is not None and top.obj.address == cache
    assert top.obj.type_str == "dict" and len(top.obj) == 2 * REQUESTS
    assert top.name == "__main__._SESSION_CACHE"
    assert top.headline().startswith("__main__._SESSION_CACHE, dict(")
    assert top.path == "sys.modules['__main__'].__dict__['_SESSION_CACHE']"
    path = om.path_to(top.obj)
    assert [o.address for o in path.objects] == chain
    # the sessions it holds come next, as a group under the cache
    groups = [s for s in report.suspects if s.kind == "group" and s.type_str == "Session"]
    assert len(groups) == 1
    assert groups[0].holder is not None and groups[0].holder.address == cache
    assert groups[0].count == REQUESTS
    assert groups[0].name == "__main__._SESSION_CACHE"
    # no group merely repeats the cache ("2 dict objects" under the module's dict)
    for s in report.suspects:
        if s.kind == "group" and s.obj is not None:
            assert s.obj.address != cache
    # groups held only by the roots (all module dicts, all classes) come last
    rootless = [k for k, s in enumerate(report.suspects) if s.kind == "group" and s.holder is None]
    assert rootless == list(range(len(report.suspects) - len(rootless), len(report.suspects)))


def test_cli_path_names_the_chain(leaky_dump: Path, capsys: pytest.CaptureFixture) -> None:
    from meliae import cli

    cache, _ = _cache_by_hand(leaky_dump)
    assert cli.main(["path", "--quiet", str(leaky_dump), str(cache)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "sys.modules['__main__'].__dict__['_SESSION_CACHE']"


def test_summary_retained_column(leaky_dump: Path) -> None:
    """summarize() after compute_dominators: per type, the retained sizes of
    the objects of that type that no object of the same type dominates,
    summed here from obj.idom and obj.retained_size."""
    om = loader.load(str(leaky_dump), show_prog=False)
    before = om.summarize()
    assert not before.show_retained
    om.compute_dominators()
    summary = om.summarize()
    assert summary.show_retained
    assert "Retained" in repr(summary).splitlines()[1]
    want: Dict[str, int] = {}
    for obj in om.objs.itervalues():
        t = obj.type_str
        d = obj.idom
        while d is not None and d.type_str != t:
            d = d.idom
        if d is None:
            want[t] = want.get(t, 0) + obj.retained_size
    got = {name: row.retained for name, row in summary.type_summaries.items()}
    assert got == want
    # every object is under the super-root: the sum over types of objects
    # no other object dominates is the heap
    assert want["Session"] > REQUESTS * 56
