"""guppy3 (heapy): ``hpy().heap()``, an in-process partition of the heap."""
from __future__ import annotations

from typing import Any, Dict

NAME = "guppy3"


def prepare() -> None:
    """Import guppy."""
    global hpy
    from guppy import hpy  # noqa: F401


def capture(path: str) -> Dict[str, Any]:
    """Build the heap partition; its count and total size are its own figures."""
    h = hpy().heap()
    return {"seen": h.count, "tool_bytes": h.size}
