"""Dump the live heap of this process (the classic ``meliae.scanner`` API).

The walk is done in C by :mod:`meliae._scanner`; it writes a meliae dump
(docs/format.md) through the libmeliae writer, creating no Python object per
dumped object.  Outputs are a path (``str`` or ``os.PathLike``; created with
mode 0600; a ``.gz`` suffix writes gzip) or any binary file object with a
``write`` method (real files, pipes, ``io.BytesIO``), which then receives one
``bytes`` object per 256 KiB buffer.

A write error (a full disk) raises ``OSError``; the dump is then left without
its trailer, which readers report as truncated.
"""
from __future__ import annotations

import os
import stat
import signal
import threading
import time
from typing import IO, Any, Callable, List, Optional, Tuple, Union

from . import _scanner

__all__ = [
    "dump_all_objects",
    "dump_gc_objects",
    "dump_all_referenced",
    "get_recursive_size",
    "get_recursive_items",
    "size_of",
    "get_referents",
    "add_special_size",
    "dump_on_signal",
]

Output = Union[str, bytes, "os.PathLike[str]", IO[bytes], Any]

size_of: Callable[[Any], int] = _scanner.size_of
get_referents: Callable[[Any], List[Any]] = _scanner.get_referents
get_recursive_size: Callable[[Any], Tuple[int, int]] = _scanner.get_recursive_size
get_recursive_items: Callable[[Any], List[Any]] = _scanner.get_recursive_items

_word_size: int = _scanner._word_size
_gc_head_size: int = _scanner._gc_head_size


def add_special_size(
    type_name: str,
    size_of_32: Optional[Callable[[Any], int]],
    size_of_64: Optional[Callable[[Any], int]],
) -> None:
    """Size objects whose type's ``tp_name`` is *type_name* with a callable.

    Only the callable for this process's word size is kept; ``None`` removes
    the entry.  The callable gets the object and returns its size without
    the GC header (which is added); a negative result or an exception means
    "unknown" and the normal size is used (the exception is discarded).
    These callables are the only Python code a dump runs.
    """
    if _word_size == 4:
        fn = size_of_32
    elif _word_size == 8:
        fn = size_of_64
    else:  # pragma: no cover - no such CPython build exists
        raise RuntimeError(f"unknown word size {_word_size}")
    _scanner.add_special_size(type_name, fn)


def _open(outf: Output) -> Tuple[Any, int, Optional[int]]:
    """Returns (target for the C dump, gzip level, fd to close or None)."""
    if isinstance(outf, (str, bytes, os.PathLike)):
        path = os.fspath(outf)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags, 0o600)
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that existed
        except OSError:
            os.close(fd)
            raise
        suffix = b".gz" if isinstance(path, bytes) else ".gz"
        return fd, (1 if path.endswith(suffix) else 0), fd  # type: ignore[arg-type]
    if callable(getattr(outf, "write", None)):
        return outf, 0, None
    raise TypeError(f"expected a path or a binary file object with write(), got {type(outf).__name__}")


def _dump(outf: Output, mode: str, obj: Any = None, **kwargs: Any) -> int:
    target, gz, fd = _open(outf)
    try:
        return _scanner.dump(target, mode, obj, gzip_level=gz, **kwargs)
    finally:
        if fd is not None:
            os.close(fd)


def dump_all_objects(
    outf: Output, *, value_limit: Optional[int] = 100, include_values: bool = True
) -> int:
    """Write every object the interpreter can reach, each once.

    The walk starts from the interpreter roots (``sys.modules``, builtins,
    ``sys.__dict__``, every thread's frames; recorded in the header) and
    from ``gc.get_objects()``, and follows references (including dict keys,
    managed attributes, code fields, executing frames' locals), so untracked
    containers and atomic objects are included.  *value_limit* truncates
    text values (``None``: no limit); ``include_values=False`` writes a
    redacted dump (only bool values).  Returns the number of objects written.
    """
    return _dump(outf, "all", value_limit=value_limit, include_values=include_values)


def dump_gc_objects(
    outf: Output,
    recurse_depth: int = 1,
    *,
    value_limit: Optional[int] = 100,
    include_values: bool = True,
) -> int:
    """Write the GC-tracked objects and, for *recurse_depth* >= 1, every
    object reached from them through objects the GC does not track.

    Tracked objects are not followed (each is in ``gc.get_objects()``), which
    keeps the walk's queue short.  Unlike the classic function, untracked
    containers (dicts and tuples holding only atomic values) and their
    contents are not lost, and no object is written twice.
    """
    return _dump(
        outf,
        "gc",
        recurse_depth=recurse_depth,
        value_limit=value_limit,
        include_values=include_values,
    )


def dump_all_referenced(
    outf: Output,
    obj: Any,
    is_pending: bool = False,
    *,
    value_limit: Optional[int] = 100,
    include_values: bool = True,
) -> int:
    """Write *obj* and everything reachable from it, each once.

    With ``is_pending=True`` *obj* must be a list whose items start the walk;
    the list itself is not written.
    """
    if is_pending and not isinstance(obj, list):
        raise TypeError("is_pending=True needs a list")
    return _dump(
        outf,
        "referenced",
        obj,
        is_pending=is_pending,
        value_limit=value_limit,
        include_values=include_values,
    )


_signal_lock = threading.Lock()
_signal_count = 0


def dump_on_signal(
    signum: int = getattr(signal, "SIGUSR2", 12),
    path_template: str = "meliae-{pid}-{time}-{n}.json",
    *,
    value_limit: Optional[int] = 100,
    include_values: bool = True,
) -> Any:
    """Dump the whole heap to a new file each time *signum* arrives.

    *path_template* may use ``{pid}``, ``{time}`` (whole seconds since the
    epoch) and ``{n}`` (1 for the first dump of this process, then 2, ...).
    Must be called from the main thread.  Returns the previous handler.
    """

    def _handler(sig: int, frame: Any) -> None:
        global _signal_count
        with _signal_lock:
            _signal_count += 1
            n = _signal_count
        path = path_template.format(pid=os.getpid(), time=int(time.time()), n=n)
        dump_all_objects(path, value_limit=value_limit, include_values=include_values)

    return signal.signal(signum, _handler)


def _zlib_compress_size_64(obj: Any) -> int:
    """Estimate of a zlib compressor's C state (deflate window and tables)."""
    return 112 + 11656 + 262144


def _zlib_decompress_size_64(obj: Any) -> int:
    """Estimate of a zlib decompressor's C state plus its buffered data."""
    return (
        112
        + size_of(obj.unused_data)
        + size_of(obj.unconsumed_tail)
        + 14232
        + 32768
    )


def _zlib_compress_size_32(obj: Any) -> int:
    """32-bit variant of the compressor estimate."""
    return 56 + 5828 + 4 * 65536


def _zlib_decompress_size_32(obj: Any) -> int:
    """32-bit variant of the decompressor estimate."""
    return 56 + size_of(obj.unused_data) + size_of(obj.unconsumed_tail) + 7116 + 32768


add_special_size("zlib.Compress", _zlib_compress_size_32, _zlib_compress_size_64)
add_special_size("zlib.Decompress", _zlib_decompress_size_32, _zlib_decompress_size_64)
