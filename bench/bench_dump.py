"""Dump benchmark: meliae's C scanner against a pure-Python dumper, on several Pythons.

    build/bench-venv-3.11/bin/python bench/bench_dump.py   # 3.11, plus 3.14 and 3.15
    python bench/bench_dump.py --install-all        # also rebuild meliae into this Python
    python bench/bench_dump.py --fetch ''           # this Python only
    python bench/bench_dump.py --python 3.13=/path/to/venv/bin/python --fetch 3.14

For each heap size a fresh child process builds a heap of about N objects
(units of an instance holding a big int and a str, plus a one-float list:
five objects per unit), then times ``scanner.dump_all_objects`` to a file and
to /dev/null (walk and formatting without the disk), and measures the extra
peak memory of one dump (VmHWM after resetting it through
/proc/self/clear_refs, minus VmRSS before).  The pure-Python baseline
(``gc.get_objects`` + ``gc.get_referents`` + ``json``, an ``id()``-keyed
dict as seen-set) runs on the same heap and interpreter in the same
invocation; above ``--baseline-max`` objects it runs on a heap of that size
instead (said in the table).

Interpreters.  The Python running this script is measured first and is the
reference: every other interpreter's rates are also given as a ratio to its
rates in the same invocation.  Others are added with

* ``--python LABEL=PATH`` (repeatable): the interpreter at PATH (a venv's
  ``bin/python``), used as it is; meliae must be importable there.
* ``--fetch VERSIONS`` (default ``3.14,3.15``): each version comes from
  ``scripts/get-python.sh VERSION --venv build/bench-venv-VERSION`` (fetched
  once and cached; a Debian registry that cannot be reached skips the
  version with a note in the section), and meliae is built into that venv
  from a copy of the committed HEAD (``--working-tree``: of the working
  tree; ``--no-install``: use what is installed).  ``--fetch ''`` fetches
  nothing.

The reference and ``--python`` interpreters are used as they are unless
``--install-all`` builds the same copy of meliae into them too (they must be
venvs then; bench/run.py builds HEAD into build/bench-venv-3.11 before it
runs this script).  The section names what was built from which commit.
Every child reports ``sys.executable`` and ``sys.version`` (never /proc: a
fetched 3.14/3.15 runs through sid's dynamic loader, which is what
/proc/PID/exe names).  Children are interleaved: each of ``--rounds``
rounds runs every interpreter once per size (the pure-Python dumper too),
so load from other work on a shared machine falls on all of them alike;
dump times are also taken in CPU seconds (``time.process_time``), which
such load disturbs much less.  The load average (/proc/loadavg) at the
start and end goes into the section.

Writes the "## Dump" section of bench/RESULTS.md (``--no-write``: print it).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(ROOT, "build")
LOGS = os.path.join(BUILD, "bench-logs")
RESULTS = os.path.join(HERE, "RESULTS.md")
HEAD = "## Dump"

CHILD = r'''
import gc, json, os, sys, time

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

class Unit:
    def __init__(self, i):
        self.n = i * 7919 + 100000
        self.s = "unit %d" % i
        self.f = [i * 0.5]

def pure_python_dump(path):
    seen = {}
    stack = []
    own = {id(seen), id(stack)}
    objs = gc.get_objects()
    own.add(id(objs))
    n = 0
    with open(path, "w") as out:
        for root in objs:
            if id(root) in seen or id(root) in own:
                continue
            seen[id(root)] = None
            stack.append(root)
            while stack:
                o = stack.pop()
                refs = gc.get_referents(o)
                if isinstance(o, dict):
                    refs.extend(o.keys())
                rec = {"address": id(o), "type": type(o).__name__,
                       "size": sys.getsizeof(o), "refs": [id(r) for r in refs]}
                out.write(json.dumps(rec) + "\n")
                n += 1
                for r in refs:
                    if id(r) not in seen and id(r) not in own:
                        seen[id(r)] = None
                        stack.append(r)
    objs.clear()
    return n

def main():
    tool, n_objects, runs, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if tool == "meliae":
        from meliae import scanner   # imported before any timing
    t = time.perf_counter()
    heap = [Unit(i) for i in range(n_objects // 5)]
    build_s = time.perf_counter() - t
    gc.collect()
    out = {"times": [], "cpu": [], "null_times": [], "null_cpu": [], "peaks": [],
           "objects": 0, "bytes": 0, "peak_ok": True, "build_s": build_s}
    for r in range(runs):
        gc.collect()
        rss = status("VmRSS")
        out["peak_ok"] = reset_peak() and out["peak_ok"]
        c = time.process_time()
        t = time.perf_counter()
        if tool == "meliae":
            n = scanner.dump_all_objects(path)
        else:
            n = pure_python_dump(path)
        out["times"].append(time.perf_counter() - t)
        out["cpu"].append(time.process_time() - c)
        out["peaks"].append(max(0, status("VmHWM") - rss))
        out["objects"] = n
        out["bytes"] = os.path.getsize(path)
        os.unlink(path)
        if tool == "meliae":
            c = time.process_time()
            t = time.perf_counter()
            scanner.dump_all_objects(os.devnull)
            out["null_times"].append(time.perf_counter() - t)
            out["null_cpu"].append(time.process_time() - c)
    out["python"] = sys.version.split()[0]
    out["executable"] = sys.executable
    print(json.dumps(out))
    del heap

main()
'''

# What the setup check prints about an interpreter (one JSON line).
PROBE = r'''
import json, platform, sys
try:
    import meliae, meliae.scanner
    where, err = meliae.__file__, None
except Exception as e:
    where, err = None, "%s: %s" % (type(e).__name__, e)
print(json.dumps({"python": sys.version.split()[0], "executable": sys.executable,
                  "implementation": platform.python_implementation(),
                  "libc": " ".join(platform.libc_ver()), "meliae": where, "error": err}))
'''


class Interp:
    """One interpreter to measure."""

    def __init__(self, label: str, path: str, origin: str) -> None:
        self.label = label
        self.path = path
        self.origin = origin           # where it came from, for the section
        self.info: Dict[str, Any] = {}
        self.built: Optional[str] = None    # what meliae was built from here, if we did
        self.baselines: Dict[int, Dict[str, Any]] = {}   # heap size -> pure-Python result


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def git(*args: str) -> str:
    try:
        return subprocess.run(["git"] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        return ""


def log_run(cmd: List[str], logname: str, timeout: int) -> Tuple[int, str]:
    """Run a setup command, output appended to build/bench-logs/<logname>;
    (exit code, stdout)."""
    os.makedirs(LOGS, exist_ok=True)
    with open(os.path.join(LOGS, logname), "a") as f:
        f.write("$ %s\n" % " ".join(cmd))
        f.flush()
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=f, text=True,
                               timeout=timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            f.write("timed out after %d s\n" % timeout)
            return -1, ""
        f.write(p.stdout)
        return p.returncode, p.stdout


def log_tail(logname: str, n: int = 300) -> str:
    try:
        with open(os.path.join(LOGS, logname), errors="replace") as f:
            return f.read()[-n:].strip().replace("\n", " ")
    except OSError:
        return ""


class Source:
    """One copy of meliae's sources (the committed HEAD, or the working tree),
    made once per invocation, so every interpreter gets the same build."""

    def __init__(self, working_tree: bool) -> None:
        self.dir: Optional[str] = None
        self.working_tree = working_tree or not os.path.isdir(os.path.join(ROOT, ".git"))
        self.sha = git("rev-parse", "HEAD") or "HEAD"
        self.commit = self.sha[:7] if self.sha != "HEAD" else "?"

    def path(self) -> str:
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="meliae-bench-src-")
            if self.working_tree:
                for name in ("setup.py", "pyproject.toml", "README.md"):
                    if os.path.exists(os.path.join(ROOT, name)):
                        shutil.copy2(os.path.join(ROOT, name), self.dir)
                shutil.copytree(os.path.join(ROOT, "src"), os.path.join(self.dir, "src"),
                                ignore=shutil.ignore_patterns("*.so", "__pycache__",
                                                              "*.egg-info"))
            else:
                arch = subprocess.run(["git", "archive", "--format=tar", self.sha],
                                      cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout
                subprocess.run(["tar", "-x", "-C", self.dir], input=arch, check=True)
        return self.dir

    def describe(self) -> str:
        return ("the working tree at %s" % self.commit if self.working_tree else
                "commit %s" % self.commit)

    def cleanup(self) -> None:
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def install_meliae(py: str, tag: str, src: Source) -> Optional[str]:
    """Build meliae from ``src`` into the venv of ``py``; None if it worked, else
    why not."""
    logname = "dump-ours-%s.log" % tag
    rc, _ = log_run([py, "-c", "import setuptools, wheel"], logname, 60)
    if rc != 0:
        rc, _ = log_run([py, "-m", "pip", "install", "-q", "setuptools", "wheel"], logname, 600)
        if rc != 0:
            return "pip install setuptools wheel failed (build/bench-logs/%s: %s)" % (
                logname, log_tail(logname, 200))
    # A copy per build: pip may write build/ and egg-info into the folder.
    tmp = tempfile.mkdtemp(prefix="meliae-bench-build-")
    try:
        shutil.copytree(src.path(), os.path.join(tmp, "meliae"))
        rc, _ = log_run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                         "--force-reinstall", os.path.join(tmp, "meliae")], logname, 1200)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if rc != 0:
        return "meliae did not build (build/bench-logs/%s: %s)" % (logname, log_tail(logname))
    return None


def fetch_python(version: str, src: Optional[Source], notes: List[str]) -> Optional[Interp]:
    """CPython ``version`` in build/bench-venv-<version> through scripts/get-python.sh,
    with meliae built into it from ``src`` (None: as installed there); None (and a
    note) if that cannot be done."""
    venv = os.path.join(BUILD, "bench-venv-" + version)
    logname = "dump-get-python-%s.log" % version
    sys.stderr.write("getting CPython %s (scripts/get-python.sh)\n" % version)
    rc, out = log_run(["bash", os.path.join(ROOT, "scripts", "get-python.sh"), version,
                       "--venv", venv], logname, 1800)
    if rc != 0:
        why = ("the Debian registry is unreachable" if rc == 3 else
               "scripts/get-python.sh exited %d" % rc)
        notes.append("CPython %s skipped: %s (build/bench-logs/%s: %s)."
                     % (version, why, logname, log_tail(logname, 200)))
        return None
    py = os.path.join(venv, "bin", "python")
    base = out.strip().splitlines()[-1] if out.strip() else "?"
    deb = ""
    try:
        # get-python.sh prints <cache>/<version>/bin/pythonX.Y; the Debian
        # package version is recorded beside it.
        with open(os.path.join(os.path.dirname(os.path.dirname(base)), "debian-version")) as f:
            deb = " %s" % f.read().strip()
    except OSError:
        pass
    it = Interp(version, py, "Debian sid's python%s%s via `scripts/get-python.sh %s --venv "
                "build/bench-venv-%s`" % (version, deb, version, version))
    if src is not None:
        sys.stderr.write("building meliae into %s\n" % os.path.relpath(venv, ROOT))
        err = install_meliae(py, version, src)
        if err:
            notes.append("CPython %s skipped: %s." % (version, err))
            return None
        it.built = src.describe()
    return it


def probe(it: Interp) -> Optional[str]:
    """Fill it.info; None if meliae imports there, else why not."""
    try:
        p = subprocess.run([it.path, "-c", PROBE], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "cannot run %s: %s" % (it.path, e)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return "%s exited %d: %s" % (it.path, p.returncode, p.stderr.strip()[-300:])
    it.info = json.loads(lines[-1])
    if it.info.get("error"):
        return "meliae does not import on %s: %s" % (it.path, it.info["error"])
    return None


def run_child(py: str, tool: str, n: int, runs: int) -> Dict[str, Any]:
    """One measurement process; its JSON result, or {"error": ...}."""
    fd, path = tempfile.mkstemp(prefix="meliae-bench-", suffix=".json")
    os.close(fd)
    load = loadavg()
    try:
        p = subprocess.run([py, "-c", CHILD, tool, str(n), str(runs), path],
                           capture_output=True, text=True, timeout=7200)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 7200 s", "load": load}
    finally:
        if os.path.exists(path):
            os.unlink(path)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": "exit %d: %s" % (p.returncode, p.stderr.strip()[-500:]), "load": load}
    res = json.loads(lines[-1])
    res["load"] = load
    return res


def merge(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The rounds of one interpreter on one heap size, as one result."""
    ok = [p for p in parts if "error" not in p]
    if not ok:
        return parts[0] if parts else {"error": "not run"}
    out: Dict[str, Any] = {k: [] for k in ("times", "cpu", "null_times", "null_cpu", "peaks")}
    for p in ok:
        for k in out:
            out[k].extend(p.get(k, []))
    last = ok[-1]
    out.update(objects=last["objects"], bytes=last["bytes"], python=last["python"],
               executable=last["executable"], peak_ok=all(p.get("peak_ok", True) for p in ok),
               counts=sorted({p["objects"] for p in ok}), rounds=len(ok),
               loads=[p["load"] for p in parts if "load" in p],
               failed=[p["error"] for p in parts if "error" in p])
    return out


