"""Load meliae dumps and explore them: the classic ``meliae.loader`` API.

``load()`` reads a dump (a path, ``"-"`` for stdin, a file object or an
iterable of lines) into the C engine and returns an :class:`ObjManager`.
Objects are reached by address (``om[address]``) as lightweight proxies whose
attributes read the engine's graph: ``.address .type_str .size .value
.children .parents .c .p .num_parents .total_size``.

Everything heavy (parsing, parents, collapsing ``__dict__``s, summaries,
reachability, dominators, paths) runs in libmeliae; this module only adapts
the engine to the API of the classic Meliae loader and adds the newer
analyses (``compute_dominators``, ``retained_size``, ``path_to``, ``top``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import tempfile
import time
import warnings
from typing import (Any, Dict, IO, Iterable, Iterator, List, Optional, Sequence,
                    Tuple, Union)

from meliae import _engine

__all__ = [
    "DumpError", "DumpWarning", "LoadReport", "ObjManager", "Path", "diff", "load",
]

DumpError = _engine.DumpError
"""Raised for a dump that cannot be read; ``str()`` is ``FILE:LINE:COLUMN: message``."""


class DumpWarning(UserWarning):
    """A dump loaded, but not cleanly: it is truncated or some lines were skipped."""


_NODE_DELETED = _engine.NODE_DELETED
_NODE_MISSING = _engine.NODE_MISSING
_GONE = _NODE_DELETED | _NODE_MISSING

Source = Union[str, "os.PathLike[str]", bytes, IO[Any], Iterable[Union[str, bytes]]]


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """What loading found beside the objects.

    ``truncated`` is true for a dump in our format that lacks its trailer (the
    writer died); ``bad_lines`` counts lines skipped in non-strict mode, and
    ``first_bad`` locates the first one as ``FILE:LINE:COLUMN: message``.
    """

    source: str
    lines: int
    objects: int
    bad_lines: int
    first_bad: Optional[str]
    duplicates: int
    dangling_refs: int
    has_header: bool
    has_trailer: bool
    complete: bool
    trailer_objects: int
    classic: bool
    version: Tuple[int, int]
    python_version: str
    pointer_size: int

    @property
    def truncated(self) -> bool:
        """True when a dump in our format ends without its trailer."""
        return self.has_header and not self.has_trailer


def _make_report(source: str, raw: Dict[str, Any]) -> LoadReport:
    first = raw["first_bad"]
    first_bad = None
    if first is not None:
        reason = first["message"]
        if first["detail"]:
            reason += ": " + first["detail"]
        first_bad = "%s:%d:%d: %s" % (source, first["line"], first["column"], reason)
    return LoadReport(
        source=source, lines=raw["lines"], objects=raw["objects"],
        bad_lines=raw["bad_lines"], first_bad=first_bad, duplicates=raw["duplicates"],
        dangling_refs=raw["dangling_refs"], has_header=raw["has_header"],
        has_trailer=raw["has_trailer"],
        complete=bool(raw["trailer_complete"]) if raw["has_trailer"] else False,
        trailer_objects=raw["trailer_objects"], classic=raw["classic"],
        version=tuple(raw["version"]), python_version=raw["python_version"],
        pointer_size=raw["pointer_size"])


def _warn_about(report: LoadReport) -> None:
    """Raises the DumpWarnings a loaded dump calls for, each located as
    ``FILE:LINE:COLUMN``.  A missing trailer has no line of its own: it is
    placed where the trailer should have been, after the last line read."""
    if report.truncated:
        warnings.warn("%s:%d:1: the dump is truncated (no trailer); loaded the %d complete "
                      "objects" % (report.source, report.lines + 1, report.objects),
                      DumpWarning, stacklevel=3)
    elif report.has_trailer and not report.complete:
        warnings.warn("%s: the scanner stopped early; the dump is incomplete" % report.source,
                      DumpWarning, stacklevel=3)
    if report.bad_lines:
        warnings.warn("skipped %d bad line%s; the first: %s"
                      % (report.bad_lines, "" if report.bad_lines == 1 else "s",
                         report.first_bad), DumpWarning, stacklevel=3)


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------

_MiB = 1024.0 * 1024.0


class _Progress:
    """Prints progress lines on stderr when it is a terminal.

    Instances are the engine's progress callback:
    ``progress(phase, lines, objects, bytes_read, bytes_total)``.
    """

    def __init__(self, enabled: bool, stream: Optional[IO[str]] = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(enabled and isatty is not None and isatty())
        self.start = time.monotonic()
        self.last = 0.0
        self.bytes_total = 0
        self.bytes_read = 0

    @property
    def callback(self) -> Optional["_Progress"]:
        """The object to hand to the engine, or None when nothing is shown."""
        return self if self.enabled else None

    def __call__(self, phase: str, lines: int, objects: int, bytes_read: int,
                 bytes_total: int) -> None:
        now = time.monotonic()
        self.bytes_read = bytes_read
        self.bytes_total = max(self.bytes_total, bytes_total)
        if now - self.last < 0.1:
            return
        self.last = now
        elapsed = now - self.start
        if phase == "loading":
            rate = lines / elapsed if elapsed > 0 else 0.0
            text = ("loading... line %d, %d objs, %5.1f / %5.1f MiB read in %.1fs (%.0f lines/s)"
                    % (lines, objects, bytes_read / _MiB, self.bytes_total / _MiB, elapsed,
                       rate))
        else:
            text = "%s... %d / %d in %.1fs" % (phase, lines, objects, elapsed)
        self.stream.write(text + "    \r")
        self.stream.flush()

    def loaded(self, report: LoadReport) -> None:
        """Prints the final loading line."""
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        self.stream.write("loaded line %d, %d objs, %5.1f / %5.1f MiB read in %.1fs        \n"
                          % (report.lines, report.objects, self.bytes_read / _MiB,
                             self.bytes_total / _MiB, elapsed))
        self.stream.flush()

    def note(self, text: str) -> None:
        """Prints one finished-step line."""
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

_CHUNK = 1 << 20


_COMPRESSED_MAGIC = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd")  # gzip, zstd


def _load_file(f: IO[Any], name: str, strict: bool,
               progress: Optional[_Progress]) -> Tuple[Any, Dict[str, Any]]:
    """Loads a text or binary file object.

    A compressed stream (gzip or zstd, known by its magic bytes) is copied as
    it is into a temporary file and read by the engine like a path, so that a
    stream cut short loads every complete line and reports where it stops,
    exactly as the same file given by name does.  Anything else is fed to the
    engine chunk by chunk; a decompressing file object (``gzip.open`` and the
    like) that raises EOFError on a cut stream ends the input there, with a
    DumpWarning.
    """
    cut: Optional[EOFError] = None
    # read1 returns what one underlying read gives: a decompressing reader
    # that meets the cut then loses that step only, not a whole chunk.
    read_some = getattr(f, "read1", f.read)

    def read() -> Union[str, bytes]:
        nonlocal cut
        try:
            return read_some(_CHUNK)  # type: ignore[no-any-return]
        except EOFError as e:
            cut = e
            return b""

    first = read()
    while first and len(first) < 4:  # enough to tell the compression
        more = read()
        if not more:
            break
        first += more  # type: ignore[operator]
    if isinstance(first, bytes) and first.startswith(_COMPRESSED_MAGIC):
        with tempfile.TemporaryDirectory(prefix="meliae-") as tmp:
            spool = os.path.join(tmp, "dump")
            with open(spool, "wb") as out:
                while first:
                    out.write(first)
                    first = f.read(_CHUNK)
            return _engine.load_path(spool, strict=strict, progress=progress,
                                     source_name=name)  # type: ignore[no-any-return]
    loader = _engine.Loader(strict=strict, progress=progress, source_name=name)
    while first:
        if isinstance(first, str):
            loader.feed(first.encode("utf-8", "surrogatepass"))
        else:
            loader.feed(first)
        first = read()
    graph, raw = loader.finish()
    if cut is not None:
        warnings.warn("%s:%d:1: the compressed stream ends early (%s); loaded the %d complete "
                      "objects before it" % (name, raw["lines"] + 1, cut, raw["objects"]),
                      DumpWarning, stacklevel=4)
    return graph, raw


def _feed_lines(loader: Any, lines: Iterable[Union[str, bytes]]) -> None:
    batch: List[bytes] = []
    size = 0
    for line in lines:
        if isinstance(line, str):
            line = line.encode("utf-8", "surrogatepass")
        elif not isinstance(line, (bytes, bytearray, memoryview)):
            raise TypeError("dump lines must be str or bytes, not %s" % type(line).__name__)
        line = bytes(line)
        if not line.endswith(b"\n"):
            line += b"\n"
        batch.append(line)
        size += len(line)
        if size >= _CHUNK:
            loader.feed(b"".join(batch))
            batch, size = [], 0
    if batch:
        loader.feed(b"".join(batch))


def _load_graph(source: Source, strict: bool, progress: _Progress) -> Tuple[Any, LoadReport]:
    cb = progress.callback
    if isinstance(source, (str, bytes, os.PathLike)):
        path = os.fsdecode(source)
        name = "<stdin>" if path == "-" else path
        graph, raw = _engine.load_path(path, strict=strict, progress=cb, source_name=name)
        return graph, _make_report(name, raw)
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        name = name if isinstance(name, str) else "<file>"
        graph, raw = _load_file(source, name, strict, cb)  # type: ignore[arg-type]
        return graph, _make_report(name, raw)
    name = "<lines>"
    if isinstance(source, (list, tuple)):
        progress.bytes_total = sum(
            len(x) + (not x.endswith("\n" if isinstance(x, str) else b"\n"))
            for x in source)
    loader = _engine.Loader(strict=strict, progress=cb, source_name=name)
    _feed_lines(loader, source)  # type: ignore[arg-type]
    graph, raw = loader.finish()
    return graph, _make_report(name, raw)


def load(source: Source, using_json: Optional[bool] = None, show_prog: bool = True,
         collapse: bool = True, max_parents: Optional[int] = None,
         strict: bool = False) -> "ObjManager":
    """Loads a dump and returns an :class:`ObjManager` over its objects.

    :param source: a path (``str`` or path-like; gzip and zstd are detected by
        their magic bytes), ``"-"`` for stdin, a text or binary file object, or
        an iterable of lines (``str`` or ``bytes``, with or without newlines).
    :param using_json: accepted for compatibility with the classic loader and
        ignored: the engine has one parser.
    :param show_prog: print progress on stderr when it is a terminal.
    :param collapse: fold instance ``__dict__``s into their owners, then
        compute parents.  With ``collapse=False`` parents are not computed
        (call :meth:`ObjManager.compute_parents`), as in the classic loader.
    :param max_parents: parents kept per object: ``None`` means 100, ``0``
        none, a negative number all of them.
    :param strict: fail on the first bad line instead of skipping it.
    :raises DumpError: the dump is not readable (``FILE:LINE:COLUMN: message``).
    :raises OSError: the file cannot be read.
    :raises KeyboardInterrupt: interrupted while loading.

    A truncated dump or skipped lines raise a :class:`DumpWarning`; the
    details are in ``om.load_report``.
    """
    del using_json
    progress = _Progress(show_prog)
    graph, report = _load_graph(source, strict, progress)
    progress.loaded(report)
    _warn_about(report)
    om = ObjManager(graph, show_progress=show_prog, max_parents=max_parents,
                    load_report=report)
    if collapse:
        start = time.monotonic()
        om.collapse_instance_dicts()
        if not graph.has_parents():
            om.compute_parents()
        progress.note("collapsed in %.1fs" % (time.monotonic() - start))
    return om


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------

class _TypeSummary:
    """Count and sizes of the objects of one type in a summary."""

    __slots__ = ("type_str", "count", "total_size", "sq_sum", "max_size", "max_address",
                 "retained")

    def __init__(self, type_str: str, count: int, total_size: int, sq_sum: float,
                 max_size: int, max_address: Optional[int], retained: int = 0) -> None:
        self.type_str = type_str
        self.count = count
        self.total_size = total_size
        self.sq_sum = sq_sum
        self.max_size = max_size
        self.max_address = max_address
        self.retained = retained

    def __repr__(self) -> str:
        if self.count == 0:
            return "%s: 0, 0 bytes" % self.type_str
        avg = self.total_size / self.count
        var = self.sq_sum / self.count - avg * avg
        stddev = math.sqrt(var) if var > 0 else 0.0
        return ("%s: %d, %d bytes, %.3f avg bytes, %.3f std dev, %d max @ %d"
                % (self.type_str, self.count, self.total_size, avg, stddev, self.max_size,
                   self.max_address if self.max_address is not None else 0))


class _ObjSummary:
    """A type histogram: ``repr()`` is the classic table (at most 20 rows).

    ``by_size()`` (the default) and ``by_count()`` choose the order; a
    ``Retained`` column appears when dominators were computed.
    """

    max_rows = 20

    def __init__(self, type_summaries: Dict[str, _TypeSummary], total_count: int,
                 total_size: int, show_retained: bool = False) -> None:
        self.type_summaries = type_summaries
        self.total_count = total_count
        self.total_size = total_size
        self.show_retained = show_retained
        self.summaries: Optional[List[_TypeSummary]] = None

    def by_size(self) -> "_ObjSummary":
        """Orders rows by total size, then count, largest first; returns self."""
        self.summaries = sorted(self.type_summaries.values(),
                                key=lambda s: (-s.total_size, -s.count, s.type_str))
        return self

    def by_count(self) -> "_ObjSummary":
        """Orders rows by count, then total size, largest first; returns self."""
        self.summaries = sorted(self.type_summaries.values(),
                                key=lambda s: (-s.count, -s.total_size, s.type_str))
        return self

    def by_retained(self) -> "_ObjSummary":
        """Orders rows by retained size, then total size; returns self."""
        self.summaries = sorted(self.type_summaries.values(),
                                key=lambda s: (-s.retained, -s.total_size, s.type_str))
        return self

    def rows(self) -> List[Dict[str, Any]]:
        """The displayed rows (at most 20) as dicts, percentages truncated."""
        if self.summaries is None:
            self.by_size()
        assert self.summaries is not None
        out = []
        cum = 0
        for index, s in enumerate(self.summaries[:self.max_rows]):
            cum += s.total_size
            out.append({
                "index": index, "count": s.count,
                "count_percent": _pct(s.count, self.total_count),
                "size": s.total_size, "size_percent": _pct(s.total_size, self.total_size),
                "cumulative_percent": _pct(cum, self.total_size),
                "max_size": s.max_size, "retained": s.retained, "type": s.type_str,
            })
        return out

    def __repr__(self) -> str:
        rows = self.rows()
        cols: List[Tuple[str, str, int]] = [
            ("index", "Index", 6), ("count", "Count", 8), ("count_percent", "%", 4),
            ("size", "Size", 10), ("size_percent", "%", 4), ("cumulative_percent", "Cum", 4),
            ("max_size", "Max", 8)]
        if self.show_retained:
            cols.append(("retained", "Retained", 10))
        widths = []
        for key, label, width in cols:
            need = max([len(str(r[key])) + 1 for r in rows] + [len(label) + 1, width])
            widths.append(need)
        lines = ["Total %d objects, %d types, Total size = %.1fMiB (%d bytes)"
                 % (self.total_count, len(self.type_summaries), self.total_size / _MiB,
                    self.total_size)]
        lines.append("".join(label.rjust(w) for (_, label, _), w in zip(cols, widths))
                     + " Kind")
        for r in rows:
            lines.append("".join(str(r[key]).rjust(w) for (key, _, _), w in zip(cols, widths))
                         + " " + r["type"])
        return "\n".join(lines)


def _pct(part: int, whole: int) -> int:
    """Truncated percentage, the classic way (0 when whole is 0)."""
    if whole <= 0:
        return 0
    return int(100.0 * part / whole)


# ---------------------------------------------------------------------------
# Object proxies
# ---------------------------------------------------------------------------

def _deprecated(msg: str) -> None:
    warnings.warn(msg, DeprecationWarning, stacklevel=3)


def _format_total(total: int) -> str:
    value = float(total)
    unit = "B"
    for next_unit in ("K", "M", "G"):
        if value <= 800:
            break
        value /= 1024.0
        unit = next_unit
    return "%.1f%stot" % (value, unit)


class _MemObjectProxy:
    """One object of a loaded dump, read through the engine.

    Proxies are cached by their manager, so ``om[a] is om[a]``.  A proxy
    keeps working after its object is deleted (for example a ``__dict__``
    folded into its owner), although ``om[address]`` then raises KeyError.
    """

    __slots__ = ("_om", "_i", "total_size", "__weakref__")

    def __init__(self, om: "ObjManager", index: int) -> None:
        self._om = om
        self._i = index
        self.total_size = 0

    # --- plain attributes ---------------------------------------------------
    @property
    def address(self) -> int:
        """The object's address (``id()`` in the dumped process)."""
        return self._om._g.address(self._i)

    @property
    def type_str(self) -> str:
        """The type name as the dump wrote it."""
        return self._om._g.type_name(self._i)

    @type_str.setter
    def type_str(self, name: str) -> None:
        g = self._om._g
        g.set_type(self._i, g.type_intern(name))

    @property
    def size(self) -> int:
        """Bytes the object occupies."""
        return self._om._g.size(self._i)

    @size.setter
    def size(self, value: int) -> None:
        self._om._g.set_size(self._i, value)

    @property
    def value(self) -> Union[None, str, int, bool]:
        """The dumped value or name: str, int, bool or None (never bytes)."""
        return self._om._g.value(self._i)

    @value.setter
    def value(self, value: Union[None, str, int]) -> None:
        self._om._g.set_value(self._i, value)

    @property
    def length(self) -> Optional[int]:
        """The dump's ``len`` (item count), or None when it was not written."""
        return self._om._g.length(self._i)

    @property
    def children(self) -> Union[List[int], Tuple[()]]:
        """Addresses this object references (``()`` when none, as classic)."""
        return self._om._g.child_addresses(self._i) or ()

    @children.setter
    def children(self, addresses: Iterable[int]) -> None:
        om = self._om
        self._om._g.set_children(self._i, [om._index_or_missing(a) for a in addresses])

    @property
    def parents(self) -> Union[List[int], Tuple[()]]:
        """Addresses of the objects referencing this one (after compute_parents)."""
        return self._om._g.parent_addresses(self._i) or ()

    @property
    def num_parents(self) -> int:
        """Number of parents kept (see ``max_parents``)."""
        return self._om._g.num_parents(self._i)

    @property
    def c(self) -> List["_MemObjectProxy"]:
        """The children as proxies; KeyError for an address with no object."""
        om = self._om
        return [om[a] for a in self._om._g.child_addresses(self._i)]

    @property
    def p(self) -> List["_MemObjectProxy"]:
        """The parents as proxies."""
        om = self._om
        return [om._proxy(i) for i in self._om._g.parents(self._i)]

    # --- deprecated classic names --------------------------------------------
    @property
    def num_refs(self) -> int:
        """Deprecated: ``len(obj)``."""
        _deprecated("Attribute .num_refs deprecated. Use len() instead.")
        return len(self)

    @property
    def ref_list(self) -> Union[List[int], Tuple[()]]:
        """Deprecated: ``.children``."""
        _deprecated("Attribute .ref_list deprecated. Use .children instead.")
        return self.children

    @ref_list.setter
    def ref_list(self, addresses: Iterable[int]) -> None:
        _deprecated("Attribute .ref_list deprecated. Use .children instead.")
        self.children = addresses  # type: ignore[assignment]

    @property
    def referrers(self) -> Union[List[int], Tuple[()]]:
        """Deprecated: ``.parents``."""
        _deprecated("Attribute .referrers deprecated. Use .parents instead.")
        return self.parents

    @property
    def num_referrers(self) -> int:
        """Deprecated: ``.num_parents``."""
        _deprecated("Attribute .num_referrers deprecated. Use .num_parents instead.")
        return self.num_parents

    # --- sequence protocol ---------------------------------------------------
    def __len__(self) -> int:
        return self._om._g.num_children(self._i)

    def __getitem__(self, offset: int) -> "_MemObjectProxy":
        addresses = self._om._g.child_addresses(self._i)
        n = len(addresses)
        if n == 0:
            raise IndexError("%s has no references" % (self,))
        if offset >= n:
            raise IndexError("%s has only %d (not %d) references" % (self, n, offset + 1))
        real = offset + n if offset < 0 else offset
        if real < 0:
            raise IndexError("ref index %d out of range" % (offset,))
        return self._om[addresses[real]]

    def __iter__(self) -> Iterator["_MemObjectProxy"]:
        return iter(self.c)

    def __repr__(self) -> str:
        parts = ["%s(%d %dB" % (self.type_str, self.address, self.size)]
        n = len(self)
        if n:
            parts.append(" %drefs" % n)
        npar = self.num_parents
        if npar:
            parts.append(" %dpar" % npar)
        value = self.value
        if value is not None:
            parts.append(" %r" % (value,))
        if self.total_size:
            parts.append(" " + _format_total(self.total_size))
        parts.append(")")
        return "".join(parts)

    # --- walks -----------------------------------------------------------------
    def iter_recursive_refs(self, excluding: Optional[Iterable[int]] = None
                            ) -> Iterator["_MemObjectProxy"]:
        """Every object reachable from this one, itself first (classic DFS
        order).  Addresses in ``excluding`` are neither yielded nor walked."""
        om = self._om
        for i in om._g.reach(self._i, om._indexes(excluding)):
            yield om._proxy(i)

    def compute_total_size(self, excluding: Optional[Iterable[int]] = None) -> int:
        """Sums the sizes of the unique reachable set, stores it in
        ``total_size`` and returns it."""
        om = self._om
        self.total_size = om._g.total_size(self._i, om._indexes(excluding))
        return self.total_size

    def all(self, type_str: str, excluding: Optional[Iterable[int]] = None
            ) -> List["_MemObjectProxy"]:
        """Reachable objects of that type, largest first."""
        found = [o for o in self.iter_recursive_refs(excluding) if o.type_str == type_str]
        return _sorted_desc(found)

    def refs_as_dict(self) -> Dict[Any, Any]:
        """The references read as key, value pairs.

        Keys become their value when they have one, values become Python
        values for str, int, float, bytes, bool and None objects, and stay
        proxies otherwise.  An odd trailing reference (an instance's type,
        after its ``__dict__`` was folded in) is dropped.
        """
        om = self._om
        addresses = om._g.child_addresses(self._i)
        kv = om._g.kv_pairs(self._i)
        if kv:
            addresses = addresses[:2 * kv]
        elif len(addresses) % 2 == 1 and self.type_str not in ("dict", "module"):
            addresses = addresses[:-1]
        result: Dict[Any, Any] = {}
        for k in range(0, len(addresses) - 1, 2):
            key = om[addresses[k]]
            key_value = key.value
            result[key if key_value is None else key_value] = _as_python(om[addresses[k + 1]])
        return result

    def to_json(self) -> str:
        """The object as a classic dump line, correctly escaped:
        ``{"address": A, "type": "T", "size": S, ["value": V, ]"refs": [...]}``."""
        parts = ['{"address": %d, "type": %s, "size": %d, '
                 % (self.address, json.dumps(self.type_str), self.size)]
        value = self.value
        if isinstance(value, bool):
            parts.append('"value": %s, ' % json.dumps(str(value)))
        elif isinstance(value, int):
            parts.append('"value": %d, ' % value)
        elif value is not None:
            parts.append('"value": %s, ' % json.dumps(value))
        parts.append('"refs": [%s]}' % ", ".join(str(a) for a in sorted(self.children)))
        return "".join(parts)

    # --- newer analyses --------------------------------------------------------
    @property
    def retained_size(self) -> int:
        """Bytes freed if this object were freed (dominator-tree subtree size).
        Computes dominators on first use."""
        om = self._om
        om._need_dominators()
        return om._g.retained(self._i)

    @property
    def idom(self) -> Optional["_MemObjectProxy"]:
        """The immediate dominator, or None when only the roots dominate it."""
        om = self._om
        om._need_dominators()
        d = om._g.idom(self._i)
        return None if d is None else om._proxy(d)

    def why(self) -> "Path":
        """The shortest chain of references from a root to this object."""
        return self._om.path_to(self)


