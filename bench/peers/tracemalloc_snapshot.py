"""tracemalloc: ``take_snapshot()``.

Tracing must be on while the heap is built, so this adapter starts it before
the workload; the build slowdown and the tracing memory are reported beside
the snapshot's own time and peak.
"""
from __future__ import annotations

import tracemalloc
from typing import Any, Dict

NAME = "tracemalloc"
TRACE_DURING_BUILD = True


def prepare() -> None:
    """Start tracing (one frame per trace, the default)."""
    tracemalloc.start()


def capture(path: str) -> Dict[str, Any]:
    """Take a snapshot of every traced block."""
    snap = tracemalloc.take_snapshot()
    return {"seen": len(snap.traces), "tracing_bytes": tracemalloc.get_tracemalloc_memory()}
