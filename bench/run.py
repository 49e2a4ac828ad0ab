#!/usr/bin/env python3
"""Run the benchmark suite and write bench/RESULTS.md.

    python bench/run.py                 # full run (100k and 1M everywhere, 10M on webapp)
    python bench/run.py --quick         # smoke run, writes bench/out/RESULTS-quick.md
    python bench/run.py --sizes 100k,1M --workloads webapp,instances --reps 5

Every measurement runs in a fresh subprocess (bench/peers/capture.py or
bench/peers/analyze.py) that prints one JSON line; this script repeats each
one, takes medians and min-max, computes ratios against the pure-Python
baseline of the same invocation, and writes the tables, the plot and the
targets check.  It needs only the standard library; the tools run in
virtualenvs it creates under build/ (see bench/README.md).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(ROOT, "build")
OUT = os.path.join(HERE, "out")   # raw records, quick results; dumps go to a per-mode scratch dir
SCRATCH = [os.path.join(OUT, "scratch")]
LOGS = os.path.join(BUILD, "bench-logs")
PYENV = "/root/.pyenv/versions"

MAIN_PY = "3.11"       # peers and ours, side by side
OURS_NEAR_CLASSIC = "3.10"  # the oldest Python we support, nearest to the classic build
CLASSIC_TRY = ("3.10", "3.9", "3.8")
CLASSIC_VERSION = "0.5.1"
PEERS = ("guppy3", "pympler", "objgraph", "matplotlib")

CAPTURE_TOOLS = ("ours", "purepy", "guppy3", "pympler", "objgraph", "tracemalloc")
TOOL_LABEL = {
    "ours": "meliae `dump_all_objects`",
    "purepy": "pure Python (gc + referents + json)",
    "guppy3": "guppy3 `hpy().heap()`",
    "pympler": "Pympler `muppy.get_objects()` + `summarize()`",
    "objgraph": "objgraph `typestats()`",
    "tracemalloc": "tracemalloc `take_snapshot()`",
    "classic": "classic Meliae `dump_all_objects`",
}
ANALYSIS_LABEL = {
    "ours": "meliae load + summarize + parents + dominators",
    "purepy": "pure Python json per line + histogram + parents",
    "classic": "classic Meliae `load()` + `summarize()`",
    "wc": "`wc -l` (floor)",
    "cat": "`cat > /dev/null` (floor)",
}
OTHER_SECTIONS = (
    ("## Dump", "bench_dump.py"),
    ("## Load", "bench_load.py"),
    ("## Dominators and paths", None),
)
SYNTH = "synthetic (bench/gendump.c)"
MY_SECTIONS = ("## Capture side", "## Classic Meliae", "## Analysis side", "## Plot",
               "## Targets", "## Setup notes")


# --------------------------------------------------------------------------- utils

def log(msg: str) -> None:
    """Progress on stderr, with a timestamp."""
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def parse_size(text: str) -> int:
    """'100k' -> 100000, '1M' -> 1000000, '2500' -> 2500."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError("bad size %r (use e.g. 100k, 1M, 10M)" % text)
    mult = {"": 1, "k": 1000, "m": 1000000}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def size_label(n: int) -> str:
    """1000000 -> '1M', 100000 -> '100k'."""
    if n >= 1000000 and n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


def run_logged(cmd: Sequence[str], logname: str, timeout: float,
               cwd: Optional[str] = None, env: Optional[Dict[str, str]] = None) -> int:
    """Run a setup command, output to build/bench-logs/<logname>; its exit code."""
    os.makedirs(LOGS, exist_ok=True)
    path = os.path.join(LOGS, logname)
    with open(path, "a") as f:
        f.write("$ %s\n" % " ".join(cmd))
        f.flush()
        try:
            return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=cwd,
                                  env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            f.write("timed out after %d s\n" % timeout)
            return -1


def pyenv_python(minor: str) -> Optional[str]:
    """The pyenv interpreter for '3.11' etc., or None."""
    if not os.path.isdir(PYENV):
        return None
    for name in sorted(os.listdir(PYENV), reverse=True):
        if name == minor or name.startswith(minor + "."):
            exe = os.path.join(PYENV, name, "bin", "python3")
            if os.path.exists(exe):
                return exe
    return None


def venv_python(venv: str) -> str:
    return os.path.join(venv, "bin", "python")


def tail_of(path: str, n: int = 400) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


# --------------------------------------------------------------------------- setup

