"""Run one capture-side measurement in this (fresh) process; print one JSON line.

    python bench/peers/capture.py --tool ours --workload webapp --size 1000000 \
        --dump /tmp/x.json

Order: import the tool, build the workload, collect garbage, record RSS and
reset the peak, time the tool's call with ``time.perf_counter``, then record
the peak RSS above the RSS before the call.  3.8 syntax only (the classic
Meliae runs on 3.8).
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))

from common import emit, file_size, load_adapter, measure  # noqa: E402
import workloads  # noqa: E402

ADAPTERS = {
    "ours": "ours",
    "purepy": "purepy",
    "guppy3": "guppy3_heap",
    "pympler": "pympler_summary",
    "objgraph": "objgraph_typestats",
    "tracemalloc": "tracemalloc_snapshot",
    "classic": "classic_meliae",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tool", required=True, choices=sorted(ADAPTERS))
    ap.add_argument("--workload", required=True, choices=sorted(workloads.WORKLOADS))
    ap.add_argument("--size", required=True, type=int)
    ap.add_argument("--dump", default=None, help="where a dumping tool writes")
    ap.add_argument("--keep-dump", action="store_true")
    args = ap.parse_args()

    rec = {"side": "capture", "tool": args.tool, "workload": args.workload,
           "size": args.size}
    mod = load_adapter(rec, ADAPTERS[args.tool])
    if mod is None:
        emit(rec)
        return

    t0 = time.perf_counter()
    heap = workloads.build(args.workload, args.size)
    rec["build_seconds"] = time.perf_counter() - t0
    rec["objects"] = heap.objects
    gc.collect()

    if measure(rec, lambda: mod.capture(args.dump)):
        rec["dump_bytes"] = file_size(args.dump)
        if args.dump and not args.keep_dump and os.path.exists(args.dump):
            os.unlink(args.dump)
    del heap
    emit(rec)


if __name__ == "__main__":
    main()
