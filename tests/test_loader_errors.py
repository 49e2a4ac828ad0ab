"""Loading errors, warnings, the load report, progress and interruption."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import warnings

import pytest

from meliae import _engine, loader

HEADER = ('{"meliae": "dump", "format": "meliae-dump", "version": [2, 0], '
          '"python": "3.11.7", "implementation": "CPython", "pointer_size": 8, '
          '"gc_head_size": 16, "pid": 1, "time": 1.5, "argv": [], "entry": "dump_all_objects", '
          '"value_limit": 100, "values": true, "roots": []}')
OBJ1 = '{"address": 1, "type": "list", "size": 72, "len": 1, "refs": [2]}'
OBJ2 = '{"address": 2, "type": "int", "size": 28, "value": 5, "refs": []}'
TRAILER = '{"meliae": "end", "objects": 2, "complete": true}'


def load(lines, **kw):
    kw.setdefault("show_prog", False)
    return loader.load(lines, **kw)


def test_clean_dump_has_a_clean_report() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        om = load([HEADER, OBJ1, OBJ2, TRAILER])
    r = om.load_report
    assert (r.lines, r.objects, r.bad_lines, r.duplicates) == (4, 2, 0, 0)
    assert r.has_header and r.has_trailer and r.complete and not r.truncated
    assert not r.classic
    assert r.version == (2, 0)
    assert r.python_version == "3.11.7"
    assert r.pointer_size == 8
    assert r.first_bad is None


def test_truncated_dump_warns_and_loads_what_is_there() -> None:
    # three lines read: the trailer was due on line 4
    with pytest.warns(loader.DumpWarning, match=r"^<lines>:4:1: the dump is truncated"):
        om = load([HEADER, OBJ1, OBJ2])
    assert om.load_report.truncated
    assert sorted(om.objs.keys()) == [1, 2]


def test_incomplete_trailer_warns() -> None:
    with pytest.warns(loader.DumpWarning, match="stopped early"):
        om = load([HEADER, OBJ1, OBJ2, '{"meliae": "end", "objects": 2, "complete": false}'])
    assert om.load_report.has_trailer and not om.load_report.complete


def test_classic_dump_is_never_truncated() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        om = load([OBJ1, OBJ2])
    assert om.load_report.classic and not om.load_report.truncated


def test_bad_line_is_skipped_with_a_located_warning() -> None:
    with pytest.warns(loader.DumpWarning) as record:
        om = load([HEADER, OBJ1, '{"address": 3, "type": "x", "size": }', OBJ2, TRAILER])
    r = om.load_report
    assert r.bad_lines == 1
    assert r.first_bad is not None and r.first_bad.startswith("<lines>:3:")
    assert sorted(om.objs.keys()) == [1, 2]
    assert any("skipped 1 bad line" in str(w.message) for w in record)


def test_strict_raises_dump_error_with_location() -> None:
    with pytest.raises(loader.DumpError) as info:
        load([HEADER, OBJ1, '{"address": 3, "type": "x", "size": }', OBJ2, TRAILER],
             strict=True)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.filename == "<lines>"
    assert err.line == 3
    # the first byte that cannot start a JSON value is the "}" (1-based column 38)
    assert err.column == len('{"address": 3, "type": "x", "size": ') + 1
    assert str(err).startswith("<lines>:3:%d: " % err.column)


def test_dump_error_names_the_file(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(OBJ1 + "\n" + '{"address": "two", "type": "x", "size": 1, "refs": []}\n')
    with pytest.raises(loader.DumpError) as info:
        loader.load(str(path), show_prog=False, strict=True)
    assert str(info.value).startswith("%s:2:" % path)
    assert info.value.line == 2


def test_unknown_major_version_is_refused() -> None:
    header = HEADER.replace("[2, 0]", "[3, 0]")
    with pytest.raises(loader.DumpError, match="version"):
        load([header, OBJ1, OBJ2, TRAILER])


def test_newer_minor_version_is_accepted() -> None:
    om = load([HEADER.replace("[2, 0]", "[2, 7]"), OBJ1, OBJ2, TRAILER])
    assert om.load_report.version == (2, 7)


def test_empty_input_is_a_dump_error() -> None:
    with pytest.raises(loader.DumpError):
        load([])


def test_missing_file_is_os_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        loader.load(str(tmp_path / "nope.json"), show_prog=False)
    assert info.value.filename == str(tmp_path / "nope.json")


def test_non_line_items_are_type_errors() -> None:
    with pytest.raises(TypeError):
        load([OBJ1, 42])


def test_stdin_dash() -> None:
    code = ("import sys; from meliae import loader; om = loader.load('-', show_prog=False, "
            "collapse=False); print(sorted(om.objs.keys()), om.load_report.source)")
    out = subprocess.run([sys.executable, "-c", code], input=OBJ1 + "\n" + OBJ2 + "\n",
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[1, 2] <stdin>"


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def _many_lines(n: int):
    yield HEADER
    for a in range(1, n + 1):
        yield '{"address": %d, "type": "int", "size": 28, "value": %d, "refs": []}' % (a, a)
    yield '{"meliae": "end", "objects": %d, "complete": true}' % n


def test_progress_on_a_terminal(monkeypatch) -> None:
    stream = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stream)
    om = loader.load(list(_many_lines(150000)), collapse=False)
    assert len(om.objs) == 150000
    text = stream.getvalue()
    assert "loading... line " in text
    assert " objs, " in text and " MiB read in " in text and " lines/s)" in text
    # the final line, newline-terminated
    assert "loaded line 150002, 150000 objs" in text
    assert text.endswith("\n")


def test_no_progress_when_not_a_terminal_or_disabled(monkeypatch, capsys) -> None:
    loader.load(list(_many_lines(70000)), collapse=False)
    assert capsys.readouterr().err == ""
    stream = FakeTTY()
    monkeypatch.setattr(sys, "stderr", stream)
    loader.load(list(_many_lines(70000)), collapse=False, show_prog=False)
    assert stream.getvalue() == ""


def test_progress_callback_exception_cancels_the_load() -> None:
    calls = []

    def progress(phase, lines, objects, bytes_read, bytes_total):
        calls.append((phase, lines))
        raise KeyboardInterrupt

    ld = _engine.Loader(progress=progress, progress_every=10)
    data = "".join(line + "\n" for line in _many_lines(1000)).encode()
    with pytest.raises(KeyboardInterrupt):
        ld.feed(data)
        ld.finish()
    assert calls and calls[0][0] == "loading"


def test_progress_callback_sees_growing_counts(tmp_path) -> None:
    path = tmp_path / "d.json"
    path.write_text("".join(line + "\n" for line in _many_lines(5000)))
    seen = []
    graph, report = _engine.load_path(
        str(path), progress=lambda *a: seen.append(a), progress_every=1000)
    assert report["objects"] == 5000
    lines = [s[1] for s in seen if s[0] == "loading"]
    assert lines == sorted(lines) and len(lines) >= 4
    assert all(s[4] == os.path.getsize(path) for s in seen if s[0] == "loading")


def test_binding_rejects_bad_indexes() -> None:
    om = load([OBJ1, OBJ2], collapse=False)
    g = om._g
    with pytest.raises(IndexError):
        g.size(10 ** 6)
    with pytest.raises(IndexError):
        g.size(-1)
    with pytest.raises(TypeError):
        g.size("0")
    assert g.lookup(-5) is None
    assert g.lookup(2 ** 70) is None
    with pytest.raises(TypeError):
        _engine.Graph()


def _cut_gzip_dump(tmp_path, n: int = 20000):
    """A gzip dump of n objects cut at 60%, and how many object lines zlib
    itself inflates completely from the cut bytes."""
    import gzip
    import zlib
    data = "".join(line + "\n" for line in _many_lines(n)).encode()
    packed = gzip.compress(data, compresslevel=6)
    cut = packed[: len(packed) * 6 // 10]
    path = tmp_path / "cut.json.gz"
    path.write_bytes(cut)
    inflated = zlib.decompressobj(31).decompress(cut)
    complete = inflated[: inflated.rfind(b"\n") + 1].split(b"\n")[:-1]
    return path, sum(1 for ln in complete if ln.startswith(b'{"address"'))


def test_cut_gzip_file_object_loads_like_its_path(tmp_path) -> None:
    path, by_zlib = _cut_gzip_dump(tmp_path)
    assert 0 < by_zlib < 20000
    with pytest.warns(loader.DumpWarning) as by_path_w:
        by_path = loader.load(str(path), show_prog=False, collapse=False)
    with open(path, "rb") as f, pytest.warns(loader.DumpWarning) as by_file_w:
        by_file = loader.load(f, show_prog=False, collapse=False)
    assert by_path.load_report.objects == by_file.load_report.objects == by_zlib
    assert by_file.load_report.truncated
    assert by_file.load_report.bad_lines == by_path.load_report.bad_lines
    assert by_file.load_report.first_bad == by_path.load_report.first_bad
    located = r"^%s:\d+:\d+: " % re.escape(str(path))
    for record in (by_path_w, by_file_w):
        texts = [str(w.message) for w in record]
        assert any(re.match(located + "the dump is truncated", t) for t in texts), texts


def test_cut_gzip_decompressing_file_object_keeps_what_it_gave(tmp_path) -> None:
    import gzip
    path, by_zlib = _cut_gzip_dump(tmp_path)
    with gzip.open(path, "rb") as f, pytest.warns(loader.DumpWarning) as record:
        om = loader.load(f, show_prog=False, collapse=False)
    r = om.load_report
    # GzipFile drops the part of its last read that hit the cut: at most zlib's count
    assert 0 < r.objects <= by_zlib
    assert r.truncated
    texts = [str(w.message) for w in record]
    ends = [t for t in texts if "the compressed stream ends early" in t]
    assert len(ends) == 1, texts
    assert re.match(r"^%s:%d:1: " % (re.escape(str(path)), r.lines + 1), ends[0]), ends[0]


def test_cut_gzip_file_object_strict_fails_where_the_path_does(tmp_path) -> None:
    path, _ = _cut_gzip_dump(tmp_path)
    with pytest.raises(loader.DumpError) as by_path:
        loader.load(str(path), show_prog=False, strict=True)
    with open(path, "rb") as f, pytest.raises(loader.DumpError) as by_file:
        loader.load(f, show_prog=False, strict=True)
    assert (by_file.value.line, by_file.value.column, by_file.value.code) == \
        (by_path.value.line, by_path.value.column, by_path.value.code)
    assert str(by_file.value).startswith("%s:%d:" % (path, by_path.value.line))
