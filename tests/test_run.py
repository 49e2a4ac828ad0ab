"""``meliae run``: the program runs as ``__main__`` and its namespace survives to the exit dump.

Each case runs a small program under ``python -m meliae run`` in a child
process, then reads the exit dump with the json module (independently of the
engine) and follows ``sys.modules['__main__']`` to a marker string the program
keeps in a global.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

PROGRAM = '''
import sys
MARKER = "".join(["meliae-run-", "marker"])
KEEP = [MARKER]
print(__name__, sys.argv[1:], file=sys.stderr)
if "--exit" in sys.argv:
    sys.exit(3)
'''


def _run(tmp_path: Path, args: List[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path)] + [p for p in sys.path if p])
    return subprocess.run([sys.executable, "-m", "meliae", "run", "--signal", "none",
                           "--dump-at-exit", str(tmp_path / "exit.json")] + args,
                          env=env, cwd=tmp_path, capture_output=True, text=True)


def _main_globals(dump: Path) -> Dict[str, Any]:
    objs: Dict[int, Dict[str, Any]] = {}
    header: Dict[str, Any] = {}
    for line in dump.read_text().splitlines():
        rec = json.loads(line)
        if "address" in rec:
            objs[rec["address"]] = rec
        elif "roots" in rec:
            header = rec

    def items(d: Dict[str, Any]) -> Dict[str, int]:
        refs = d["refs"]
        return {objs[refs[k]].get("value"): refs[k + 1]
                for k in range(0, len(refs) - 1, 2) if refs[k] in objs}

    modules = [r["address"] for r in header["roots"] if r["kind"] == "modules"][0]
    main = objs[items(objs[modules])["__main__"]]
    namespace = [objs[a] for a in main["refs"] if objs.get(a, {}).get("type") == "dict"]
    assert namespace, "the __main__ module has no namespace dict in the dump"
    return {k: objs[v] for k, v in items(namespace[0]).items() if v in objs}


@pytest.mark.parametrize("how", ["script", "module", "exit"])
def test_main_namespace_in_exit_dump(tmp_path: Path, how: str) -> None:
    (tmp_path / "prog_under_test.py").write_text(PROGRAM)
    if how == "module":
        args = ["-m", "prog_under_test", "a"]
    else:
        args = [str(tmp_path / "prog_under_test.py"), "a"] + (["--exit"] if how == "exit" else [])
    res = _run(tmp_path, args)
    assert res.returncode == (3 if how == "exit" else 0), res.stderr
    assert res.stderr.splitlines()[0].startswith("__main__ ['a'")
    glob = _main_globals(tmp_path / "exit.json")
    assert glob["MARKER"]["value"] == "meliae-run-marker"
    assert glob["KEEP"]["type"] == "list"


def test_missing_module_is_an_error(tmp_path: Path) -> None:
    res = _run(tmp_path, ["-m", "no_such_module_for_meliae"])
    assert res.returncode != 0
    assert "no_such_module_for_meliae" in res.stderr


def test_program_arguments_are_not_meliae_options(tmp_path: Path) -> None:
    """A "-m" after the script is the script's own argument."""
    (tmp_path / "prog_under_test.py").write_text(PROGRAM)
    res = _run(tmp_path, [str(tmp_path / "prog_under_test.py"), "-m", "x"])
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines()[0] == "__main__ ['-m', 'x']"
