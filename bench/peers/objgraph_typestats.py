"""objgraph: ``typestats()``, counts by type over ``gc.get_objects()``."""
from __future__ import annotations

from typing import Any, Dict

NAME = "objgraph"


def prepare() -> None:
    """Import objgraph."""
    global objgraph
    import objgraph  # noqa: F401


def capture(path: str) -> Dict[str, Any]:
    """Count GC-tracked objects by type (untracked ones are not seen)."""
    stats = objgraph.typestats()
    return {"seen": sum(stats.values())}
