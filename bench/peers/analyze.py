"""Run one analysis-side measurement in this (fresh) process; print one JSON line.

    python bench/peers/analyze.py --tool ours --dump /tmp/x.json

Records RSS before loading (the interpreter and the tool's modules), times the
tool's stages with ``time.perf_counter`` and reports the peak RSS above that
baseline.  3.8 syntax only.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import PeakProbe, emit, file_size  # noqa: E402

ADAPTERS = {"ours": "ours", "purepy": "purepy", "classic": "classic_meliae"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tool", required=True, choices=sorted(ADAPTERS))
    ap.add_argument("--dump", required=True)
    args = ap.parse_args()
    rec = {"side": "analysis", "tool": args.tool, "dump": args.dump,
           "dump_bytes": file_size(args.dump)}
    try:
        mod = importlib.import_module(ADAPTERS[args.tool])
        mod.prepare()
    except Exception as e:
        rec.update(status="unavailable", error="%s: %s" % (type(e).__name__, e))
        emit(rec)
        return
    probe = PeakProbe()
    probe.start()
    rec["rss_before"] = probe.rss_before
    t0 = time.perf_counter()
    try:
        out = mod.analyze(args.dump)
    except Exception as e:
        rec.update(status="unavailable" if isinstance(e, ImportError) else "error",
                   error="%s: %s" % (type(e).__name__, e),
                   traceback=traceback.format_exc()[-2000:])
        emit(rec)
        return
    rec["seconds"] = time.perf_counter() - t0
    rec["extra_peak"] = probe.extra()
    rec["peak_exact"] = probe.exact
    rec.update(out)
    rec["status"] = "ok"
    emit(rec)


if __name__ == "__main__":
    main()
