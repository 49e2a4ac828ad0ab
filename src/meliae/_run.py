"""``python -m meliae run``: run a program and dump its heap at exit.

``main(argv)`` runs ``script.py args...`` like ``python script.py args...``
(``sys.argv`` set, the program runs as the module ``__main__``), dumps the
heap when the program exits and installs :func:`meliae.scanner.dump_on_signal`
so a signal can take extra dumps while it runs.

As with ``python script.py``, the program's module stays in
``sys.modules['__main__']`` until the interpreter exits, so the exit dump
shows its globals under ``sys.modules['__main__'].__dict__`` (``runpy``
would drop that namespace as soon as the program returns).
"""
from __future__ import annotations

import argparse
import atexit
import builtins
import importlib.machinery
import importlib.util
import os
import runpy
import signal
import sys
import types
import zipfile
from typing import Any, List, Optional

from . import scanner


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="meliae run",
        description="Run a Python program and write a meliae heap dump when it exits.",
    )
    p.add_argument(
        "--dump-at-exit",
        metavar="PATH",
        default="meliae-{pid}-exit.json",
        help="dump written at exit ({pid} and {time} are replaced; .gz compresses; "
        "default: %(default)s)",
    )
    p.add_argument("--no-dump-at-exit", action="store_true", help="do not dump at exit")
    p.add_argument(
        "--signal",
        default="SIGUSR2",
        help="signal that takes an extra dump (name or number; 'none' disables; "
        "default: %(default)s)",
    )
    p.add_argument(
        "--signal-path",
        metavar="TEMPLATE",
        default="meliae-{pid}-{time}-{n}.json",
        help="path template for signal dumps ({pid}, {time}, {n})",
    )
    p.add_argument("--value-limit", type=int, default=100, help="truncate text values")
    p.add_argument("--no-values", action="store_true", help="redacted dump: no values")
    p.add_argument("-m", dest="module", nargs=argparse.REMAINDER, metavar="MODULE ARGS",
                   help="run a module instead of a script; everything after it is the "
                   "module's own arguments, as with python -m")
    p.add_argument("script", nargs="?", help="the program to run")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    return p


def _signal_number(spec: str) -> Optional[int]:
    if spec.lower() == "none":
        return None
    if spec.isdigit():
        return int(spec)
    name = spec.upper() if spec.upper().startswith("SIG") else "SIG" + spec.upper()
    num = getattr(signal, name, None)
    if num is None:
        raise ValueError(f"unknown signal {spec!r}")
    return int(num)


def _main_module(code: Any, file: Optional[str],
                 spec: Optional[importlib.machinery.ModuleSpec]) -> None:
    """Run *code* as a fresh ``__main__`` module that stays in sys.modules."""
    mod = types.ModuleType("__main__")
    mod.__dict__.update({
        "__file__": file,
        "__cached__": None,
        "__builtins__": builtins,
        "__spec__": spec,
        "__loader__": spec.loader if spec is not None else None,
        "__package__": spec.parent if spec is not None else None,
    })
    if file is None:
        del mod.__dict__["__file__"]
    sys.modules["__main__"] = mod
    exec(code, mod.__dict__)


def _run_script(path: str) -> None:
    """Run the file *path* like ``python path``."""
    if os.path.isdir(path) or zipfile.is_zipfile(path):
        # A directory or zip with __main__.py: runpy knows how to find it.
        runpy.run_path(path, run_name="__main__")
        return
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec", dont_inherit=True)
    _main_module(code, path, None)


def _run_module(name: str) -> None:
    """Run the module *name* like ``python -m name``."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ImportError(f"No module named {name}")
    if spec.submodule_search_locations is not None:
        main_name = name + ".__main__"
        spec = importlib.util.find_spec(main_name)
        if spec is None:
            raise ImportError(f"No module named {main_name}; '{name}' is a package "
                              "and cannot be directly executed")
    loader = spec.loader
    get_code = getattr(loader, "get_code", None)
    if get_code is None:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
        return
    code = get_code(spec.name)
    if code is None:
        raise ImportError(f"No code object available for {name}")
    _main_module(code, spec.origin if spec.has_location else None, spec)


def main(argv: List[str]) -> int:
    """Run the program described by *argv*; returns its exit status."""
    opts = _parser().parse_args(argv)
    if opts.module is not None and not opts.module:
        _parser().print_usage(sys.stderr)
        print("meliae run: error: -m needs a module name", file=sys.stderr)
        return 2
    if opts.module:
        opts.module, opts.args = opts.module[0], opts.module[1:]
    if not opts.script and not opts.module:
        _parser().print_usage(sys.stderr)
        print("meliae run: error: a script (or -m MODULE) is required", file=sys.stderr)
        return 2
    try:
        signum = _signal_number(opts.signal)
    except ValueError as e:
        print(f"meliae run: error: {e}", file=sys.stderr)
        return 2
    limit = opts.value_limit if opts.value_limit > 0 else None
    values = not opts.no_values
    if signum is not None:
        scanner.dump_on_signal(signum, opts.signal_path, value_limit=limit, include_values=values)

    if not opts.no_dump_at_exit:
        import time

        def _dump_at_exit() -> None:
            path = opts.dump_at_exit.format(pid=os.getpid(), time=int(time.time()))
            try:
                scanner.dump_all_objects(path, value_limit=limit, include_values=values)
            except OSError as e:
                print(f"meliae run: could not write {path}: {e}", file=sys.stderr)

        atexit.register(_dump_at_exit)

    target = opts.module or opts.script
    sys.argv = [target] + list(opts.args)
    try:
        if opts.module:
            sys.path.insert(0, os.getcwd())
            _run_module(opts.module)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(opts.script)))
            _run_script(opts.script)
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    return 0
