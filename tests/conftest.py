"""Shared pytest fixtures (kept minimal; each test module owns its helpers)."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Iterator, List

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def read_dump(path_or_bytes: Any) -> List[Dict[str, Any]]:
    """Parses a dump (a path or its bytes) with the json module, line by line."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytes(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as f:
            data = f.read()
    if data[:2] == b"\x1f\x8b":
        import gzip

        data = gzip.decompress(data)
    return [json.loads(line) for line in data.decode("ascii").splitlines()]


@pytest.fixture
def dump_records() -> Iterator[Any]:
    """Returns read_dump, for tests that parse dumps."""
    yield read_dump
