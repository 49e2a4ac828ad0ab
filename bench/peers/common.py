"""Measurement helpers shared by the capture and analysis drivers.

Runs on every Python the suite uses (3.8 to 3.13): 3.8 syntax only.
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import re
import resource
import sys
import time
import traceback
from types import ModuleType
from typing import Any, Callable, Dict, Optional

_STATUS_KEYS = ("VmHWM", "VmRSS")


def proc_status() -> Dict[str, int]:
    """VmHWM and VmRSS of this process in bytes (from /proc/self/status)."""
    out: Dict[str, int] = {}
    with open("/proc/self/status") as f:
        text = f.read()
    for key in _STATUS_KEYS:
        m = re.search(key + r":\s+(\d+)\s+kB", text)
        if m:
            out[key] = int(m.group(1)) * 1024
    return out


# The highest VmHWM seen before any reset since the last PeakProbe.start():
# stage probes inside a measurement reset the peak, the outer probe still
# needs the overall one.
_HWM_BEFORE_RESETS = [0]


def reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS.

    Writing "5" to /proc/self/clear_refs does that on Linux 4.0+.  Returns
    False where it is not possible; the caller then falls back to ru_maxrss,
    which can hide a tool's peak under the workload's own build peak.
    """
    _HWM_BEFORE_RESETS[0] = max(_HWM_BEFORE_RESETS[0], proc_status().get("VmHWM", 0))
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakProbe:
    """Extra peak memory of one call: peak RSS during it minus RSS before it."""

    def __init__(self) -> None:
        self.rss_before = 0
        self.exact = False
        self.maxrss_before = 0

    def start(self) -> None:
        """Record the RSS now and reset the high-water mark."""
        self.exact = reset_peak()
        _HWM_BEFORE_RESETS[0] = 0
        st = proc_status()
        self.rss_before = st.get("VmRSS", 0)
        self.maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def extra(self) -> int:
        """Bytes the peak rose above the RSS recorded by :meth:`start`."""
        if self.exact:
            hwm = max(proc_status().get("VmHWM", 0), _HWM_BEFORE_RESETS[0])
            return max(0, hwm - self.rss_before)
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return max(0, maxrss - max(self.rss_before, self.maxrss_before))


class StageProbe:
    """Time and peak memory of each stage inside one measurement.

    ``stage(name)`` closes the previous stage and opens the next; ``done()``
    closes the last.  Each stage gets seconds, its peak RSS above the RSS at
    its start, and the RSS at its end.
    """

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self.seconds: Dict[str, float] = {}
        self.extra: Dict[str, int] = {}
        self.rss_after: Dict[str, int] = {}
        self._name: Optional[str] = None
        self._t0 = 0.0
        self._rss0 = 0

    def _close(self) -> None:
        if self._name is None:
            return
        st = proc_status()
        self.seconds[self._name] = self._clock() - self._t0
        self.extra[self._name] = max(0, st.get("VmHWM", 0) - self._rss0)
        self.rss_after[self._name] = st.get("VmRSS", 0)
        self._name = None

    def stage(self, name: str) -> None:
        self._close()
        reset_peak()
        self._name = name
        self._rss0 = proc_status().get("VmRSS", 0)
        self._t0 = self._clock()

    def done(self) -> None:
        self._close()


def load_adapter(rec: Dict[str, Any], name: str) -> Optional[ModuleType]:
    """Import adapter module ``name`` and run its ``prepare()``.

    Returns the module, or None after recording in ``rec`` why the tool is
    unavailable here (missing or broken).
    """
    try:
        mod = importlib.import_module(name)
        mod.prepare()
    except Exception as e:
        rec.update(status="unavailable", error="%s: %s" % (type(e).__name__, e))
        return None
    return mod


def measure(rec: Dict[str, Any], call: Callable[[], Dict[str, Any]]) -> bool:
    """Run ``call()`` as the measured step and record it in ``rec``.

    Records the RSS before (``rss_before``), then the seconds and the peak RSS
    above that RSS (``extra_peak``, ``peak_exact``), the figures ``call``
    returns and ``status`` "ok".  When ``call`` raises, ``status`` says
    "unavailable" (an ImportError) or "error" with the error and the end of
    the traceback, and the result is False.
    """
    probe = PeakProbe()
    probe.start()
    rec["rss_before"] = probe.rss_before
    t0 = time.perf_counter()
    try:
        out = call()
    except Exception as e:
        rec.update(status="unavailable" if isinstance(e, ImportError) else "error",
                   error="%s: %s" % (type(e).__name__, e),
                   traceback=traceback.format_exc()[-2000:])
        return False
    rec["seconds"] = time.perf_counter() - t0
    rec["extra_peak"] = probe.extra()
    rec["peak_exact"] = probe.exact
    rec.update(out)
    rec["status"] = "ok"
    return True


def emit(record: Dict[str, Any]) -> None:
    """Print one result line and leave at once (no heap teardown to wait for)."""
    record.setdefault("python", platform.python_version())
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def file_size(path: Optional[str]) -> Optional[int]:
    """Size of ``path`` in bytes, or None if there is none."""
    if path and os.path.exists(path):
        return os.path.getsize(path)
    return None


def count_lines(path: str) -> int:
    """Number of newline-terminated lines in ``path``."""
    n = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 22)
            if not block:
                return n
            n += block.count(b"\n")