class Setup:
    """The virtualenvs the suite runs in, and what went wrong making them."""

    def __init__(self) -> None:
        self.main: Optional[str] = None          # python of build/bench-venv-3.11
        self.near: Optional[str] = None          # python of build/bench-venv-3.10
        self.classic: Optional[str] = None       # python of the classic Meliae venv
        self.classic_py: Optional[str] = None    # '3.8' etc.
        self.ours_ok: Dict[str, bool] = {}
        self.notes: List[str] = []

    def make_venv(self, minor: str, name: str, packages: Iterable[str]) -> Optional[str]:
        base = pyenv_python(minor)
        if base is None:
            self.notes.append("Python %s is not installed (pyenv): %s skipped." % (minor, name))
            return None
        venv = os.path.join(BUILD, name)
        py = venv_python(venv)
        marker = os.path.join(venv, ".bench-ready")
        pk = sorted(set(packages))
        if os.path.exists(marker) and open(marker).read().split() == pk:
            return py
        if not os.path.exists(py):
            if run_logged([base, "-m", "venv", venv], name + ".log", 300) != 0:
                self.notes.append("could not create %s (see build/bench-logs/%s.log)"
                                  % (name, name))
                return None
        if pk and run_logged([py, "-m", "pip", "install", "-q"] + pk,
                             name + ".log", 1200) != 0:
            self.notes.append("pip install %s failed in %s (see build/bench-logs/%s.log)"
                              % (" ".join(pk), name, name))
            return None
        with open(marker, "w") as f:
            f.write(" ".join(pk))
        return py

    def install_ours(self, py: str, tag: str, working_tree: bool = False) -> bool:
        """Build meliae into ``py`` from a copy of the committed HEAD (or of the
        working tree), so the figures belong to the commit named in RESULTS.md."""
        tmp = tempfile.mkdtemp(prefix="meliae-bench-src-")
        try:
            if working_tree or not os.path.isdir(os.path.join(ROOT, ".git")):
                for name in ("setup.py", "pyproject.toml", "README.md"):
                    if os.path.exists(os.path.join(ROOT, name)):
                        shutil.copy2(os.path.join(ROOT, name), tmp)
                shutil.copytree(os.path.join(ROOT, "src"), os.path.join(tmp, "src"),
                                ignore=shutil.ignore_patterns("*.so", "__pycache__",
                                                              "*.egg-info"))
            else:
                arch = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT,
                                      stdout=subprocess.PIPE, check=True).stdout
                subprocess.run(["tar", "-x", "-C", tmp], input=arch, check=True)
            rc = run_logged([py, "-m", "pip", "install", "-q", "--no-deps",
                             "--no-build-isolation", "--force-reinstall", tmp],
                            "ours-%s.log" % tag, 1200)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if rc != 0:
            self.notes.append("meliae did not build on Python %s (build/bench-logs/ours-%s.log: "
                              "%s)" % (tag, tag, tail_of(os.path.join(LOGS, "ours-%s.log" % tag),
                                                          200).strip().replace("\n", " ")))
            return False
        return True

    def classic_venv(self) -> None:
        """Build the classic Meliae sdist on the newest Python it builds on."""
        status_path = os.path.join(BUILD, "classic-status.json")
        if os.path.exists(status_path):
            with open(status_path) as f:
                st = json.load(f)
            if st.get("python") and os.path.exists(st["exe"]):
                self.classic, self.classic_py = st["exe"], st["python"]
                self.notes.extend(st.get("notes", []))
                return
        notes: List[str] = []
        dl = os.path.join(BUILD, "classic-sdist")
        os.makedirs(dl, exist_ok=True)
        for minor in CLASSIC_TRY:
            name = "classic-venv-%s" % minor
            py = self.make_venv(minor, name, ["cython<3", "setuptools", "wheel", "six"])
            if py is None:
                notes.append("classic Meliae on %s: no virtualenv" % minor)
                continue
            sdists = [p for p in os.listdir(dl) if p.endswith(".tar.gz")]
            if not sdists:
                run_logged([py, "-m", "pip", "download", "-q", "--no-deps",
                            "--no-binary", ":all:", "-d", dl,
                            "meliae==%s" % CLASSIC_VERSION], name + ".log", 600)
                sdists = [p for p in os.listdir(dl) if p.endswith(".tar.gz")]
            if not sdists:
                notes.append("classic Meliae %s: the sdist could not be downloaded"
                             % CLASSIC_VERSION)
                break
            rc = run_logged([py, "-m", "pip", "install", "--no-build-isolation",
                             os.path.join(dl, sdists[0])], name + ".log", 1200)
            if rc == 0:
                self.classic, self.classic_py = py, minor
                notes.append("classic Meliae %s built on Python %s." % (CLASSIC_VERSION, minor))
                break
            err = ""
            with open(os.path.join(LOGS, name + ".log"), errors="replace") as f:
                for line in f:
                    if "error:" in line and ".c:" in line:
                        err = line.strip()
                        break
            notes.append("classic Meliae %s does not build on Python %s: %s"
                         % (CLASSIC_VERSION, minor, err or "see build/bench-logs/" + name + ".log"))
        self.notes.extend(notes)
        with open(status_path, "w") as f:
            json.dump({"python": self.classic_py, "exe": self.classic, "notes": notes}, f)

    def run(self, want_classic: bool, install: bool, working_tree: bool) -> None:
        self.main = self.make_venv(MAIN_PY, "bench-venv-" + MAIN_PY,
                                   list(PEERS) + ["setuptools", "wheel"])
        self.near = self.make_venv(OURS_NEAR_CLASSIC, "bench-venv-" + OURS_NEAR_CLASSIC,
                                   ["setuptools", "wheel"])
        for tag, py in ((MAIN_PY, self.main), (OURS_NEAR_CLASSIC, self.near)):
            if py and install:
                log("building meliae into the %s venv" % tag)
                self.ours_ok[tag] = self.install_ours(py, tag, working_tree)
        if want_classic:
            log("classic Meliae venv")
            self.classic_venv()


# --------------------------------------------------------------------------- running

def run_json(cmd: Sequence[str], timeout: float, base: Dict[str, Any]) -> Dict[str, Any]:
    """Run one measurement subprocess; its JSON line, or a failure record."""
    rec = dict(base)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        rec.update(status="timeout", error="timed out after %d s" % timeout)
        return rec
    lines = [ln for ln in p.stdout.decode(errors="replace").splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        err = p.stderr.decode(errors="replace").strip().splitlines()
        rec.update(status="error", error="exit %d: %s" % (p.returncode, err[-1] if err else ""),
                   wall=time.perf_counter() - t0)
        return rec
    rec.update(json.loads(lines[-1]))
    return rec


def floor_run(kind: str, dump: str, timeout: float) -> Dict[str, Any]:
    """Time ``wc -l`` or ``cat > /dev/null`` on ``dump`` under /usr/bin/time -v."""
    cmd = ["wc", "-l", dump] if kind == "wc" else ["cat", dump]
    timer = shutil.which("time") or "/usr/bin/time"
    full = [timer, "-v"] + cmd if os.path.exists(timer) else cmd
    rec: Dict[str, Any] = {"side": "analysis", "tool": kind, "dump": dump}
    if not os.path.exists(dump):
        rec.update(status="error", error="no such file: %s" % dump)
        return rec
    rec["dump_bytes"] = os.path.getsize(dump)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        rec.update(status="timeout", error="timed out after %d s" % timeout)
        return rec
    rec["seconds"] = time.perf_counter() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr.decode(errors="replace"))
    rec["extra_peak"] = int(m.group(1)) * 1024 if m else None
    rec["status"] = "ok" if p.returncode == 0 else "error"
    return rec


