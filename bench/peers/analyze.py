"""Run one analysis-side measurement in this (fresh) process; print one JSON line.

    python bench/peers/analyze.py --tool ours --dump /tmp/x.json

Records RSS before loading (the interpreter and the tool's modules), times the
tool's stages with ``time.perf_counter`` and reports the peak RSS above that
baseline.  3.8 syntax only.
"""
from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import emit, file_size, load_adapter, measure  # noqa: E402

ADAPTERS = {"ours": "ours", "purepy": "purepy", "classic": "classic_meliae"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tool", required=True, choices=sorted(ADAPTERS))
    ap.add_argument("--dump", required=True)
    args = ap.parse_args()
    rec = {"side": "analysis", "tool": args.tool, "dump": args.dump,
           "dump_bytes": file_size(args.dump)}
    mod = load_adapter(rec, ADAPTERS[args.tool])
    if mod is not None:
        measure(rec, lambda: mod.analyze(args.dump))
    emit(rec)


if __name__ == "__main__":
    main()
