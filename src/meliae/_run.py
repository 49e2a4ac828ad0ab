"""``python -m meliae run``: run a program and dump its heap at exit.

``main(argv)`` runs ``script.py args...`` like ``python script.py args...``
(``sys.argv`` set, ``__main__`` semantics through :mod:`runpy`), dumps the
heap when the program exits and installs :func:`meliae.scanner.dump_on_signal`
so a signal can take extra dumps while it runs.
"""
from __future__ import annotations

import argparse
import atexit
import os
import runpy
import signal
import sys
from typing import List, Optional

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
    p.add_argument("-m", dest="module", metavar="MODULE", help="run a module instead of a script")
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


def main(argv: List[str]) -> int:
    """Run the program described by *argv*; returns its exit status."""
    opts = _parser().parse_args(argv)
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
            runpy.run_module(opts.module, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(opts.script)))
            runpy.run_path(opts.script, run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    return 0
