"""Plot time and memory against object count for each tool (PNG).

    python bench/plot.py bench/results.jsonl bench/plot.png [--workload webapp]

Reads the raw records bench/run.py writes.  Top row: capture time and extra
peak memory; bottom row: analysis time and peak memory; log-log axes, one
line per tool, median over repetitions, min-max as error bars.
"""
from __future__ import annotations

import argparse
import json
import statistics
from typing import Any, Dict, List, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CAPTURE = {
    "ours": "meliae",
    "purepy": "pure Python",
    "guppy3": "guppy3 heap()",
    "pympler": "Pympler summarize",
    "objgraph": "objgraph typestats",
    "tracemalloc": "tracemalloc snapshot",
}
ANALYSIS = {
    "ours": "meliae load+summarize+parents+dominators",
    "purepy": "pure Python loader",
    "classic": "classic Meliae load (classic dump)",
    "wc": "wc -l",
    "cat": "cat > /dev/null",
}
Series = Dict[str, List[Tuple[float, float, float, float, float, float, float]]]


def series(records: List[Dict[str, Any]], side: str, task: str, labels: Dict[str, str],
           workload: str) -> Series:
    """tool -> [(objects, t_med, t_lo, t_hi, m_med, m_lo, m_hi)] sorted by objects."""
    groups: Dict[Tuple[str, int], List[Dict[str, Any]]] = {}
    for r in records:
        if r.get("side") != side or r.get("task") != task or r.get("status") != "ok":
            continue
        if r.get("workload") != workload or r.get("tool") not in labels:
            continue
        if side == "analysis" and r.get("tool") != "classic" and r.get("format") == "classic":
            continue
        groups.setdefault((r["tool"], r["size"]), []).append(r)
    out: Series = {}
    for (tool, _size), rs in groups.items():
        objs = rs[0].get("objects") or rs[0].get("dump_objects") or rs[0]["size"]
        t = [r["seconds"] for r in rs]
        m = [(r.get("extra_peak") or 0) / 1048576.0 for r in rs]
        out.setdefault(tool, []).append((objs, statistics.median(t), min(t), max(t),
                                         statistics.median(m), min(m), max(m)))
    for v in out.values():
        v.sort()
    return out


def panel(ax_t: Any, ax_m: Any, data: Series, labels: Dict[str, str], title: str,
          mem_label: str) -> None:
    for tool, label in labels.items():
        pts = data.get(tool)
        if not pts:
            continue
        x = [p[0] for p in pts]
        for ax, i, in ((ax_t, 1), (ax_m, 4)):
            y = [p[i] for p in pts]
            err = [[p[i] - p[i + 1] for p in pts], [p[i + 2] - p[i] for p in pts]]
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=label)
    for ax, ylabel in ((ax_t, "seconds"), (ax_m, mem_label)):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("objects")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.set_title(title + ": time")
    ax_m.set_title(title + ": memory")
    ax_m.legend(fontsize=7, loc="best", framealpha=0.6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results")
    ap.add_argument("png")
    ap.add_argument("--workload", default="webapp")
    args = ap.parse_args()
    with open(args.results) as f:
        records = [json.loads(line) for line in f if line.strip()]
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    panel(axes[0][0], axes[0][1], series(records, "capture", "capture", CAPTURE, args.workload),
          CAPTURE, "capture (%s workload, built objects)" % args.workload, "extra peak MiB")
    panel(axes[1][0], axes[1][1], series(records, "analysis", "analysis", ANALYSIS,
                                         args.workload),
          ANALYSIS, "analysis (objects in the dump)", "peak MiB")
    fig.tight_layout()
    fig.savefig(args.png, dpi=90)


if __name__ == "__main__":
    main()
