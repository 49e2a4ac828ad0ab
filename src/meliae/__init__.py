"""meliae: dump the heap of a live Python process, analyse it offline.

``meliae.scanner`` writes dumps (docs/format.md); ``meliae.loader`` reads them.
Submodules are imported on first use, so ``import meliae`` stays cheap.
"""
import importlib
import sys
from typing import Any

from . import _version

# An interpreter whose object layout the scanner does not know is refused here with
# one clear line (the same one setup.py gives), before the extensions are loaded.
_unsupported = _version.check(sys.version_info, _version.gil_disabled(),
                              sys.implementation.name)
if _unsupported:
    raise ImportError(_unsupported)

__version__ = "1.0.0.dev0"
version_info = (1, 0, 0, "dev", 0)

__all__ = ["__version__", "version_info", "scanner", "loader", "diff"]


def __getattr__(name: str) -> Any:
    """Import ``scanner`` and ``loader`` lazily; ``meliae.diff`` is ``loader.diff``."""
    if name in ("scanner", "loader"):
        return importlib.import_module("." + name, __name__)
    if name == "diff":
        return importlib.import_module(".loader", __name__).diff
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
