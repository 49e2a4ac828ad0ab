"""Dumps hold a process's secrets: values can be left out, and files are private.

A workload carries secrets as str (ASCII, Latin-1, BMP and astral text),
bytes, dict keys and values, instance attributes, closure cells and frame
locals.  A redacted dump (``include_values=False``) must contain none of
them in any spelling the writer could use (raw, JSON-escaped, per-byte
escaped); the same workload dumped with values must contain them (so the
search can fail).  Dump files are created mode 0600 whatever the umask.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest

TIMEOUT = 300

SECRETS = [
    "hunter2-Sup3rS3cret-password",
    "AKIAIOSFODNN7EXAMPLE",
    "tok\u00e9n-\u00e7a-\u00fc\u00df-latin1",
    "\u79d8\u5bc6\u306e\u30ad\u30fc-bmp",
    "astral-\U0001f511\U0001f510-key",
]
SECRET_BYTES = b"\x00\xffraw-bytes-secret\x80\x81"

WORKLOAD = textwrap.dedent('''
    import sys
    from meliae import scanner
    SECRETS = %r
    SECRET_BYTES = %r

    class Account:
        def __init__(self, user, password):
            self.user = user
            self.password = password

    def make_closure(s):
        def f():
            return s
        return f

    def suspended(s):
        local_secret = s + "-frame-local"
        yield local_secret

    keep = {
        "accounts": [Account("u%%d" %% i, s + "-attr") for i, s in enumerate(SECRETS)],
        "by_key": {s + "-key": s + "-value" for s in SECRETS},
        "closures": [make_closure(s + "-cell") for s in SECRETS],
        "bytes": [SECRET_BYTES, bytearray(SECRET_BYTES)],
        "gens": [suspended(s) for s in SECRETS],
    }
    for g in keep["gens"]:
        next(g)
    target, mode = sys.argv[1], sys.argv[2]
    scanner.dump_all_objects(target, include_values=(mode == "values"))
    print("OK")
''') % (SECRETS, SECRET_BYTES)


def _spellings(text: str) -> List[bytes]:
    """Every way a writer could put text into a dump line."""
    out = [text.encode("utf-8"), text.encode("utf-8", "surrogatepass")]
    esc = json.dumps(text)[1:-1]                      # \\uXXXX for non-ASCII
    out.append(esc.encode("ascii"))
    out.append(esc.lower().encode("ascii"))
    out.append(json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8"))
    try:
        latin = text.encode("latin-1")
        out.append(latin)
        out.append("".join("\\u%04x" % b if b >= 0x80 else chr(b) for b in latin).encode())
    except UnicodeEncodeError:
        pass
    # Fragments: a value cut at the truncation limit still leaks its start.
    out.append(esc[:12].encode("ascii"))
    return [s for s in out if len(s) >= 8]


def _byte_spellings(data: bytes) -> List[bytes]:
    core = data.strip(b"\x00\xff\x80\x81")
    return [core, "".join("\\u%04x" % b if b >= 0x80 or b < 0x20 else chr(b)
                          for b in data).encode()]


def _dump(tmp_path: Path, name: str, mode: str) -> bytes:
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    target = tmp_path / name
    proc = subprocess.run([sys.executable, str(script), str(target), mode],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr[-3000:]
    data = target.read_bytes()
    if name.endswith(".gz"):
        import gzip
        data = gzip.decompress(data)
    return data


def test_values_appear_without_redaction(tmp_path: Path) -> None:
    """The control: with values on, each secret is found (the search works)."""
    data = _dump(tmp_path, "full.json", "values")
    for s in SECRETS:
        assert any(sp in data for sp in _spellings(s)), s
    assert any(sp in data for sp in _byte_spellings(SECRET_BYTES))


@pytest.mark.parametrize("name", ["redacted.json", "redacted.json.gz"])
def test_redacted_dump_holds_no_secret(tmp_path: Path, name: str) -> None:
    """GIVEN a secret-bearing workload WHEN dumped with include_values=False
    THEN no secret (str or bytes, in any spelling) is in the file, the header
    says values are off, and only bool values remain."""
    data = _dump(tmp_path, name, "redacted")
    for s in SECRETS:
        for sp in _spellings(s):
            assert sp not in data, (s, sp)
        for suffix in ("-attr", "-key", "-value", "-cell", "-frame-local"):
            assert (s + suffix).encode("utf-8") not in data
    for sp in _byte_spellings(SECRET_BYTES):
        assert sp not in data, sp
    lines = data.splitlines()
    header = json.loads(lines[0])
    assert header["values"] is False
    kinds = set()
    for ln in lines[1:-1]:
        o = json.loads(ln)
        if "value" in o:
            kinds.add(o["type"])
            assert o["value"] in ("True", "False"), o
    assert kinds <= {"bool"}, kinds


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


PERMS = textwrap.dedent('''
    import os, sys, signal, time
    from meliae import scanner
    os.umask(0)
    scanner.dump_all_objects("plain.json")
    scanner.dump_all_objects("compressed.json.gz")
    scanner.dump_on_signal(signal.SIGUSR2, "signal-{n}.json")
    os.kill(os.getpid(), signal.SIGUSR2)
    time.sleep(0.2)
    print("OK")
''')


def test_dump_files_are_private(tmp_path: Path) -> None:
    """GIVEN umask 0 WHEN dumping to a path, a .gz path and from the signal
    handler THEN each file is created with mode 0600."""
    (tmp_path / "perm.py").write_text(PERMS)
    proc = subprocess.run([sys.executable, "perm.py"], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=str(tmp_path))
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr[-3000:]
    for name in ("plain.json", "compressed.json.gz", "signal-1.json"):
        assert _mode(tmp_path / name) == 0o600, (name, oct(_mode(tmp_path / name)))


def test_run_dump_at_exit_is_private(tmp_path: Path) -> None:
    """`python -m meliae run --dump-at-exit` writes its dump 0600 too."""
    (tmp_path / "app.py").write_text("data = ['x'] * 10\n")
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-c", "import os, sys, runpy; os.umask(0); "
         "sys.argv = ['meliae', 'run', '--dump-at-exit', 'exit.json', 'app.py']; "
         "runpy.run_module('meliae', run_name='__main__')"],
        capture_output=True, text=True, timeout=TIMEOUT, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _mode(tmp_path / "exit.json") == 0o600


def test_existing_file_is_made_private(tmp_path: Path) -> None:
    """GIVEN a world-readable file already at the dump path WHEN dumping over
    it THEN the dump does not stay world-readable."""
    target = tmp_path / "old.json"
    target.write_text("old content\n")
    os.chmod(target, 0o644)
    code = "from meliae import scanner; scanner.dump_all_objects(%r)" % str(target)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _mode(target) & 0o077 == 0, oct(_mode(target))