_VALUE_TYPES = frozenset(("int", "str", "bytes", "float", "bool"))


def _as_python(obj: _MemObjectProxy) -> Any:
    type_str = obj.type_str
    if type_str == "NoneType":
        return None
    value = obj.value
    if type_str == "bool":
        return value if isinstance(value, bool) else value == "True"
    if value is not None and type_str in _VALUE_TYPES:
        return value
    return obj


def _sorted_desc(objs: List[_MemObjectProxy]) -> List[_MemObjectProxy]:
    return sorted(objs, key=lambda o: (o.size, len(o), o.num_parents), reverse=True)


# ---------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------

class Path:
    """A chain of references from a root to an object; ``str()`` prints it.

    ``objects`` are the proxies from the root to the target, ``labels[k]``
    names the edge from ``objects[k]`` to ``objects[k + 1]`` (``['key']``,
    ``[3]``, ``.attr`` or ``->``), ``root`` describes the first object and
    ``text`` is the whole chain in one expression
    (``sys.modules['app'].__dict__['cache'][3]``).
    """

    def __init__(self, objects: List[_MemObjectProxy], labels: List[str], root: str,
                 text: str = "") -> None:
        self.objects = objects
        self.labels = labels
        self.root = root
        self.text = text

    def __len__(self) -> int:
        return len(self.objects)

    def __iter__(self) -> Iterator[_MemObjectProxy]:
        return iter(self.objects)

    def __bool__(self) -> bool:
        return bool(self.objects)

    def __str__(self) -> str:
        if not self.objects:
            return "no path from the roots"
        lines = [self.text] if self.text else []
        lines.append("%s  (%s)" % (self.objects[0], self.root))
        for label, obj in zip(self.labels, self.objects[1:]):
            lines.append("  %s -> %s" % (label, obj))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "<Path of %d objects>\n%s" % (len(self.objects), self)


