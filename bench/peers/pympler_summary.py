"""Pympler: ``muppy.get_objects()`` then ``summary.summarize()``."""
from __future__ import annotations

from typing import Any, Dict

NAME = "Pympler"


def prepare() -> None:
    """Import pympler."""
    global muppy, summary
    from pympler import muppy, summary  # noqa: F401


def capture(path: str) -> Dict[str, Any]:
    """List the objects muppy finds and summarise them by type."""
    objs = muppy.get_objects()
    rows = summary.summarize(objs)
    return {"seen": len(objs), "tool_bytes": sum(r[2] for r in rows)}
