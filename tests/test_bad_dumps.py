"""The bad-dump corpus (tests/data/bad/) through the Python API and the CLI.

Every file is loaded in a child process, so that a crash shows up as a
failed test (with its signal) instead of taking pytest down, and under a
timeout, so that a hang does too.  For each file the expectations in
tests/data/bad/expected.json give the outcome (error, warning or a clean
load), the acceptable MEL_E* codes, the number of objects kept and the
location: the message must name ``FILE:LINE:COLUMN``.  Columns are derived
from the file itself (the first occurrence of a piece of text in the bad
line), not from the reader's own output.
"""
from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
CASES: List[Dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())["cases"]
TIMEOUT = 180

# MEL_E* names and their values (src/libmeliae/meliae.h, enum mel_status).
CODES = {
    "ENOMEM": -1, "EIO": -2, "ESYNTAX": -3, "EFIELD": -4, "ERANGE": -5, "EVERSION": -6,
    "EENCODING": -7, "ELIMIT": -8, "EEMPTY": -9, "ECOMPRESS": -10, "ECANCELED": -11,
    "EINVAL": -12, "ENOTFOUND": -13, "EUNSUPPORTED": -14,
}

# Runs in the child: loads argv[1] and prints what happened as one JSON line.
CHILD = textwrap.dedent("""
    import json, sys, warnings
    from meliae import loader
    path, strict, how = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
    out = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if how == "path":
                om = loader.load(path, show_prog=False, strict=strict)
            elif how == "file":
                with open(path, "rb") as f:
                    om = loader.load(f, show_prog=False, strict=strict)
            else:
                with open(path, "rb") as f:
                    om = loader.load(list(f), show_prog=False, strict=strict)
        except loader.DumpError as e:
            out["error"] = {"str": str(e), "code": getattr(e, "code", None),
                            "line": getattr(e, "line", None),
                            "column": getattr(e, "column", None)}
        else:
            r = om.load_report
            out["objects"] = r.objects
            out["duplicates"] = r.duplicates
            out["bad_lines"] = r.bad_lines
            out["truncated"] = r.truncated
            out["first_bad"] = r.first_bad
            out["live"] = len(om)
    out["warnings"] = [str(w.message) for w in caught
                       if issubclass(w.category, loader.DumpWarning)]
    print(json.dumps(out))
""")


def _have_zstd() -> bool:
    """Whether the build under test reads zstd (asked in a child process)."""
    probe = subprocess.run(
        [sys.executable, "-c", "from meliae import _engine; "
         "print(int(getattr(_engine, 'have_zstd', lambda: 1)()))"],
        capture_output=True, text=True, timeout=60)
    return probe.stdout.strip() == "1"


def _raw_lines(path: Path) -> List[bytes]:
    """The file's lines (decompressed), without their line ends."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = zlib.decompressobj(31).decompress(data)
    return data.split(b"\n")


def _column(case: Dict[str, Any], path: Path) -> Optional[int]:
    """The expected 1-based byte column, from the file's own bytes."""
    if "column" in case:
        return int(case["column"])
    at = case.get("column_at")
    if at is None:
        return None
    line = _raw_lines(path)[case["line"] - 1].rstrip(b"\r")
    if at == "<eol>":
        return len(line) + 1
    pos = line.find(at.encode("latin-1"))
    assert pos >= 0, "expected.json: %r not in line %d of %s" % (at, case["line"], path.name)
    return pos + 1


def _gzip_prefix_objects(path: Path) -> int:
    """Object lines that decompress completely from a cut gzip file (zlib's count)."""
    data = zlib.decompressobj(31).decompress(path.read_bytes())
    complete = data[: data.rfind(b"\n") + 1].split(b"\n")[:-1]
    return sum(1 for ln in complete if ln.startswith(b'{"address"'))


def _location(case: Dict[str, Any], path: Path, shown: str) -> str:
    """The FILE:LINE[:COLUMN] text the messages must contain (FILE alone
    when the case has no line: input without any object)."""
    if "line" not in case:
        return shown
    col = _column(case, path)
    loc = "%s:%d" % (shown, case["line"])
    return loc + (":%d" % col if col is not None else ":")


