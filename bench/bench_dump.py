"""Dump benchmark: meliae's C scanner against a pure-Python dumper.

For each heap size a fresh child process builds a heap of about N objects
(units of an instance holding a big int and a str, plus a one-float list:
five objects per unit), then times ``scanner.dump_all_objects`` to a file and
to /dev/null (walk and formatting without the disk), and measures the extra
peak memory of one dump (VmHWM after resetting it through
/proc/self/clear_refs, minus VmRSS before).  The pure-Python baseline
(``gc.get_objects`` + ``gc.get_referents`` + ``json``, an ``id()``-keyed
dict as seen-set) runs on the same heap in the same invocation; above
``--baseline-max`` objects it runs on a heap of that size instead (said in
the table).

Writes the "## Dump" section of bench/RESULTS.md (``--no-write``: print it).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
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
    heap = [Unit(i) for i in range(n_objects // 5)]
    gc.collect()
    out = {"times": [], "null_times": [], "peaks": [], "objects": 0, "bytes": 0,
           "peak_ok": True}
    for r in range(runs):
        gc.collect()
        rss = status("VmRSS")
        out["peak_ok"] = reset_peak() and out["peak_ok"]
        t = time.perf_counter()
        if tool == "meliae":
            from meliae import scanner
            n = scanner.dump_all_objects(path)
        else:
            n = pure_python_dump(path)
        out["times"].append(time.perf_counter() - t)
        out["peaks"].append(max(0, status("VmHWM") - rss))
        out["objects"] = n
        out["bytes"] = os.path.getsize(path)
        os.unlink(path)
        if tool == "meliae":
            t = time.perf_counter()
            scanner.dump_all_objects(os.devnull)
            out["null_times"].append(time.perf_counter() - t)
    out["python"] = sys.version.split()[0]
    print(json.dumps(out))
    del heap

main()
'''


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_child(tool: str, n: int, runs: int) -> Dict[str, Any]:
    fd, path = tempfile.mkstemp(prefix="meliae-bench-", suffix=".json")
    os.close(fd)
    try:
        p = subprocess.run(
            [sys.executable, "-c", CHILD, tool, str(n), str(runs), path],
            capture_output=True,
            text=True,
            timeout=7200,
        )
    finally:
        if os.path.exists(path):
            os.unlink(path)
    if p.returncode != 0:
        raise RuntimeError("%s child failed: %s" % (tool, p.stderr.strip()[-500:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt_rate(x: float) -> str:
    return "%.2f M" % (x / 1e6) if x >= 1e6 else "%.0f k" % (x / 1e3)


def fmt_time(ts: List[float]) -> str:
    med = statistics.median(ts)
    if len(ts) > 1:
        return "%.3g (%.3g–%.3g)" % (med, min(ts), max(ts))
    return "%.3g" % med


def section(rows: List[Dict[str, Any]], command: str, runs: int) -> str:
    py = rows[0]["res"]["python"] if rows else platform.python_version()
    lines = [
        HEAD,
        "",
        "Produced by `%s`. Machine: %s, %d cores (`os.cpu_count()`), Python %s, "
        "Linux %s. Each heap is built in a fresh process (units of an instance "
        "with a big int and a str attribute plus a one-float list: 5 objects per unit); "
        "times are the median of %d dumps in that process (min–max in brackets). "
        "\"to /dev/null\" is the same dump without the disk (walk, sizes and JSON). "
        "Extra peak is VmHWM during one dump (reset through /proc/self/clear_refs) "
        "minus VmRSS just before it; B/object divides it by the objects dumped. "
        "Ratios are against the pure-Python dumper (gc.get_objects + gc.get_referents + "
        "json, id()-keyed dict) run in the same invocation."
        % (command, cpu_model(), os.cpu_count() or 0, py, platform.release(), runs),
        "",
        "| heap (built objects) | dumper | objects dumped | seconds median (min–max) | "
        "objects/s | to /dev/null s | objects/s without disk | extra peak MiB | "
        "extra B/object | dump MiB | time vs pure Python |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        r = row["res"]
        med = statistics.median(r["times"])
        rate = r["objects"] / med
        peak = statistics.median(r["peaks"]) if r["peaks"] else 0
        null = fmt_time(r["null_times"]) if r["null_times"] else "—"
        null_rate = (
            fmt_rate(r["objects"] / statistics.median(r["null_times"]))
            if r["null_times"]
            else "—"
        )
        base = row.get("baseline_rate")
        ratio = "%.2f×" % (base / rate) if base else "1.00×"
        lines.append(
            "| %s | %s | %s | %s | %s | %s | %s | %.1f | %.1f | %.0f | %s |"
            % (
                "{:,}".format(row["n"]),
                row["label"],
                "{:,}".format(r["objects"]),
                fmt_time(r["times"]),
                fmt_rate(rate),
                null,
                null_rate,
                peak / 2**20,
                peak / max(1, r["objects"]),
                r["bytes"] / 2**20,
                ratio,
            )
        )
    lines.append("")
    lines.append(
        "Ratios use objects/s (the two dumpers do not dump the same number of objects: "
        "the pure-Python walk misses what gc.get_referents does not report, such as "
        "code objects' fields and executing frames' locals)."
    )
    if any(not row["res"].get("peak_ok", True) for row in rows):
        lines.append("Peak memory could not be reset on this system: peaks are upper bounds.")
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


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,10000000", help="heap sizes (objects)")
    ap.add_argument("--runs", type=int, default=3, help="dumps per heap")
    ap.add_argument("--baseline-max", type=int, default=1000000,
                    help="largest heap the pure-Python dumper runs on")
    ap.add_argument("--no-write", action="store_true", help="print the section only")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows: List[Dict[str, Any]] = []
    for n in sizes:
        bn = min(n, args.baseline_max)
        sys.stderr.write("pure Python on %d objects\n" % bn)
        base = run_child("purepy", bn, 1 if bn > 1000000 else args.runs)
        base_rate = base["objects"] / statistics.median(base["times"])
        sys.stderr.write("meliae on %d objects\n" % n)
        ours = run_child("meliae", n, args.runs)
        rows.append({"n": n, "label": "meliae `dump_all_objects`", "res": ours,
                     "baseline_rate": base_rate})
        label = "pure Python" if bn == n else "pure Python (run on a %s-object heap)" % (
            "{:,}".format(bn))
        rows.append({"n": n, "label": label, "res": base})
    cmd = "python bench/bench_dump.py" + ("" if not argv and len(sys.argv) <= 1 else
                                          " " + " ".join(argv if argv else sys.argv[1:]))
    text = section(rows, cmd, args.runs)
    if args.no_write:
        print(text)
    else:
        write_section(text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