class Suite:
    """The measurement matrix of one invocation and its raw records."""

    def __init__(self, args: argparse.Namespace, setup: Setup) -> None:
        self.a = args
        self.s = setup
        self.records: List[Dict[str, Any]] = []
        self.dumps: Dict[Tuple[str, str, int], str] = {}   # (format, workload, size) -> path
        self.timed_out: Dict[Tuple[str, str, str], int] = {}
        self.raw_path: Optional[str] = None
        self.command = ""

    def add(self, rec: Dict[str, Any]) -> None:
        """Keep a record, and append it to the raw log at once (a crash keeps it)."""
        self.records.append(rec)
        if self.raw_path:
            with open(self.raw_path, "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")

    def reps_for(self, size: int) -> int:
        return self.a.reps_big if size >= 5000000 else self.a.reps

    def timeout_for(self, size: int) -> float:
        return self.a.timeout if size < 5000000 else self.a.timeout_big

    def capture(self, py: Optional[str], tool: str, workload: str, size: int,
                task: str, keep_as: Optional[str] = None) -> None:
        key = (task, tool, workload)
        reps = self.reps_for(size)
        base = {"side": "capture", "task": task, "tool": tool, "workload": workload,
                "size": size}
        if py is None:
            self.add(dict(base, status="unavailable",
                                     error="no interpreter for this tool (see setup notes)"))
            return
        if key in self.timed_out:
            self.add(dict(base, status="skipped",
                                     error="skipped: timed out at %s" %
                                     size_label(self.timed_out[key])))
            return
        dumping = tool in ("ours", "purepy", "classic")
        os.makedirs(SCRATCH[0], exist_ok=True)
        for rep in range(reps):
            keep = keep_as is not None and rep == 0
            # Only the first repetition's dump is kept; later ones get their own name.
            dump = os.path.join(SCRATCH[0], "%s-%s-%s-%s%s.json" % (
                task, tool, workload, size_label(size), "" if rep == 0 else "-rep%d" % rep))
            cmd = [py, os.path.join(HERE, "peers", "capture.py"), "--tool", tool,
                   "--workload", workload, "--size", str(size)]
            if dumping:
                cmd += ["--dump", dump]
            if keep:
                cmd.append("--keep-dump")
            log("capture %-8s %-10s %-5s %-11s rep %d/%d" % (task, workload, size_label(size),
                                                            tool, rep + 1, reps))
            rec = run_json(cmd, self.timeout_for(size), dict(base, rep=rep))
            rec["task"] = task
            self.add(rec)
            if dumping and os.path.exists(dump) and not keep:
                os.unlink(dump)
            if rec.get("status") == "ok" and keep:
                self.dumps[(keep_as, workload, size)] = dump
            if rec.get("status") in ("timeout", "unavailable", "error"):
                if rec.get("status") == "timeout":
                    self.timed_out[key] = size
                break

    def analysis(self, py: Optional[str], tool: str, dump: str, fmt: str, workload: str,
                 size: int, task: str) -> None:
        reps = self.reps_for(size)
        base = {"side": "analysis", "task": task, "tool": tool, "workload": workload,
                "size": size, "format": fmt}
        key = (task + fmt, tool, workload)
        if key in self.timed_out:
            self.add(dict(base, status="skipped", error="skipped: timed out at %s"
                                     % size_label(self.timed_out[key])))
            return
        for rep in range(reps):
            log("analysis %-8s %-10s %-5s %-8s rep %d/%d" % (fmt, workload, size_label(size),
                                                             tool, rep + 1, reps))
            if tool in ("wc", "cat"):
                rec = floor_run(tool, dump, self.timeout_for(size))
                rec.update(base, rep=rep)
            elif py is None:
                rec = dict(base, status="unavailable", error="no interpreter for this tool")
            else:
                cmd = [py, os.path.join(HERE, "peers", "analyze.py"), "--tool", tool,
                       "--dump", dump]
                rec = run_json(cmd, self.timeout_for(size), dict(base, rep=rep))
                rec.update({k: base[k] for k in ("task", "workload", "size", "format")})
            rec["dump_objects"] = dump_objects(dump)
            self.add(rec)
            if rec.get("status") != "ok":
                if rec.get("status") == "timeout":
                    self.timed_out[key] = size
                break

    def run(self) -> None:
        a, s = self.a, self.s
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
                                ).stdout.decode().strip()
        self.add({"side": "meta", "commit": commit or "?", "command": self.command,
                  "time": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")})
        # Capture side: every tool on the same workload and Python.
        for size in a.sizes:
            for wl in self.workloads_for(size):
                for tool in a.tools:
                    keep = "ours" if tool == "ours" and wl in a.analysis_workloads else None
                    if tool == "purepy" and wl in a.analysis_workloads:
                        keep = "purepy"
                    self.capture(s.main, tool, wl, size,
                                 "capture", keep)
        # Classic Meliae beside ours on the nearest Python we support.
        if a.classic:
            for size in a.sizes:
                for wl in self.workloads_for(size):
                    if wl not in a.classic_workloads:
                        continue
                    self.capture(s.classic, "classic", wl, size, "classic",
                                 "classic" if wl in a.analysis_workloads else None)
                    self.capture(s.classic, "purepy", wl, size, "classic")
                    self.capture(s.near, "ours", wl, size, "classic")
        # Analysis side.
        for size in a.sizes:
            for wl in a.analysis_workloads:
                if wl not in self.workloads_for(size):
                    continue
                src = self.dumps.get(("ours", wl, size))
                fmt = "meliae 2.0"
                if src is None:
                    src = self.dumps.get(("purepy", wl, size))
                    fmt = "pure-Python dump"
                if src:
                    for tool in ("ours", "purepy", "wc", "cat"):
                        self.analysis(s.main, tool, src, fmt, wl, size, "analysis")
                csrc = self.dumps.get(("classic", wl, size))
                if csrc:
                    for tool, py in (("classic", s.classic), ("ours", s.main),
                                     ("purepy", s.classic), ("wc", None), ("cat", None)):
                        self.analysis(py, tool, csrc, "classic", wl, size, "analysis")
        # The synthetic dump generator of the loader benchmarks, read by every loader.
        gen = build_c_driver("gendump", s.notes) if a.synthetic else None
        if gen:
            for size in a.sizes:
                path = os.path.join(SCRATCH[0], "synthetic-%s.json" % size_label(size))
                rec = run_driver(gen, [str(size), path], a.timeout_big)
                if rec.get("status") != "ok" or not os.path.exists(path):
                    s.notes.append("gendump %d failed: %s" % (size, rec.get("error") or
                                                               rec.get("output", "")[-200:]))
                    continue
                self.dumps[("synthetic", "synthetic", size)] = path
                for tool in ("ours", "purepy", "wc", "cat"):
                    self.analysis(s.main, tool, path, SYNTH, "synthetic", size, "analysis")
        lb = build_c_driver("loadbench", s.notes)
        if lb:
            for key in sorted(self.dumps):
                if key[0] in ("synthetic", "ours") and key[2] == max(a.sizes):
                    rec = run_driver(lb, [self.dumps[key]], a.timeout_big)
                    rec.update(workload=key[1], size=key[2])
                    self.add(rec)
        exe = build_c_driver("domibench", s.notes)
        if exe:
            self.add(run_driver(exe, ["--synthetic", str(max(a.sizes))],
                                           a.timeout_big))
            for key in sorted(self.dumps):
                if key[0] in ("synthetic", "ours") and key[2] == max(a.sizes):
                    rec = run_driver(exe, [self.dumps[key]], a.timeout_big)
                    rec.update(workload=key[1], size=key[2])
                    self.add(rec)
        for path in set(self.dumps.values()):
            if os.path.exists(path) and not a.keep_dumps:
                os.unlink(path)

    def workloads_for(self, size: int) -> List[str]:
        if size >= 5000000:
            return [w for w in self.a.workloads if w in self.a.big_workloads]
        return list(self.a.workloads)


def build_c_driver(name: str, notes: List[str]) -> Optional[str]:
    """Compile bench/<name>.c against the committed engine; the executable."""
    src = os.path.join(HERE, name + ".c")
    if not os.path.exists(src):
        return None
    tmp = tempfile.mkdtemp(prefix="meliae-bench-c-")
    exe = os.path.join(BUILD, "bench", name)
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    try:
        arch = subprocess.run(["git", "archive", "--format=tar", "HEAD", "src/libmeliae"],
                              cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=arch, check=True)
        eng = os.path.join(tmp, "src", "libmeliae")
        zstd = os.path.exists("/usr/include/zstd.h")
        cmd = ["cc", "-std=c11", "-O2", "-DMEL_STATIC_BUILD", "-D_POSIX_C_SOURCE=200809L"] + \
            (["-DMEL_HAVE_ZSTD"] if zstd else []) + ["-I" + eng, src] + \
            sorted(os.path.join(eng, f) for f in os.listdir(eng) if f.endswith(".c")) + \
            ["-lz"] + (["-lzstd"] if zstd else []) + ["-lm", "-o", exe]
        rc = run_logged(cmd, name + ".log", 600)
    except subprocess.CalledProcessError:
        rc = -1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if rc != 0:
        notes.append("bench/%s.c did not build against the committed engine "
                     "(build/bench-logs/%s.log)" % (name, name))
        return None
    return exe


def run_driver(exe: str, args: Sequence[str], timeout: float) -> Dict[str, Any]:
    """Run a C benchmark driver; its text output as a record."""
    rec: Dict[str, Any] = {"side": "driver", "tool": os.path.basename(exe),
                           "args": list(args)}
    log("driver %s %s" % (os.path.basename(exe), " ".join(args)))
    try:
        p = subprocess.run([exe] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        rec.update(status="timeout", error="timed out after %d s" % timeout)
        return rec
    rec["output"] = p.stdout.decode(errors="replace")
    rec["status"] = "ok" if p.returncode == 0 else "error"
    return rec


def dump_objects(path: str) -> Optional[int]:
    """Object lines in a dump: all lines minus the header and trailer if present."""
    if not os.path.exists(path):
        return None
    n = 0
    with open(path, "rb") as f:
        first = f.readline()
        n = 1
        while True:
            block = f.read(1 << 22)
            if not block:
                break
            n += block.count(b"\n")
    if first.startswith(b'{"meliae"'):
        n -= 2
    return n


# --------------------------------------------------------------------------- report

def stats(values: List[float]) -> Optional[Tuple[float, float, float]]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals)


def fmt_secs(st: Optional[Tuple[float, float, float]]) -> str:
    if st is None:
        return "—"
    med, lo, hi = st

    def one(x: float) -> str:
        return "%.3g" % x if x < 100 else "%.0f" % x
    if lo == hi:
        return one(med)
    return "%s (%s–%s)" % (one(med), one(lo), one(hi))


def fmt_mib(st: Optional[Tuple[float, float, float]]) -> str:
    if st is None:
        return "—"
    med, lo, hi = (x / 1048576.0 for x in st)

    def one(x: float) -> str:
        return "%.1f" % x if x < 100 else "%.0f" % x
    if abs(hi - lo) < 0.05:
        return one(med)
    return "%s (%s–%s)" % (one(med), one(lo), one(hi))


def fmt_rate(n: Optional[float], secs: Optional[float]) -> str:
    if not n or not secs:
        return "—"
    r = n / secs
    if r >= 1e6:
        return "%.2f M" % (r / 1e6)
    return "%.0f k" % (r / 1e3)


def fmt_ratio(x: Optional[float]) -> str:
    if x is None:
        return "—"
    return "%.2f×" % x if x < 10 else "%.0f×" % x


def group(records: List[Dict[str, Any]], **match: Any) -> List[Dict[str, Any]]:
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def summarize_runs(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    ok = [r for r in runs if r.get("status") == "ok"]
    out: Dict[str, Any] = {"n": len(ok), "runs": runs}
    if not ok:
        bad = runs[0] if runs else {}
        out["note"] = bad.get("error") or bad.get("status") or "not run"
        return out
    out["secs"] = stats([r["seconds"] for r in ok])
    out["mem"] = stats([r.get("extra_peak") for r in ok])
    out["objects"] = ok[0].get("objects") or ok[0].get("dump_objects")
    out["seen"] = ok[0].get("seen")
    out["dump_bytes"] = stats([r.get("dump_bytes") for r in ok])
    out["build"] = stats([r.get("build_seconds") for r in ok])
    out["python"] = ok[0].get("python")
    out["extra"] = ok[0]
    return out


def capture_table(records: List[Dict[str, Any]], task: str, tools: Sequence[str],
                  sizes: Sequence[int], workloads: Sequence[str],
                  py_label: Dict[str, str]) -> List[str]:
    lines = ["| workload | built objects | tool | Python | seconds median (min–max) | "
             "objects/s | extra peak MiB | extra B/object | dump MiB | objects seen | "
             "time vs pure Python | memory vs pure Python |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        for wl in workloads:
            rows = {t: summarize_runs(group(records, task=task, tool=t, workload=wl, size=size))
                    for t in tools}
            if not any(r["runs"] for r in rows.values()):
                continue
            base = rows.get("purepy", {})
            for t in tools:
                r = rows[t]
                if not r["runs"]:
                    continue
                label = TOOL_LABEL[t]
                if "secs" not in r:
                    lines.append("| %s | %s | %s | %s | %s | | | | | | | |"
                                 % (wl, size_label(size), label, py_label.get(t, ""),
                                    r["note"]))
                    continue
                med = r["secs"][0]
                objs = r["objects"]
                mem = r["mem"]
                tvs = (med / base["secs"][0]) if base.get("secs") else None
                mvs = (mem[0] / base["mem"][0]) if base.get("mem") and mem and base["mem"][0] else None
                note = ""
                if t == "tracemalloc":
                    ex = r["extra"]
                    note = " (build %ss traced; tracing holds %.0f MiB)" % (
                        fmt_secs(r["build"]), (ex.get("tracing_bytes") or 0) / 1048576.0)
                lines.append("| %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    wl, "{:,}".format(objs) if objs else size_label(size), label, note,
                    r.get("python") or py_label.get(t, ""), fmt_secs(r["secs"]),
                    fmt_rate(objs, med), fmt_mib(mem),
                    "%.0f" % (mem[0] / objs) if mem and objs else "—",
                    fmt_mib(r["dump_bytes"]), "{:,}".format(r["seen"]) if r["seen"] else "—",
                    fmt_ratio(tvs), fmt_ratio(mvs)))
    return lines


def analysis_table(records: List[Dict[str, Any]], sizes: Sequence[int],
                   workloads: Sequence[str]) -> List[str]:
    lines = ["| input dump | objects in dump | dump MiB | tool | Python | seconds median (min–max) "
             "| objects/s | MB/s | peak MiB | peak B/object | stages (median s) | "
             "time vs pure Python |",
             "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for fmt in ("meliae 2.0", "pure-Python dump", "classic", SYNTH):
        for size in sizes:
            for wl in list(workloads) + ["synthetic"]:
                recs = group(records, side="analysis", format=fmt, workload=wl, size=size)
                if not recs:
                    continue
                rows = {t: summarize_runs(group(recs, tool=t))
                        for t in ("ours", "classic", "purepy", "wc", "cat")}
                base = rows["purepy"]
                for t in ("ours", "classic", "purepy", "wc", "cat"):
                    r = rows[t]
                    if not r["runs"]:
                        continue
                    first = r["runs"][0]
                    objs = first.get("dump_objects")
                    db = first.get("dump_bytes")
                    head = "%s %s (%s)" % (wl, size_label(size), fmt)
                    if "secs" not in r:
                        lines.append("| %s | %s | %s | %s | | %s | | | | | | |" % (
                            head, "{:,}".format(objs) if objs else "—",
                            "%.0f" % (db / 1048576.0) if db else "—", ANALYSIS_LABEL[t],
                            r["note"]))
                        continue
                    med = r["secs"][0]
                    st = ""
                    ok = [x for x in r["runs"] if x.get("status") == "ok" and x.get("stages")]
                    if ok:
                        keys = list(ok[0]["stages"])
                        st = ", ".join("%s %.3g" % (k, statistics.median(
                            [x["stages"][k] for x in ok if k in x["stages"]])) for k in keys)
                    tvs = med / base["secs"][0] if base.get("secs") else None
                    lines.append("| %s | %s | %.0f | %s | %s | %s | %s | %.0f | %s | %s | %s | %s |" % (
                        head, "{:,}".format(objs) if objs else "—", (db or 0) / 1048576.0,
                        ANALYSIS_LABEL[t], r.get("python") or ("—" if t in ("wc", "cat") else ""),
                        fmt_secs(r["secs"]), fmt_rate(objs, med), (db or 0) / 1e6 / med,
                        fmt_mib(r["mem"]),
                        "%.0f" % (r["mem"][0] / objs) if r["mem"] and objs else "—",
                        st, fmt_ratio(tvs)))
    return lines


def run_identity(records: List[Dict[str, Any]], output: str) -> Tuple[str, str]:
    """The commit and time of the run that made ``records``: its meta record,
    else the header of the existing RESULTS.md, else the current HEAD and now."""
    for r in records:
        if r.get("side") == "meta":
            return r.get("commit", "?"), r.get("time", "?")
    if os.path.exists(output):
        with open(output) as f:
            m = re.search(r"meliae commit: (\S+); run on (.+?) UTC", f.read())
        if m:
            return m.group(1), m.group(2)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
                            ).stdout.decode().strip()
    return commit or "?", datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")


def machine_info(setup: Setup, ident: Tuple[str, str]) -> List[str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            mem = "%.1f GiB" % (kb / 1048576.0)
    except (OSError, AttributeError):
        pass
    versions = []
    for label, py, mods in (("bench venv", setup.main, ("meliae", "guppy3", "Pympler",
                                                        "objgraph", "matplotlib")),
                            ("3.10 venv", setup.near, ("meliae",)),
                            ("classic venv", setup.classic, ("meliae", "Cython"))):
        if not py:
            continue
        code = ("import platform, importlib.metadata as m\nout=[platform.python_version()]\n"
                "for n in %r:\n    try: out.append('%%s %%s' %% (n, m.version(n)))\n"
                "    except Exception: out.append('%%s missing' %% n)\nprint(', '.join(out))"
                % (mods,))
        try:
            v = subprocess.run([py, "-c", code], stdout=subprocess.PIPE, timeout=60,
                               stderr=subprocess.DEVNULL).stdout.decode().strip()
        except subprocess.TimeoutExpired:
            v = "?"
        versions.append("%s: Python %s" % (label, v))
    return ["- CPU: %s, %d cores (`os.cpu_count()`), %s RAM; Linux %s"
            % (cpu, os.cpu_count() or 0, mem, platform.release()),
            "- meliae commit: %s; run on %s UTC" % ident] + \
        ["- %s" % v for v in versions]


# --------------------------------------------------------------------------- targets

def targets(records: List[Dict[str, Any]]) -> List[str]:
    """Check the scanner, loader and retention targets against this run's figures."""
    out = ["| target | measured (largest size of this run) | status | gap and what would close it |",
           "|---|---|---|---|"]

    def biggest(recs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        ok = [r for r in recs if r.get("status") == "ok"]
        if not ok:
            return []
        top = max(r["size"] for r in ok)
        return [r for r in ok if r["size"] == top]

    cap = biggest(group(records, task="capture", tool="ours"))
    if cap:
        rate = statistics.median([r["objects"] / r["seconds"] for r in cap])
        seen_rate = statistics.median([(r.get("seen") or 0) / r["seconds"] for r in cap])
        bpo = statistics.median([r["extra_peak"] / max(1, r.get("seen") or r["objects"])
                                 for r in cap])
        wl = sorted({r["workload"] for r in cap})
        mbs = statistics.median([(r.get("dump_bytes") or 0) / 1e6 / r["seconds"] for r in cap])
        allw = [r for r in group(records, task="capture", tool="ours", status="ok")
                if r["size"] < cap[0]["size"]]
        also = ""
        if allw:
            mid = max(r["size"] for r in allw)
            per: Dict[str, List[float]] = {}
            for r in allw:
                if r["size"] == mid:
                    per.setdefault(r["workload"], []).append((r.get("seen") or 0) / r["seconds"])
            meds = [statistics.median(v) for v in per.values()]
            also = "; at %s, %.2f–%.2f M dumped objects/s across %d workloads" % (
                size_label(mid), min(meds) / 1e6, max(meds) / 1e6, len(meds))
        near = [r for r in group(records, task="classic", tool="ours", status="ok")
                if r["size"] == cap[0]["size"] and r["workload"] in wl]
        if near:
            also += "; the same workload and size on Python %s (## Classic Meliae): %.2f M/s" % (
                near[0].get("python", "?"),
                statistics.median([(r.get("seen") or 0) / r["seconds"] for r in near]) / 1e6)
        out.append(target_row("dump ≥ 3 M objects/s on one core",
                              "%.2f M built objects/s, %.2f M dumped objects/s, %.0f MB/s of "
                              "output (%s, %s)%s"
                              % (rate / 1e6, seen_rate / 1e6, mbs, ", ".join(wl),
                                 size_label(cap[0]["size"]), also),
                              seen_rate >= 3e6, "%.2f M objects/s short of 3 M/s at the largest size (one run). "
                              "The scanner's time is the walk (a tp_traverse call and a "
                              "seen-set probe per object), JSON formatting and writing the "
                              "file (1.5 GB at 10M). This suite does not split them; a "
                              "walk/format/write breakdown (## Dump) would say whether a "
                              "faster walk, shorter lines or writing on the second core "
                              "closes it" % (3 - seen_rate / 1e6)))
        out.append(target_row("dump ≤ 16 extra bytes/object", "%.1f B per dumped object" % bpo,
                              bpo <= 16, "%.1f B/object over: the extra is the seen-set and the walk "
                              "stack; a denser seen-set (one bit per possible object slot) "
                              "and a bounded output buffer close it" % (bpo - 16)))
    else:
        out.append("| dump ≥ 3 M objects/s; ≤ 16 extra B/object | not measured | not met | "
                   "meliae's scanner was not available in this run |")
    ana = biggest([r for r in group(records, side="analysis", tool="ours")
                   if r.get("format") == "meliae 2.0"])
    if ana:
        st = [r.get("stages", {}) for r in ana]
        objs = ana[0].get("dump_objects") or 0
        db = ana[0].get("dump_bytes") or 0
        load = statistics.median([s.get("parse", 0) + s.get("collapse+parents", 0) for s in st])
        out.append(target_row("load (parse+index+parents+collapse) ≥ 5 M objects/s",
                              "%.2f M objects/s (%s objects, %.2f s)" % (objs / load / 1e6,
                                                                        "{:,}".format(objs), load),
                              objs / load >= 5e6, "%.2f M/s short; parse takes %.0f%% of it (%.2f s), "
                              "collapse + parents %.2f s: the parser must reach ≥ 1.5 GB/s "
                              "(next row) and parsing could use the second core"
                              % (5 - objs / load / 1e6,
                                 100 * statistics.median([s.get("parse", 0) for s in st]) / load,
                                 statistics.median([s.get("parse", 0) for s in st]),
                                 statistics.median([s.get("collapse+parents", 0) for s in st]))))
        gbs = db / 1e9 / statistics.median([s.get("parse", 1) for s in st])
        out.append(target_row("parse ≥ 1.5 GB/s per core",
                              "%.2f GB/s through `load(collapse=False)` (parse + address index, "
                              "from Python; ## Load has the parser alone)" % gbs,
                              gbs >= 1.5, "%.2f GB/s short through the Python API (file read, parse "
                              "and the address index together); the parser alone is in "
                              "## Load. Closing it: a faster number/key scanner and "
                              "building the address index in a second pass or thread"
                              % (1.5 - gbs)))
        steady = [r.get("graph_bytes") for r in ana if r.get("graph_bytes")]
        if steady:
            b = statistics.median(steady) / max(1, objs)
            out.append(target_row("≤ 100 B/object steady state with parents",
                                  "%.0f B/object (graph memory after parents)" % b, b <= 100,
                                  "%.0f B/object over (as reported by the graph's memory()); "
                                  "narrower per-object columns (32-bit type ids and sizes, "
                                  "values kept out of line) and capped parent lists close it"
                                  % (b - 100)))
        dom = [r.get("stages", {}).get("dominators") for r in ana]
        dom = [d for d in dom if d is not None]
        if dom:
            d = statistics.median(dom)
            scale = 1e7 / max(1, objs)
            out.append(target_row("dominators + retained on 10 M objects ≤ 10 s",
                                  "%.2f s on %s objects%s" % (d, "{:,}".format(objs),
                                                               "" if objs >= 9e6 else
                                                               " (≈ %.1f s scaled to 10 M)" % (d * scale)),
                                  d * scale <= 10, "%.1f s over (scaled): the dominator pass is "
                                  "bound by random memory access over the edge arrays"
                                  % (d * scale - 10)))
        dx = [r.get("dominators_extra_peak") for r in ana if r.get("dominators_extra_peak") is not None]
        if dx:
            b = statistics.median(dx) / max(1, objs)
            out.append(target_row("dominators ≤ 36 extra bytes/object", "%.1f B/object" % b,
                                  b <= 36, "%.1f B/object over: free the DFS arrays (semi, label, "
                                  "ancestor) before allocating retained sizes, or share one "
                                  "scratch array between them" % (b - 36)))
        pq = [r.get("path_query_seconds") for r in ana if r.get("path_query_seconds") is not None]
        if pq:
            q = statistics.median(pq)
            out.append(target_row("path query < 10 ms after the first BFS", "%.3f ms" % (q * 1e3),
                                  q < 0.010, "%.1f ms over" % (q * 1e3 - 10)))
    else:
        out.append("| load, parse, steady memory, dominators, path query | not measured | not met | "
                   "meliae's loader was not available in this run |")
    for r in group(records, side="driver", tool="loadbench", status="ok"):
        try:
            j = json.loads(r.get("output", "").strip().splitlines()[-1])
        except (ValueError, IndexError):
            continue
        src = "loadbench, C, %s %s dump, %s objects" % (
            r.get("workload"), size_label(r.get("size", 0)), "{:,}".format(j["objects"]))
        rate = j["objects_per_s"]
        out.append(target_row("load (parse+index+parents+collapse) ≥ 5 M objects/s (%s)" % src,
                              "%.2f M objects/s (parse %.2f s, parents %.2f s, collapse %.2f s)"
                              % (rate / 1e6, j["parse_s"], j["parents_s"], j["collapse_s"]),
                              rate >= 5e6, "%.2f M/s short; parse is %.0f%% of the time"
                              % (5 - rate / 1e6, 100 * j["parse_s"] / max(1e-9, j["total_s"]))))
        g = j["parse_gb_per_s"]
        out.append(target_row("parse ≥ 1.5 GB/s per core (%s)" % src, "%.2f GB/s" % g,
                              g >= 1.5, "%.2f GB/s short: parse + address index in one "
                              "thread; the number/key scanner is the hot loop" % (1.5 - g)))
        b = j["graph_bytes_per_object"]
        out.append(target_row("≤ 100 B/object steady state with parents (%s)" % src,
                              "%.1f B/object (graph), peak RSS %.0f B/object"
                              % (b, j["peak_rss_bytes_per_object"]), b <= 100,
                              "%.1f B/object over" % (b - 100)))
    for r in group(records, side="driver", tool="domibench", status="ok"):
        text = r.get("output", "")
        src = ("synthetic graph, %s objects" % "{:,}".format(int(r["args"][1]))
               if r["args"][0] == "--synthetic" else
               "%s %s dump" % (r.get("workload"), size_label(r.get("size", 0))))
        n = None
        m = re.search(r"synthetic graph: (\d+) objects", text) or \
            re.search(r": (\d+) objects \(\+", text)
        if m:
            n = int(m.group(1))
        t = re.search(r"^total:\s+([\d.]+) s", text, re.M) or \
            re.search(r"dominators \+ retained sizes: ([\d.]+) s", text)
        if t and n:
            secs = float(t.group(1))
            scaled = secs * 1e7 / n
            out.append(target_row("dominators + retained on 10 M objects ≤ 10 s (domibench, %s)"
                                  % src, "%.2f s%s" % (secs, "" if n >= 9e6 else
                                                       " (≈ %.1f s scaled to 10 M)" % scaled),
                                  scaled <= 10, "%.1f s over (scaled to 10 M)" % (scaled - 10)))
        pk = re.search(r"peak extra memory:\s+([\d.]+) bytes/object", text)
        if pk:
            b = float(pk.group(1))
            out.append(target_row("dominators ≤ 36 extra bytes/object (domibench, %s)" % src,
                                  "%.1f B/object" % b, b <= 36, "%.1f B/object over: free the DFS arrays (semi, label, "
                                  "ancestor) before allocating retained sizes, or share one "
                                  "scratch array between them" % (b - 36)))
        pq = re.search(r"1000 path (?:queries with text|walks):\s+([\d.]+) ms each", text)
        if pq:
            q = float(pq.group(1))
            out.append(target_row("path query < 10 ms after the first BFS (domibench, %s)" % src,
                                  "%.3f ms" % q, q < 10, "%.1f ms over" % (q - 10)))
    drivers = group(records, side="driver")
    if drivers:
        out.append("")
        out.append("Output of the C drivers in this run:")
        for r in drivers:
            out.append("")
            out.append("`%s %s`%s:" % (r["tool"], " ".join(
                os.path.relpath(x, ROOT) if os.path.isabs(x) else x for x in r["args"]),
                "" if r.get("status") == "ok" else " (%s)" % (r.get("error") or r["status"])))
            out.append("")
            out.append("```")
            out.append((r.get("output") or "").rstrip() or "(no output)")
            out.append("```")
    return out


def target_row(name: str, measured: str, met: bool, gap: str) -> str:
    return "| %s | %s | %s | %s |" % (name, measured, "met" if met else "**not met**",
                                      "—" if met else gap)


# --------------------------------------------------------------------------- RESULTS.md

def split_sections(text: str) -> Tuple[str, Dict[str, str], List[str]]:
    """Preamble, '## Heading' -> body (with heading), and heading order."""
    parts = re.split(r"(?m)^(?=## )", text)
    pre = parts[0] if parts and not parts[0].startswith("## ") else ""
    secs: Dict[str, str] = {}
    order: List[str] = []
    for p in parts:
        if p.startswith("## "):
            head = p.splitlines()[0].strip()
            secs[head] = p.rstrip() + "\n"
            order.append(head)
    return pre, secs, order


def other_sections(results_path: str, run_scripts: bool, main_py: Optional[str],
                   notes: List[str]) -> List[str]:
    """Run the other benchmark drivers that exist and collect their sections."""
    texts: List[str] = []
    for head, script in OTHER_SECTIONS:
        body = None
        path = os.path.join(HERE, script) if script else None
        if run_scripts and path and os.path.exists(path):
            log("running bench/%s" % script)
            try:
                with open(path) as f:
                    # Let the driver print its section; this script writes the file.
                    extra = ["--no-write"] if "--no-write" in f.read() else []
                p = subprocess.run([main_py or sys.executable, path] + extra, cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3600)
                outtext = p.stdout.decode(errors="replace")
                if p.returncode != 0:
                    notes.append("bench/%s exited %d: %s" % (script, p.returncode,
                                 p.stderr.decode(errors="replace").strip()[-300:]))
                idx = outtext.find(head)
                if idx >= 0:
                    body = outtext[idx:].rstrip() + "\n"
            except subprocess.TimeoutExpired:
                notes.append("bench/%s timed out after 3600 s" % script)
        if body is None and os.path.exists(results_path):
            with open(results_path) as f:
                _, secs, order = split_sections(f.read())
            for h in order:
                if h == head or h.startswith(head + " "):
                    body = secs[h]
        if body is None:
            body = "%s\n\n(no figures yet: %s)\n" % (
                head, "bench/%s is not in the tree" % script if script else
                "its driver is not in the tree")
        texts.append(body)
    return texts


def write_results(args: argparse.Namespace, setup: Setup, records: List[Dict[str, Any]],
                  command: str, plot_rel: Optional[str]) -> None:
    py_label = {t: MAIN_PY for t in CAPTURE_TOOLS}
    sizes = args.sizes
    parts: List[str] = []
    parts.append("# Benchmark results\n\n"
                 "Produced by `%s` (bench/run.py; how to read it: bench/README.md). "
                 "Every figure is a median over fresh-process runs with the min–max "
                 "spread in brackets; ratios are against the pure-Python baseline measured "
                 "in the same invocation (time: <1× is faster; memory: <1× uses less).\n\n"
                 % command)
    parts.append("\n".join(machine_info(setup, run_identity(records, args.output))) + "\n\n")
    parts.append("Repetitions: %d per measurement below 5M objects, %d at 5M and above; timeouts "
                 "%d s and %d s. Built objects are the objects each workload creates (exact, "
                 "see bench/workloads.py); objects/s divide them by the median time. "
                 "\"Objects seen\" is what the tool itself reports (it includes the "
                 "interpreter's own objects, or only the GC-tracked ones for objgraph, or "
                 "traced memory blocks for tracemalloc). Extra peak is the peak RSS during the "
                 "call above the RSS just before it (/proc/self/clear_refs resets the peak).\n\n"
                 % (args.reps, args.reps_big, args.timeout, args.timeout_big))
    parts.append("## Capture side\n\nEach tool on the same workload and Python (%s).\n\n" % MAIN_PY)
    parts.append("\n".join(capture_table(records, "capture", args.tools, sizes, args.workloads,
                                          py_label)) + "\n\n")
    if args.classic:
        parts.append("## Classic Meliae\n\n")
        if setup.classic:
            parts.append("The classic Meliae %s builds only on Python %s here (see Setup notes); "
                         "it runs there with the pure-Python dumper on the same Python, and ours "
                         "runs on Python %s, the oldest Python meliae supports (it requires "
                         "3.10+). Its Py3 writer issues several unbuffered write(2) calls per "
                         "object.\n\n" % (CLASSIC_VERSION, setup.classic_py, OURS_NEAR_CLASSIC))
            lab = {"classic": setup.classic_py or "", "purepy": setup.classic_py or "",
                   "ours": OURS_NEAR_CLASSIC}
            parts.append("\n".join(capture_table(records, "classic", ("classic", "purepy", "ours"),
                                                  sizes, args.workloads, lab)) + "\n\n")
        else:
            parts.append("The classic Meliae did not build on any Python tried; see Setup "
                         "notes.\n\n")
    parts.append("## Analysis side\n\nThe same file for every tool, in the page cache. Our dump "
                 "(format 2.0, from the capture runs above) is read by meliae, the pure-Python "
                 "loader and the floors; the classic-format dump (from the classic Meliae "
                 "runs) is read by the classic loader on its own Python, by meliae and by the "
                 "pure-Python loader. The classic loader's `load()` includes its instance-dict "
                 "collapse and parents (capped at 100); it has no dominators. Peak is the peak "
                 "RSS above the interpreter's RSS before loading (for the floors, the whole "
                 "process's max RSS from `/usr/bin/time -v`).\n\n")
    parts.append("\n".join(analysis_table(records, sizes, args.analysis_workloads)) + "\n\n")
    if plot_rel:
        parts.append("## Plot\n\n![time and memory against object count](%s)\n\n"
                     "Capture time and extra peak memory (top) and analysis time and peak memory "
                     "(bottom) against object count, workload `%s`, log-log.\n\n"
                     % (plot_rel, args.plot_workload))
    others = other_sections(args.output, not args.no_sections, setup.main, setup.notes)
    parts.extend(t + "\n" for t in others)
    parts.append("## Targets\n\nFrom the scanner, loader and retention issues, checked against "
                 "this run.\n\n" + "\n".join(targets(records)) + "\n\n")
    if setup.notes:
        parts.append("## Setup notes\n\n" + "\n".join("- " + n for n in setup.notes) + "\n")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        f.write("".join(parts).rstrip() + "\n")


# --------------------------------------------------------------------------- main

def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="CI-sized smoke run: 100k objects, two workloads, one repetition; "
                         "writes bench/out/RESULTS-quick.md unless --output is given")
    ap.add_argument("--sizes", help="object counts, e.g. 100k,1M,10M")
    ap.add_argument("--workloads", help="comma list (default: all)")
    ap.add_argument("--big-workloads", default="webapp",
                    help="workloads run at sizes >= 5M (default: webapp)")
    ap.add_argument("--analysis-workloads", default="webapp",
                    help="workloads whose dumps the analysis side reads (default: webapp)")
    ap.add_argument("--classic-workloads", default=None,
                    help="workloads run with the classic Meliae (default: all)")
    ap.add_argument("--tools", default=",".join(CAPTURE_TOOLS), help="capture-side tools")
    ap.add_argument("--reps", type=int, default=3, help="repetitions below 5M objects")
    ap.add_argument("--reps-big", type=int, default=1, help="repetitions at 5M and above")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per run below 5M")
    ap.add_argument("--timeout-big", type=float, default=900, help="seconds per run at 5M+")
    ap.add_argument("--no-synthetic", dest="synthetic", action="store_false",
                    help="skip the synthetic dumps of bench/gendump.c")
    ap.add_argument("--no-classic", dest="classic", action="store_false",
                    help="skip the classic Meliae")
    ap.add_argument("--no-install", action="store_true",
                    help="do not rebuild meliae into the bench virtualenvs")
    ap.add_argument("--working-tree", action="store_true",
                    help="build meliae from the working tree instead of the committed HEAD")
    ap.add_argument("--no-sections", action="store_true",
                    help="do not run bench_dump.py / bench_load.py; keep their sections as is")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--plot-workload", default="webapp")
    ap.add_argument("--keep-dumps", action="store_true", help="keep dumps in bench/out/")
    ap.add_argument("--output", default=None, help="default bench/RESULTS.md")
    ap.add_argument("--report-only", metavar="RECORDS",
                    help="rewrite the output from recorded runs (e.g. bench/results.jsonl) "
                         "with the same options, without measuring; other sections kept")
    args = ap.parse_args(argv)

    if args.quick:
        args.sizes = args.sizes or "100k"
        args.workloads = args.workloads or "webapp,instances"
        args.reps, args.reps_big = 1, 1
        args.timeout = min(args.timeout, 120)
        args.no_sections = True
        args.output = args.output or os.path.join(OUT, "RESULTS-quick.md")
    args.output = args.output or os.path.join(HERE, "RESULTS.md")
    SCRATCH[0] = os.path.join(OUT, "scratch-quick" if args.quick else "scratch")
    args.sizes = sorted(parse_size(s) for s in (args.sizes or "100k,1M,10M").split(","))
    import workloads as wlmod  # noqa: E402  (bench/ is sys.path[0])
    known = sorted(wlmod.WORKLOADS)
    args.workloads = (args.workloads or ",".join(known)).split(",")
    for w in args.workloads:
        if w not in known:
            ap.error("unknown workload %r (known: %s)" % (w, ", ".join(known)))
    args.big_workloads = args.big_workloads.split(",")
    args.analysis_workloads = [w for w in args.analysis_workloads.split(",")
                               if w in args.workloads]
    args.classic_workloads = (args.classic_workloads or ",".join(args.workloads)).split(",")
    args.tools = args.tools.split(",")
    for t in args.tools:
        if t not in CAPTURE_TOOLS:
            ap.error("unknown tool %r (known: %s)" % (t, ", ".join(CAPTURE_TOOLS)))
    if "purepy" not in args.tools:
        args.tools.insert(1, "purepy")   # the baseline every ratio needs

    command = "python bench/run.py" + ("" if argv is None and len(sys.argv) == 1
                                        else " " + " ".join(argv if argv is not None
                                                            else sys.argv[1:]))
    t0 = time.time()
    setup = Setup()
    if args.report_only:
        # Rewrite RESULTS.md (and the plot) from recorded runs: no measurement.
        setup.run(args.classic, False, False)
        with open(args.report_only) as f:
            records = [json.loads(line) for line in f if line.strip()]
        measured = [r.get("command") for r in records if r.get("side") == "meta"]
        if not measured and os.path.exists(args.output):
            with open(args.output) as f:
                m = re.search(r"Produced by `([^`]+)`", f.read())
            measured = [m.group(1).split("` ")[0]] if m else []
        command = "%s` (measured); tables rewritten without measuring by `%s" % (
            (measured[0] if measured and measured[0] else "python bench/run.py"), command)
        args.no_sections = True
        plot_rel = None
        if not args.no_plot and setup.main:
            png = os.path.join(os.path.dirname(os.path.abspath(args.output)), "plot.png")
            if subprocess.run([setup.main, os.path.join(HERE, "plot.py"), args.report_only,
                               png, "--workload", args.plot_workload], cwd=ROOT).returncode == 0:
                plot_rel = os.path.relpath(png, os.path.dirname(os.path.abspath(args.output)))
        write_results(args, setup, records, command, plot_rel)
        log("rewrote %s from %s" % (os.path.relpath(args.output, ROOT), args.report_only))
        return 0
    setup.run(args.classic, not args.no_install, args.working_tree)
    if setup.main is None:
        log("no bench virtualenv: cannot run")
        return 1
    suite = Suite(args, setup)
    suite.command = command
    os.makedirs(OUT, exist_ok=True)
    raw = os.path.join(OUT, "results-quick.jsonl" if args.quick else "results.jsonl")
    open(raw, "w").close()
    suite.raw_path = raw
    suite.run()
    committed = os.path.abspath(args.output) == os.path.join(HERE, "RESULTS.md")
    if committed:
        shutil.copy(raw, os.path.join(HERE, "results.jsonl"))
    plot_rel = None
    if not args.no_plot:
        png = os.path.join(HERE, "plot.png") if committed else \
            os.path.splitext(args.output)[0] + "-plot.png"
        rc = subprocess.run([setup.main, os.path.join(HERE, "plot.py"), raw, png,
                             "--workload", args.plot_workload], cwd=ROOT).returncode
        if rc == 0:
            plot_rel = os.path.relpath(png, os.path.dirname(os.path.abspath(args.output)))
        else:
            setup.notes.append("the plot failed (bench/plot.py exited %d)" % rc)
    write_results(args, setup, suite.records, command, plot_rel)
    log("wrote %s in %.0f s" % (os.path.relpath(args.output, ROOT), time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