def med(xs: List[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt_rate(x: float) -> str:
    return "%.2f M" % (x / 1e6) if x >= 1e6 else "%.0f k" % (x / 1e3)


def fmt_time(ts: List[float]) -> str:
    if not ts:
        return "—"
    if len(ts) > 1:
        return "%.3g (%.3g–%.3g)" % (med(ts), min(ts), max(ts))
    return "%.3g" % med(ts)


def fmt_ratio(x: Optional[float]) -> str:
    return "%.2f×" % x if x else "—"


def child_loads(interps: List[Interp], results: Dict[Tuple[str, int], Dict]) -> str:
    """min–max of the 1-min load average sampled before each measurement process."""
    seen: List[float] = []
    for r in list(results.values()) + [b for it in interps for b in it.baselines.values()]:
        for s in r.get("loads", []) + ([r["load"]] if "load" in r else []):
            try:
                seen.append(float(s.split()[0]))
            except (ValueError, IndexError):
                pass
    return "%.2f–%.2f" % (min(seen), max(seen)) if seen else "?"


def section(interps: List[Interp], sizes: List[int], results: Dict[Tuple[str, int], Dict],
            args: argparse.Namespace, command: str, loads: Tuple[str, str],
            src: Source, notes: List[str]) -> str:
    ref = interps[0]
    refl = ref.label
    dirty = src.working_tree and git("status", "--porcelain", "--untracked-files=no", "--",
                                     "src", "setup.py", "pyproject.toml")
    built = [it for it in interps if it.built]
    pys = "; ".join(
        "**%s**%s: CPython %s, `%s`, %s, %s" % (
            it.label, " (the reference)" if it is ref else "", it.info.get("python", "?"),
            os.path.relpath(it.info.get("executable", it.path), ROOT)
            if it.info.get("executable", it.path).startswith(ROOT + os.sep)
            else it.info.get("executable", it.path),
            it.info.get("libc") or "libc ?",
            it.origin if it is not ref else "this interpreter")
        for it in interps)
    if len(built) == len(interps):
        how = "meliae built from %s%s into every interpreter by this invocation" % (
            src.describe(), " (src/ modified)" if dirty else "")
    elif built:
        how = ("meliae built from %s%s into %s by this invocation; on %s, meliae as "
               "installed there" % (src.describe(), " (src/ modified)" if dirty else "",
                                    ", ".join(it.label for it in built),
                                    ", ".join(it.label for it in interps if not it.built)))
    else:
        how = "meliae as installed in each interpreter (HEAD is %s)" % src.commit
    lines = [
        HEAD,
        "",
        "Produced by `%s`: %s. Machine: %s, %d cores (`os.cpu_count()`), "
        "Linux %s, shared with other work: load average (1, 5, 15 min, /proc/loadavg) %s at "
        "the start, %s at the end (1-min load when each measurement process started: "
        "%s). Interpreters: %s. "
        "Each heap is built in a fresh process (units of an instance with a big int and a "
        "str attribute plus a one-float list: 5 objects per unit); each interpreter runs "
        "%d such process%s per heap size, interleaved with the others (round 1 on every "
        "interpreter, then round 2, ...), and %d dumps in each (the pure-Python dumper: "
        "%d process%s of one dump each, interleaved the same way); times are the median of "
        "all of them (min–max in brackets). \"to /dev/null\" is the same dump without the "
        "disk (walk, sizes and JSON). Extra peak is VmHWM during one dump (reset through "
        "/proc/self/clear_refs) minus VmRSS just before it; B/object divides it by the "
        "objects dumped. \"vs %s\" is the interpreter's rate over %s's rate on the same "
        "heap size in this invocation; \"time vs pure Python\" is against the pure-Python "
        "dumper (gc.get_objects + gc.get_referents + json, id()-keyed dict) on the same "
        "interpreter in this invocation."
        % (command, how, cpu_model(), os.cpu_count() or 0, platform.release(), loads[0],
           loads[1], child_loads(interps, results), pys,
           args.rounds, "" if args.rounds == 1 else "es", args.runs,
           args.rounds, "" if args.rounds == 1 else "es", refl, refl),
        "",
        "| heap (built objects) | dumper | Python | objects dumped | seconds median (min–max) | "
        "objects/s | to /dev/null s | objects/s without disk | extra peak MiB | "
        "extra B/object | dump MiB | objects/s vs %s | time vs pure Python |" % refl,
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cell = lambda s: "{:,}".format(s)  # noqa: E731

    def rate(r: Dict[str, Any], key: str = "times") -> Optional[float]:
        if "error" in r or not r.get(key):
            return None
        return r["objects"] / med(r[key])

    def vs(r: Dict[str, Any], ref_r: Dict[str, Any], key: str) -> str:
        """r's rate over the reference's (ref_r, the same heap size)."""
        mine, theirs = rate(r, key), rate(ref_r, key)
        return fmt_ratio(mine / theirs if mine and theirs else None)

    summary: List[str] = []
    for n in sizes:
        bn = min(n, args.baseline_max)
        ref_r = results.get((refl, n), {"error": "not run"})
        for it in interps:
            r = results.get((it.label, n), {"error": "not run"})
            if "error" in r:
                lines.append("| %s | meliae `dump_all_objects` | %s | failed: %s |%s"
                             % (cell(n), it.label, r["error"].replace("|", "/")
                                .replace("\n", " ")[:300], " |" * 9))
                continue
            rt = rate(r)
            peak = med(r["peaks"]) if r["peaks"] else 0
            base = it.baselines.get(bn, {})
            brt = rate(base) if base else None
            vs_ref = (rt / rate(ref_r)) if rate(ref_r) else None
            lines.append(
                "| %s | meliae `dump_all_objects` | %s | %s | %s | %s | %s | %s | %.1f | %.1f | "
                "%.0f | %s | %s |"
                % (cell(n), it.label, cell(r["objects"]), fmt_time(r["times"]), fmt_rate(rt),
                   fmt_time(r["null_times"]), fmt_rate(rate(r, "null_times") or 0),
                   peak / 2**20, peak / max(1, r["objects"]), r["bytes"] / 2**20,
                   fmt_ratio(vs_ref), fmt_ratio(brt / rt if brt else None)))
            summary.append(
                "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %.0f | %d |"
                % (cell(n), it.label, cell(r["objects"] - n), fmt_rate(rt), vs(r, ref_r, "times"),
                   fmt_rate(rate(r, "null_times") or 0), vs(r, ref_r, "null_times"),
                   fmt_rate(rate(r, "cpu") or 0), vs(r, ref_r, "cpu"),
                   peak / max(1, r["objects"]), r["bytes"] / 2**20, r.get("rounds", 1)))
        for it in interps:
            base = it.baselines.get(bn)
            if base is None:
                continue
            label = "pure Python" if bn == n else (
                "pure Python (run on a %s-object heap; the same runs as above)" % cell(bn)
                if any(m < n and min(m, args.baseline_max) == bn for m in sizes) else
                "pure Python (run on a %s-object heap)" % cell(bn))
            if "error" in base:
                lines.append("| %s | %s | %s | failed: %s |%s"
                             % (cell(n), label, it.label, base["error"].replace("|", "/")
                                .replace("\n", " ")[:300], " |" * 9))
                continue
            peak = med(base["peaks"]) if base["peaks"] else 0
            ref_b = interps[0].baselines.get(bn, {})
            vs_ref = rate(base) / rate(ref_b) if ref_b and rate(ref_b) else None
            lines.append(
                "| %s | %s | %s | %s | %s | %s | — | — | %.1f | %.1f | %.0f | %s | 1.00× |"
                % (cell(n), label, it.label, cell(base["objects"]), fmt_time(base["times"]),
                   fmt_rate(rate(base) or 0), peak / 2**20, peak / max(1, base["objects"]),
                   base["bytes"] / 2**20, fmt_ratio(vs_ref)))
    lines += [
        "",
        "meliae per interpreter (the rows above; \"own objects\" is objects dumped minus "
        "objects built: the interpreter's own modules, functions, types and so on, which "
        "should not change with the heap size; \"per CPU second\" rates the dump to a "
        "file by the process's CPU time (`time.process_time`) instead of wall time: "
        "other work on a shared machine disturbs it much less):",
        "",
        "| heap (built objects) | Python | own objects | objects/s to a file | vs %s | "
        "objects/s to /dev/null | vs %s | objects per CPU second, to a file | vs %s | "
        "extra B/object | dump MiB | processes |" % (refl, refl, refl),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ] + summary
    lines.append("")
    lines.append(
        "Ratios use objects/s (the two dumpers do not dump the same number of objects: "
        "the pure-Python walk misses what gc.get_referents does not report, such as "
        "code objects' fields and executing frames' locals).")
    spread = ["%s at %s: %s" % (it.label, cell(n), "–".join(
                  cell(c) for c in (r["counts"][0], r["counts"][-1])))
              for it in interps for n in sizes
              for r in [results.get((it.label, n), {})] if len(r.get("counts", [])) > 1]
    if spread:
        notes.append("Objects dumped differed between the processes of one interpreter and "
                     "size (the table gives the last process's count): %s." % "; ".join(spread))
    for it in interps:
        for n in sizes:
            r = results.get((it.label, n), {})
            if r.get("failed"):
                notes.append("%s, %s objects: %d of the processes failed: %s"
                             % (it.label, cell(n), len(r["failed"]), r["failed"][0][:300]))
    if any(not r.get("peak_ok", True) for r in results.values()):
        notes.append("Peak memory could not be reset on this system: peaks are upper bounds.")
    for note in notes:
        lines.append("")
        lines.append(note)
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    old = ""
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            old = f.read()
    start = old.find("\n" + HEAD + "\n")
    if start < 0:
        new = (old.rstrip() + "\n\n" if old else "# Benchmark results\n\n") + text
    else:
        nxt = old.find("\n## ", start + len(HEAD) + 2)
        new = old[: start + 1] + text + ("\n" + old[nxt + 1 :] if nxt >= 0 else "")
    with open(RESULTS, "w") as f:
        f.write(new)


def parse_python(spec: str) -> Tuple[str, str]:
    label, sep, path = spec.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError("expected LABEL=PATH, got %r" % spec)
    return label, os.path.abspath(os.path.expanduser(path)) if os.sep in path else path


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,10000000", help="heap sizes (objects)")
    ap.add_argument("--runs", type=int, default=3, help="dumps per process")
    ap.add_argument("--rounds", type=int, default=3,
                    help="processes per interpreter and heap size, interleaved (default 3)")
    ap.add_argument("--baseline-max", type=int, default=1000000,
                    help="largest heap the pure-Python dumper runs on")
    ap.add_argument("--python", action="append", default=[], type=parse_python,
                    metavar="LABEL=PATH",
                    help="also measure the interpreter at PATH (meliae installed), named "
                         "LABEL in the tables; repeatable")
    ap.add_argument("--fetch", default="3.14,3.15", metavar="VERSIONS",
                    help="CPython versions to get through scripts/get-python.sh into "
                         "build/bench-venv-X.Y, with meliae built into them "
                         "(default 3.14,3.15; '' for none)")
    ap.add_argument("--no-install", action="store_true",
                    help="do not rebuild meliae into the fetched venvs")
    ap.add_argument("--install-all", action="store_true",
                    help="also build meliae into this interpreter's and the --python "
                         "interpreters' environments (venvs), so every one runs the same build")
    ap.add_argument("--working-tree", action="store_true",
                    help="build meliae from the working tree, not the committed HEAD")
    ap.add_argument("--no-write", action="store_true", help="print the section only")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    notes: List[str] = []
    src = Source(args.working_tree)

    me = "%d.%d" % sys.version_info[:2]
    interps = [Interp(me, sys.executable, "this interpreter")]
    for label, path in args.python:
        if any(it.label == label for it in interps):
            ap.error("two interpreters are labelled %s" % label)
        interps.append(Interp(label, path, "`--python %s=%s`" % (label, path)))
    try:
        if args.install_all:
            for it in interps:
                sys.stderr.write("building meliae into %s\n" % it.path)
                err = install_meliae(it.path, it.label, src)
                if err:
                    sys.stderr.write("bench_dump: %s: %s\n" % (it.label, err))
                    return 1
                it.built = src.describe()
        for version in [v.strip() for v in args.fetch.split(",") if v.strip()]:
            if any(it.label == version for it in interps):
                continue
            it = fetch_python(version, None if args.no_install else src, notes)
            if it is not None:
                interps.append(it)
    finally:
        src.cleanup()
    for it in list(interps):
        err = probe(it)
        if err is None:
            continue
        if it is interps[0]:
            sys.stderr.write("bench_dump: the reference interpreter cannot dump: %s\n" % err)
            return 1
        notes.append("%s skipped: %s" % (it.label, err))
        interps.remove(it)

    load_start = loadavg()
    results: Dict[Tuple[str, int], Dict[str, Any]] = {}
    for n in sizes:
        bn = min(n, args.baseline_max)
        need_base = [it for it in interps if bn not in it.baselines]
        parts: Dict[str, List[Dict[str, Any]]] = {it.label: [] for it in interps}
        bparts: Dict[str, List[Dict[str, Any]]] = {it.label: [] for it in need_base}
        for rnd in range(args.rounds):
            for it in need_base:
                sys.stderr.write("pure Python on %s, %d objects, round %d\n"
                                 % (it.label, bn, rnd + 1))
                bparts[it.label].append(run_child(it.path, "purepy", bn, 1))
            for it in interps:
                sys.stderr.write("meliae on %s, %d objects, round %d\n" % (it.label, n, rnd + 1))
                res = run_child(it.path, "meliae", n, args.runs)
                if "error" in res:
                    sys.stderr.write("  failed: %s\n" % res["error"])
                parts[it.label].append(res)
        for it in interps:
            results[(it.label, n)] = merge(parts[it.label])
        for it in need_base:
            it.baselines[bn] = merge(bparts[it.label])
    load_end = loadavg()

    exe = sys.executable
    exe = os.path.relpath(exe, ROOT) if exe.startswith(ROOT + os.sep) else "python"
    cmd = " ".join([exe, "bench/bench_dump.py"] +
                   [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])
    text = section(interps, sizes, results, args, cmd, (load_start, load_end), src, notes)
    if args.no_write:
        print(text)
    else:
        write_section(text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
