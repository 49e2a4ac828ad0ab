"""The meliae command line: golden outputs, JSON schema, exit codes, errors.

tests/data/cli/app.json is a hand-written dump of a module-level cache:

    sys.modules (dict 100, 640 B) -['app']-> module app (102, 72 B)
      -> its __dict__ (103, 352 B) -['_cache']-> cache dict (105, 1200 B)
         {1: Session 107, 2: Session 109}; each Session (56 B) holds
         .payload = a list (111: 1000 B, 112: 2000 B) and its type (120, 1072 B).

app-early.json is the same program with one session (cache dict 640 B).
The golden *.out files were checked by hand against these numbers:
collapsing folds 103 into 102 (424 B) and gives the module 103's key/value
pair, so a collapsed path reads sys.modules['app']._cache[1].payload;
retained sizes 100: 6667 (all), 102: 5975, 105: 5496, 109: 2056, 107: 1056;
suspects at 10 % of 6667: the two Sessions under 105, named app._cache
(3112 B, 46.7 %), lists 112 (2000) and 111 (1000), type 120 (1072);
diff: +1 list (+2000 B), dict +560 B, +1 Session, +1 int.
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import jsonschema
import pytest

from meliae import cli

DATA = Path(__file__).parent / "data" / "cli"
SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "cli-json-schema.json").read_text())


def run(args: List[str], capsys) -> Tuple[int, str, str]:
    rc = cli.main(args)
    out, err = capsys.readouterr()
    return rc, out, err


GOLDEN = [
    (["summarize", "app.json"], "summarize.out"),
    (["summarize", "--no-collapse", "app.json"], "summarize-no-collapse.out"),
    (["summarize", "--retained", "app.json"], "summarize-retained.out"),
    (["top", "-n", "3", "app.json"], "top.out"),
    (["top", "--by", "size", "-n", "4", "app.json"], "top-size.out"),
    (["show", "app.json", "105"], "show.out"),
    (["path", "app.json", "111"], "path.out"),
    (["path", "--no-collapse", "app.json", "111"], "path-no-collapse.out"),
    (["suspects", "app.json"], "suspects.out"),
    (["diff", "app-early.json", "app.json"], "diff.out"),
]


@pytest.mark.parametrize("args,golden", GOLDEN, ids=[g for _, g in GOLDEN])
def test_golden_output(args, golden, capsys, monkeypatch) -> None:
    monkeypatch.chdir(DATA)
    rc, out, err = run(args, capsys)
    assert rc == 0
    assert err == ""
    assert out == (DATA / golden).read_text()


def test_summary_numbers_match_the_dump(capsys, monkeypatch) -> None:
    """An independent reading of app.json: sizes summed straight from the JSON."""
    monkeypatch.chdir(DATA)
    objs = [json.loads(line) for line in (DATA / "app.json").read_text().splitlines()
            if line.startswith('{"address"')]
    total = sum(o["size"] for o in objs)
    rc, out, _ = run(["summarize", "--json", "--no-collapse", "app.json"], capsys)
    doc = json.loads(out)
    assert doc["total_size"] == total == 6667
    assert doc["total_count"] == len(objs) == 14
    by_type = {}
    for o in objs:
        by_type.setdefault(o["type"], []).append(o["size"])
    assert {t["type"]: (t["count"], t["size"], t["max_size"]) for t in doc["types"]} == {
        k: (len(v), sum(v), max(v)) for k, v in by_type.items()}


JSON_COMMANDS = [
    ["summarize", "--json", "app.json"],
    ["summarize", "--json", "--retained", "--by", "count", "app.json"],
    ["top", "--json", "app.json"],
    ["top", "--json", "--by", "size", "app.json"],
    ["show", "--json", "app.json", "105"],
    ["show", "--json", "--no-collapse", "app.json", "102"],
    ["show", "--json", "app.json", "100"],
    ["path", "--json", "app.json", "111"],
    ["suspects", "--json", "app.json"],
    ["diff", "--json", "app-early.json", "app.json"],
]


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=[" ".join(a) for a in JSON_COMMANDS])
def test_json_output_follows_the_schema(args, capsys, monkeypatch) -> None:
    monkeypatch.chdir(DATA)
    rc, out, err = run(args, capsys)
    assert rc == 0 and err == ""
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["meliae"] == args[0]
    assert doc["schema"] == cli.JSON_SCHEMA_VERSION == 1


def test_schema_rejects_wrong_documents() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"meliae": "top", "schema": 1}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"meliae": "nope", "schema": 1}, SCHEMA)


def test_json_values(capsys, monkeypatch) -> None:
    monkeypatch.chdir(DATA)
    _, out, _ = run(["top", "--json", "-n", "3", "app.json"], capsys)
    doc = json.loads(out)
    assert [(o["address"], o["retained"]) for o in doc["objects"]] == [
        (100, 6667), (102, 5975), (105, 5496)]
    _, out, _ = run(["path", "--json", "app.json", "111"], capsys)
    doc = json.loads(out)
    # collapsed: the module took its __dict__'s entries, so '_cache' reads as an attribute
    assert [h["object"]["address"] for h in doc["path"]] == [100, 102, 105, 107, 111]
    assert [h["label"] for h in doc["path"]] == [None, "['app']", "._cache", "[1]", ".payload"]
    assert doc["text"] == "sys.modules['app']._cache[1].payload"
    assert doc["found"] is True
    _, out, _ = run(["path", "--json", "--no-collapse", "app.json", "111"], capsys)
    doc = json.loads(out)
    assert [h["object"]["address"] for h in doc["path"]] == [100, 102, 103, 105, 107, 111]
    assert [h["label"] for h in doc["path"]] == [
        None, "['app']", ".__dict__", "['_cache']", "[1]", ".payload"]
    assert doc["text"] == "sys.modules['app'].__dict__['_cache'][1].payload"
    _, out, _ = run(["suspects", "--json", "app.json"], capsys)
    doc = json.loads(out)
    first = doc["suspects"][0]
    assert (first["kind"], first["type"], first["count"], first["retained"]) == (
        "group", "Session", 2, 56 + 1000 + 56 + 2000)
    assert first["holder"]["address"] == 105
    _, out, _ = run(["diff", "--json", "app-early.json", "app.json"], capsys)
    doc = json.loads(out)
    assert doc["types"][0]["type"] == "list"
    assert (doc["types"][0]["count_delta"], doc["types"][0]["size_delta"]) == (1, 2000)
    assert [o["address"] for o in doc["added"]] == [112, 109, 108]


def test_hex_address(capsys, monkeypatch) -> None:
    monkeypatch.chdir(DATA)
    rc, out, _ = run(["show", "app.json", "0x69"], capsys)
    assert rc == 0
    assert out.splitlines()[0] == "dict(105 1200B 4refs 1par)"


# --- errors ---------------------------------------------------------------------------

def test_bad_dump_exits_1_with_location(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    lines = (DATA / "app.json").read_text().splitlines()
    lines[3] = lines[3].replace('"size": 72', '"size": -72')
    bad.write_text("\n".join(lines) + "\n")
    rc, out, err = run(["summarize", "--strict", str(bad)], capsys)
    assert rc == 1
    assert out == ""
    assert err.startswith("meliae: error: %s:4:" % bad)
    assert err.count("\n") == 1


def test_bad_line_is_a_warning_without_strict(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    lines = (DATA / "app.json").read_text().splitlines()
    lines.insert(3, "{not json")
    bad.write_text("\n".join(lines) + "\n")
    rc, out, err = run(["summarize", str(bad)], capsys)
    assert rc == 0
    assert "meliae: warning: skipped 1 bad line; the first: %s:4:" % bad in err
    assert out.startswith("Total 13 objects")
    rc, out, err = run(["summarize", "--quiet", str(bad)], capsys)
    assert rc == 0 and err == ""


def test_truncated_dump_warns(tmp_path, capsys) -> None:
    cut = tmp_path / "cut.json"
    cut.write_text("\n".join((DATA / "app.json").read_text().splitlines()[:-1]) + "\n")
    rc, out, err = run(["top", "-n", "1", str(cut)], capsys)
    assert rc == 0
    assert "the dump is truncated" in err


def test_missing_file_exits_1(tmp_path, capsys) -> None:
    rc, out, err = run(["summarize", str(tmp_path / "nope.json")], capsys)
    assert rc == 1
    assert err.startswith("meliae: error: %s: " % (tmp_path / "nope.json"))
    assert "No such file" in err


def test_unknown_address_exits_1(capsys, monkeypatch) -> None:
    monkeypatch.chdir(DATA)
    rc, out, err = run(["show", "app.json", "12345"], capsys)
    assert rc == 1
    assert err == "meliae: error: app.json: no object at address 12345\n"
    rc, out, err = run(["path", "app.json", "103"], capsys)  # folded into the module
    assert rc == 1


@pytest.mark.parametrize("args", [
    [], ["nope"], ["summarize"], ["show", "app.json"], ["show", "app.json", "xyz"],
    ["show", "app.json", "-5"], ["top", "-n", "0", "app.json"], ["top", "--by", "x", "a"],
    ["diff", "a.json"], ["strip-duplicates", "in"], ["summarize", "--bogus", "a"],
])
def test_bad_usage_exits_2(args, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(args)
    assert info.value.code == 2
    assert "usage: meliae" in capsys.readouterr().err


def test_help_lists_every_command_with_examples(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("summarize", "top", "show", "path", "suspects", "diff",
                 "strip-duplicates", "run", "demo"):
        assert name in out
    assert "examples:" in out and "Exit status" in out
    for name in ("summarize", "top", "show", "path", "suspects", "diff", "strip-duplicates"):
        with pytest.raises(SystemExit):
            cli.main([name, "--help"])
        sub = capsys.readouterr().out
        assert "examples:" in sub and "meliae %s" % name in sub


def test_python_dash_m_and_exit_status() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    r = subprocess.run([sys.executable, "-m", "meliae", "summarize", str(DATA / "app.json")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0
    assert r.stdout == (DATA / "summarize.out").read_text()
    r = subprocess.run([sys.executable, "-m", "meliae", "top", "-n"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 2


def test_pass_through_commands(monkeypatch) -> None:
    import types

    seen = {}
    fake = types.ModuleType("meliae._run")
    fake.main = lambda argv: seen.setdefault("run", argv) and 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "meliae._run", fake)
    assert cli.main(["run", "--dump-at-exit", "x.json", "app.py", "--flag"]) == 7
    assert seen["run"] == ["--dump-at-exit", "x.json", "app.py", "--flag"]


# --- strip-duplicates ---------------------------------------------------------------------

def _dup_lines() -> List[str]:
    lines = (DATA / "app.json").read_text().splitlines()
    objs = lines[1:-1]
    # repeat two objects with different content: the first occurrence must win
    changed = objs[1].replace('"size": 52', '"size": 999')
    return [lines[0]] + objs[:5] + [changed, objs[0]] + objs[5:] + [lines[-1]]


def test_strip_duplicates(tmp_path, capsys) -> None:
    src = tmp_path / "dups.json"
    src.write_text("\n".join(_dup_lines()) + "\n")
    out = tmp_path / "clean.json"
    rc, _, err = run(["strip-duplicates", str(src), str(out)], capsys)
    assert rc == 0
    assert "2 duplicates removed" in err
    assert out.read_text() == (DATA / "app.json").read_text()


def test_strip_duplicates_gzip_in_and_out_and_trailer_count(tmp_path, capsys) -> None:
    lines = _dup_lines()
    lines[-1] = '{"meliae": "end", "objects": 16, "complete": true}'
    src = tmp_path / "dups.json.gz"
    src.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    out = tmp_path / "clean.json.gz"
    rc, _, _ = run(["strip-duplicates", "--quiet", str(src), str(out)], capsys)
    assert rc == 0
    text = gzip.decompress(out.read_bytes()).decode()
    assert text.splitlines()[-1] == '{"meliae": "end", "objects": 14, "complete": true}'
    assert text.splitlines()[:-1] == (DATA / "app.json").read_text().splitlines()[:-1]


def test_strip_duplicates_classic_array_form(tmp_path, capsys) -> None:
    src = tmp_path / "old.json"
    src.write_text('[\n{"address": 1, "type": "int", "size": 24, "refs": []},\n'
                   '{"address": 1, "type": "int", "size": 24, "refs": []},\n'
                   '{"address": 2, "type": "str", "size": 50, "refs": []}\n]\n')
    out = tmp_path / "new.json"
    rc, _, _ = run(["strip-duplicates", "-q", str(src), str(out)], capsys)
    assert rc == 0
    assert out.read_text() == ('{"address": 1, "type": "int", "size": 24, "refs": []}\n'
                               '{"address": 2, "type": "str", "size": 50, "refs": []}\n')


def test_strip_duplicates_missing_input(tmp_path, capsys) -> None:
    rc, _, err = run(["strip-duplicates", str(tmp_path / "no"), str(tmp_path / "o")], capsys)
    assert rc == 1
    assert err.startswith("meliae: error: %s: " % (tmp_path / "no"))


def test_diff_of_other_process_says_no_address_was_kept(tmp_path: Path, capsys) -> None:
    """Dumps of two processes share no address: the text says so and still
    compares per type (rows without a change are counted, not listed)."""
    moved = tmp_path / "moved.json"
    with open(DATA / "app.json") as src, open(moved, "w") as dst:
        for line in src:
            rec = json.loads(line)
            if "address" in rec:
                rec["address"] += 1 << 40
                rec["refs"] = [r + (1 << 40) for r in rec.get("refs", [])]
                if "type_addr" in rec:
                    rec["type_addr"] += 1 << 40
            elif "roots" in rec:
                for r in rec["roots"]:
                    r["address"] += 1 << 40
            dst.write(json.dumps(rec) + "\n")
    code = cli.main(["diff", "--quiet", str(DATA / "app.json"), str(moved)])
    out = capsys.readouterr().out
    assert code == 0
    assert "kept 0 objects" in out
    assert "no object kept its address" in out
    assert "+0        +0" not in out