def _run_child(path: Path, strict: bool, how: str = "path") -> Dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), "1" if strict else "0", how],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, "loading %s failed outside DumpError (status %d):\n%s" % (
        path.name, proc.returncode, proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _objects_ok(case: Dict[str, Any], got: int) -> bool:
    want = case["objects"]
    return got in want if isinstance(want, list) else got == want


def _unsupported_here(case: Dict[str, Any]) -> bool:
    """True for a zstd case on a build without zstd, after checking that the
    build says so (EUNSUPPORTED, naming the file) instead of misreading it."""
    if case.get("needs") != "zstd" or _have_zstd():
        return False
    res = _run_child(CORPUS / case["file"], strict=False)
    assert "error" in res and res["error"]["code"] == CODES["EUNSUPPORTED"], res
    assert case["file"] in res["error"]["str"]
    return True


@pytest.fixture(params=CASES, ids=[c["file"] for c in CASES])
def case(request: pytest.FixtureRequest) -> Dict[str, Any]:
    return request.param


def test_expectations_cover_every_file() -> None:
    # GIVEN the corpus folder WHEN listing it THEN every dump has an expectation.
    files = {p.name for p in CORPUS.iterdir() if p.name != "expected.json"}
    assert files == {c["file"] for c in CASES}


def test_python_api(case: Dict[str, Any]) -> None:
    """meliae.loader.load(path): the error or warning names FILE:LINE:COLUMN."""
    path = CORPUS / case["file"]
    if _unsupported_here(case):
        return
    res = _run_child(path, strict=False)
    outcome = case["outcome"]
    if outcome == "error":
        assert "error" in res, res
        err = res["error"]
        assert err["code"] in [CODES[c] for c in case["codes"]], err
        assert _location(case, path, str(path)) in err["str"], err["str"]
        return
    assert "error" not in res, res
    assert _objects_ok(case, res["objects"]), res
    if "duplicates" in case:
        assert res["duplicates"] == case["duplicates"]
    if case.get("truncated"):
        assert res["truncated"], res
    if outcome == "ok" or (outcome == "ok_or_warning" and not res["warnings"]):
        assert res["warnings"] == [] and res["bad_lines"] == 0, res
        return
    # A warning: it names the file, the line and (when known) the column.
    assert res["warnings"], res
    loc = _location(case, path, str(path))
    assert any(loc in w for w in res["warnings"]), (loc, res["warnings"])
    if "codes" in case and res["first_bad"] is not None:
        assert loc in res["first_bad"], res["first_bad"]


def test_python_api_strict(case: Dict[str, Any]) -> None:
    """strict=True turns a skipped line into a DumpError at the same place."""
    path = CORPUS / case["file"]
    if _unsupported_here(case):
        return
    res = _run_child(path, strict=True)
    if case["outcome"] in ("ok",):
        assert "error" not in res and res["warnings"] == [], res
        return
    if case["outcome"] == "ok_or_warning" and "error" not in res:
        return
    if case["outcome"] == "warning" and "codes" not in case:
        # Only the trailer is missing: no bad line, so strict loads too.
        assert "error" not in res and res["truncated"], res
        return
    assert "error" in res, res
    assert res["error"]["code"] in [CODES[c] for c in case["codes"]], res
    assert _location(case, path, str(path)) in res["error"]["str"], res["error"]["str"]


# A list of lines is text: compressed files are only given as file objects.
# (A zstd file object on a build without zstd fails like its path: EUNSUPPORTED.)
SOURCES = [(c, how) for c in CASES for how in ("file", "lines")
           if not (how == "lines" and c["file"].endswith((".gz", ".zst")))]


@pytest.mark.parametrize("case,how", SOURCES, ids=["%s-%s" % (c["file"], h) for c, h in SOURCES])
def test_file_objects_and_lines_agree(case: Dict[str, Any], how: str) -> None:
    """A file object or a list of lines gives the outcome of the path."""
    path = CORPUS / case["file"]
    by_path = _run_child(path, strict=False)
    other = _run_child(path, strict=False, how=how)
    assert ("error" in by_path) == ("error" in other), (by_path, other)
    if "error" in by_path:
        assert other["error"]["code"] == by_path["error"]["code"]
        assert (other["error"]["line"], other["error"]["column"]) == \
            (by_path["error"]["line"], by_path["error"]["column"])
    else:
        assert other["objects"] == by_path["objects"]
        assert other["bad_lines"] == by_path["bad_lines"]
        assert other["truncated"] == by_path["truncated"]
        if case["outcome"] == "warning":
            shown = str(path) if how == "file" else "<lines>"
            loc = _location(case, path, shown)
            assert any(loc in w for w in other["warnings"]), (loc, other["warnings"])


def test_cli(case: Dict[str, Any]) -> None:
    """`meliae summarize FILE`: exit 1 and one located line for an error."""
    path = CORPUS / case["file"]
    if _unsupported_here(case):
        return
    proc = subprocess.run([sys.executable, "-m", "meliae", "summarize", str(path)],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode in (0, 1), "status %d:\n%s" % (proc.returncode, proc.stderr[-3000:])
    loc = _location(case, path, str(path))
    if case["outcome"] == "error":
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("meliae: error: " + loc), lines[0]
        return
    assert proc.returncode == 0, proc.stderr
    assert "Total" in proc.stdout
    if case["outcome"] == "warning":
        assert loc in proc.stderr, proc.stderr
    elif case["outcome"] == "ok":
        assert "error" not in proc.stderr.lower(), proc.stderr


def test_gzip_cut_count_matches_zlib() -> None:
    """The objects kept from a cut gzip stream are exactly those zlib can inflate."""
    case = next(c for c in CASES if c["file"] == "gzip_cut_short.json.gz")
    assert case["objects"] == _gzip_prefix_objects(CORPUS / case["file"])
    res = _run_child(CORPUS / case["file"], strict=False)
    assert res.get("objects") == case["objects"], res


def test_ten_megabyte_line_uncompressed(tmp_path: Path) -> None:
    """The 10 MiB line also loads from a plain file, and its object is whole."""
    src = CORPUS / "long_line_10mb.json.gz"
    plain = tmp_path / "long_line_10mb.json"
    with gzip.open(src, "rb") as f, open(plain, "wb") as out:
        shutil.copyfileobj(f, out)
    res = _run_child(plain, strict=True)
    assert "error" not in res and res["objects"] == 5 and res["warnings"] == [], res
    code = ("from meliae import loader\n"
            "om = loader.load(%r, show_prog=False)\n"
            "o = om[1001]\n"
            "print(o.size, len(o.value))\n" % str(plain))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    size, vlen = map(int, proc.stdout.split())
    assert size == 10 * 1024 * 1024 + 49
    assert 0 < vlen <= 10 * 1024 * 1024


CUTTER = textwrap.dedent("""
    import re, sys, warnings
    from meliae import loader
    warnings.simplefilter("ignore")
    for path in sys.argv[1:]:
        data = open(path, "rb").read()
        for frac in (0.1, 0.5, 0.9):
            cut = data[: int(len(data) * frac)]
            sys.stderr.write("%s cut at %d bytes\\n" % (path, len(cut)))
            sys.stderr.flush()
            try:
                loader.load([cut], show_prog=False)
            except loader.DumpError as e:
                if e.code != -9 and not re.search(r":[0-9]+:[0-9]+: ", str(e)):
                    print("unlocated error: %s" % e)
    print("done")
""")


def test_cut_files_never_hang_or_crash() -> None:
    """Every corpus file cut at 10%, 50% and 90%: each load ends, with no
    crash, and every error but "no objects" names its line and column."""
    files = [str(CORPUS / c["file"]) for c in CASES
             if not c["file"].endswith((".gz", ".zst"))]
    proc = subprocess.run([sys.executable, "-c", CUTTER] + files, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, "crashed (status %d) after:\n%s" % (
        proc.returncode, "\n".join(proc.stderr.splitlines()[-3:]))
    assert proc.stdout.strip().splitlines() == ["done"], proc.stdout