# ---------------------------------------------------------------------------
# The manager
# ---------------------------------------------------------------------------

class _ObjectCollection:
    """The classic ``om.objs``: a read-only mapping from address to proxy."""

    def __init__(self, om: "ObjManager") -> None:
        self._om = om

    def __getitem__(self, address: Union[int, _MemObjectProxy]) -> _MemObjectProxy:
        return self._om[address]

    def get(self, address: int, default: Any = None) -> Any:
        """Like dict.get."""
        try:
            return self._om[address]
        except KeyError:
            return default

    def __contains__(self, address: object) -> bool:
        return address in self._om

    def __len__(self) -> int:
        return self._om._g.live()

    def __iter__(self) -> Iterator[int]:
        return self.iterkeys()

    def iterkeys(self) -> Iterator[int]:
        """Addresses in file order."""
        g = self._om._g
        for i in self._om._live_indexes():
            yield g.address(i)

    def itervalues(self) -> Iterator[_MemObjectProxy]:
        """Proxies in file order."""
        om = self._om
        for i in om._live_indexes():
            yield om._proxy(i)

    def iteritems(self) -> Iterator[Tuple[int, _MemObjectProxy]]:
        """(address, proxy) pairs in file order."""
        for obj in self.itervalues():
            yield obj.address, obj

    def keys(self) -> List[int]:
        """A list of the addresses."""
        return list(self.iterkeys())

    def values(self) -> List[_MemObjectProxy]:
        """A list of the proxies."""
        return list(self.itervalues())

    def items(self) -> List[Tuple[int, _MemObjectProxy]]:
        """A list of (address, proxy) pairs."""
        return list(self.iteritems())


class ObjManager:
    """The objects of one loaded dump, and the analyses over them.

    ``om[address]`` gives the object proxy (``KeyError('address N not
    present')`` for an address with no live object).  ``om.objs`` is the
    classic mapping view; ``om.load_report`` tells what loading found.
    """

    def __init__(self, graph: Any, show_progress: bool = True,
                 max_parents: Optional[int] = None,
                 load_report: Optional[LoadReport] = None) -> None:
        self._g = graph
        self._proxies: Dict[int, _MemObjectProxy] = {}
        self.show_progress = show_progress
        self.max_parents = 100 if max_parents is None else max_parents
        self.load_report = load_report
        self.objs = _ObjectCollection(self)

    # --- access -----------------------------------------------------------------
    def _proxy(self, index: int) -> _MemObjectProxy:
        p = self._proxies.get(index)
        if p is None:
            p = self._proxies[index] = _MemObjectProxy(self, index)
        return p

    def _index(self, address: Union[int, _MemObjectProxy]) -> int:
        if isinstance(address, _MemObjectProxy):
            if address._om is self:
                return address._i
            address = address.address
        i = self._g.lookup(address) if isinstance(address, int) else None
        if i is None or self._g.flags(i) & _GONE:
            raise KeyError("address %s not present" % (address,))
        return i

    def _index_or_missing(self, address: int) -> int:
        i = self._g.lookup(address)
        if i is None:
            raise KeyError("address %s not present" % (address,))
        return i

    def _indexes(self, addresses: Optional[Iterable[int]]) -> List[int]:
        if addresses is None:
            return []
        g = self._g
        out = []
        for a in addresses:
            if isinstance(a, _MemObjectProxy):
                a = a.address
            i = g.lookup(a)
            if i is not None:
                out.append(i)
        return out

    def _live_indexes(self) -> Iterator[int]:
        g = self._g
        for i in range(g.count()):
            if not g.flags(i) & _GONE:
                yield i

    def __getitem__(self, address: Union[int, _MemObjectProxy]) -> _MemObjectProxy:
        if isinstance(address, _MemObjectProxy) and address._om is self:
            return address
        return self._proxy(self._index(address))

    def __contains__(self, address: object) -> bool:
        try:
            self._index(address)  # type: ignore[arg-type]
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return self._g.live()

    def _progress(self) -> Optional[_Progress]:
        return _Progress(self.show_progress).callback

    # --- classic operations --------------------------------------------------
    def compute_parents(self) -> None:
        """Computes every object's parents (at most ``max_parents`` each, the
        first in file order, without repeats).  Does nothing when
        ``max_parents`` is 0."""
        if self.max_parents == 0:
            return
        self._g.compute_parents(self.max_parents if self.max_parents > 0 else -1)

    def compute_referrers(self) -> None:
        """Deprecated name of :meth:`compute_parents`."""
        _deprecated(".compute_referrers is deprecated. Use .compute_parents instead.")
        self.compute_parents()

    def collapse_instance_dicts(self) -> int:
        """Folds each instance's ``__dict__`` (and each module's dict) into its
        owner: the owner takes the dict's references and size and the dict is
        deleted.  Returns the number folded; parents are recomputed."""
        n = self._g.collapse_instance_dicts(self._progress())
        if n > 0 and not self._g.has_parents():
            self.compute_parents()
        return n

    def compute_total_size(self, obj: _MemObjectProxy) -> _MemObjectProxy:
        """Sets ``obj.total_size`` (bytes reachable from obj) and returns obj."""
        obj.compute_total_size()
        return obj

    def summarize(self, obj: Optional[_MemObjectProxy] = None,
                  excluding: Optional[Iterable[int]] = None) -> _ObjSummary:
        """A type histogram of every object, or of what ``obj`` reaches
        (without walking through the addresses in ``excluding``)."""
        g = self._g
        if obj is None:
            total_count, total_size, rows = g.summarize(None, None)
        else:
            total_count, total_size, rows = g.summarize([self._index(obj)],
                                                        self._indexes(excluding))
        per_type = g.retained_by_type() if g.has_dominators() and obj is None else None
        types = {}
        for name, type_id, count, size, sq_sum, max_size, max_index, retained in rows:
            if per_type is not None and type_id < len(per_type):
                retained = per_type[type_id]
            types[name] = _TypeSummary(name, count, size, sq_sum, max_size,
                                       g.address(max_index) if count else None, retained)
        return _ObjSummary(types, total_count, total_size, show_retained=per_type is not None)

    def get_all(self, type_str: str) -> List[_MemObjectProxy]:
        """Every object of that type, largest first: by size, then number of
        references, then number of parents; ties in file order."""
        t = self._g.type_find(type_str) if isinstance(type_str, str) else None
        if t is None:
            return []
        return [self._proxy(i) for i in self._g.all_of_type(t, None)]

    def refs_as_dict(self, obj: _MemObjectProxy) -> Dict[Any, Any]:
        """``obj.refs_as_dict()``."""
        return obj.refs_as_dict()

    def refs_as_list(self, obj: _MemObjectProxy) -> List[Any]:
        """The references as Python values where possible, else proxies."""
        return [_as_python(c) for c in obj.c]

    def guess_intern_dict(self) -> Optional[_MemObjectProxy]:
        """The dict that looks like the interned-strings dict (no parents, every
        str key mapped to itself), or None.  Of several, the first in
        :meth:`get_all` order; a dict with a dangling reference is none."""
        d = self._g.guess_intern_dict()
        return None if d is None else self._proxy(d)

    def remove_expensive_references(self) -> int:
        """Cuts the references that make everything reach everything: to
        modules, frames and types (and a function's globals and module).  Each
        object that lost such a reference points at the null object
        ``<ex-reference>`` at address 0 instead.  Returns how many objects
        changed.  Parents are not recomputed."""
        if self._g.lookup(0) is not None:
            raise ValueError("address 0 is already present")
        return self._g.remove_expensive_references()

    # --- newer analyses ---------------------------------------------------------
    def compute_dominators(self) -> None:
        """Computes the dominator tree and every object's retained size."""
        self._g.compute_dominators(self._progress())

    def _need_dominators(self) -> None:
        if not self._g.has_dominators():
            self.compute_dominators()

    def top(self, n: int = 10, by: str = "retained") -> List[_MemObjectProxy]:
        """The n largest objects by ``"retained"`` size (the default;
        computes dominators if needed) or by their own ``"size"``."""
        if by not in ("retained", "size"):
            raise ValueError("by must be 'retained' or 'size', not %r" % (by,))
        if by == "retained":
            self._need_dominators()
        return [self._proxy(i) for i in self._g.top(n, by)]

    def suspects(self, min_fraction: float = 0.10, max_items: int = 20) -> "SuspectReport":
        """Likely leaks: single objects retaining at least ``min_fraction`` of
        the heap, and groups of same-typed objects under one dominator that do
        together.  Computes dominators if needed."""
        from meliae._report import SuspectReport

        total, items = self._g.suspects(min_fraction, max_items)
        return SuspectReport(self, total, items, min_fraction)

    def roots(self) -> List[Tuple[str, Optional[str], Optional[_MemObjectProxy]]]:
        """The header's root markers as (kind, name, proxy or None)."""
        return [(kind, name, None if i is None else self._proxy(i))
                for kind, name, i in self._g.roots()]

    def path_to(self, obj: Union[int, _MemObjectProxy]) -> Path:
        """The shortest chain of references from a root to obj."""
        target = self._index(obj)
        g = self._g
        indexes = g.path_to(target)
        if not indexes:
            return Path([], [], "")
        labels = [g.edge_label(a, b) for a, b in zip(indexes, indexes[1:])]
        root = "no object refers to it"
        for kind, name, i in g.roots():
            if i == indexes[0]:
                root = "root %s: %s" % (kind, name) if name else "root %s" % kind
                break
        return Path([self._proxy(i) for i in indexes], labels, root, g.path_format(indexes))


def diff(old: Union[Source, ObjManager], new: Union[Source, ObjManager],
         show_prog: bool = False) -> "DiffReport":
    """Compares two dumps of the same program: which types grew, which
    objects are new.  ``old`` and ``new`` are ObjManagers or anything
    :func:`load` accepts (loaded with the default collapsing)."""
    from meliae._report import DiffReport

    if not isinstance(old, ObjManager):
        old = load(old, show_prog=show_prog)
    if not isinstance(new, ObjManager):
        new = load(new, show_prog=show_prog)
    return DiffReport(old, new, _engine.diff(old._g, new._g))
