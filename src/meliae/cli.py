"""The ``meliae`` command line (also ``python -m meliae``).

Each analysis subcommand loads one dump (two for ``diff``) through
:mod:`meliae.loader`, asks the engine one question and prints the answer as
text, or as JSON with ``--json`` (schema: docs/cli-json-schema.json).

Exit status: 0 on success, 1 when a dump cannot be read or an object is not
found (one line ``meliae: error: FILE:LINE:COLUMN: message`` on stderr), 2
on bad usage.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import warnings
from typing import Any, Callable, Dict, IO, Iterator, List, Optional, Sequence

JSON_SCHEMA_VERSION = 1
"""Version of the ``--json`` output schema (docs/cli-json-schema.json)."""

_PASS_THROUGH = {
    "run": ("meliae._run", "run a Python program under meliae and dump its heap"),
    "demo": ("meliae._demo", "dump a bundled leaky program and walk through its analysis"),
}


class CommandError(Exception):
    """A failure reported as ``meliae: error: <message>`` with exit status 1."""


# ---------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------

_MAIN_EPILOG = """\
examples:
  meliae summarize app.json                 type histogram, like the classic om.summarize()
  meliae summarize --retained app.json.gz   ... with a Retained column (dominator tree)
  meliae top -n 5 app.json                  the 5 objects that keep the most memory alive
  meliae show app.json 140234567            one object, its children and its parents
  meliae path app.json 140234567            the chain of references that keeps it alive
  meliae suspects app.json                  likely leaks
  meliae diff before.json after.json        what grew between two dumps
  meliae strip-duplicates old.json new.json keep the first line per address
  meliae run --dump-at-exit app.json app.py run a program and dump its heap
  meliae demo                               a guided tour on a leaky sample program

Exit status: 0 success, 1 unreadable dump or unknown object, 2 bad usage.
Each command has its own --help.
"""


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions to the terminal width and keeps example blocks (an
    epilog starting with ``examples:``) exactly as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


_DUMP_HELP = "the dump: a file (.gz and .zst are detected) or - for stdin"
_ADDRESS_HELP = "the object's address (decimal, or 0x... hex)"


def _analysis_parent() -> argparse.ArgumentParser:
    """The options every analysis command takes."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--json", action="store_true",
                       help="print machine-readable JSON (docs/cli-json-schema.json)")
    group.add_argument("--no-collapse", action="store_true",
                       help="keep instance and module __dict__s as separate objects")
    group.add_argument("--quiet", "-q", action="store_true",
                       help="no progress and no warnings on stderr")
    group.add_argument("--strict", action="store_true",
                       help="fail on the first bad line instead of skipping it")
    return common


def _address(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("not an address: %r" % text) from None
    if value < 0 or value >= 1 << 64:
        raise argparse.ArgumentTypeError("address out of range: %r" % text)
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1: %r" % text)
    return value


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("meliae")
    except Exception:  # not installed (running from a source tree): no metadata
        return "unknown"


def _command(sub: Any, name: str, func: Callable[[argparse.Namespace], int], summary: str,
             description: str, examples: Sequence[str],
             parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
    """Adds subcommand name, run by func: summary is its line in ``meliae
    --help``, examples the arguments that follow ``meliae name``."""
    epilog = "examples:\n" + "".join("  meliae %s %s\n" % (name, e) for e in examples)
    p = sub.add_parser(name, parents=list(parents), formatter_class=_HelpFormatter,
                       help=summary, description=description, epilog=epilog)
    p.set_defaults(func=func)
    return p


def _analysis(sub: Any, common: Sequence[argparse.ArgumentParser], name: str,
              func: Callable[[argparse.Namespace], int], summary: str, description: str,
              examples: Sequence[str], address: bool = False) -> argparse.ArgumentParser:
    """Adds an analysis command of one dump: the common options, DUMP, then
    ADDRESS when the command is about one object."""
    p = _command(sub, name, func, summary, description, examples, common)
    p.add_argument("dump", metavar="DUMP", help=_DUMP_HELP)
    if address:
        p.add_argument("address", metavar="ADDRESS", type=_address, help=_ADDRESS_HELP)
    return p


def _count_option(p: argparse.ArgumentParser, default: int, what: str) -> None:
    p.add_argument("-n", type=_positive, default=default, metavar="N",
                   help="how many %s (default %d)" % (what, default))


def build_parser() -> argparse.ArgumentParser:
    """The complete argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="meliae",
        description="Analyse meliae heap dumps: what uses memory, who holds it, "
                    "why it is alive and what grew.  DUMP is a dump file (.gz and .zst "
                    "are detected) or - for stdin.",
        epilog=_MAIN_EPILOG, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version="meliae " + _version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    common = [_analysis_parent()]

    p = _analysis(
        sub, common, "summarize", cmd_summarize, "type histogram of a dump",
        "Print the classic summary table: objects, types and total size, then one row per "
        "type (at most 20): count, % of objects, total size, % of bytes, cumulative %, "
        "largest object, type.",
        ["app.json", "--by count app.json", "--retained --json app.json.gz"])
    p.add_argument("--by", choices=("size", "count", "retained"), default="size",
                   help="row order (default: size); 'retained' implies --retained")
    p.add_argument("--retained", action="store_true",
                   help="compute dominators and add a Retained column")

    p = _analysis(
        sub, common, "top", cmd_top, "the largest objects by retained or own size",
        "List the N objects that retain the most memory (what would be freed with them, "
        "from the dominator tree) or that are largest themselves.",
        ["app.json", "-n 20 --by size app.json"])
    p.add_argument("--by", choices=("retained", "size"), default="retained",
                   help="rank by retained size (default) or own size")
    _count_option(p, 10, "objects")

    p = _analysis(
        sub, common, "show", cmd_show, "one object with its children and parents",
        "Print one object (type, size, value, length), the objects it references (with "
        "the edge label such as ['key'] or [3]) and the objects that reference it.",
        ["app.json 140234567", "--json app.json 0x7f8a12345678"], address=True)
    p.add_argument("--limit", type=_positive, default=50,
                   help="children and parents listed at most (default 50)")

    _analysis(
        sub, common, "path", cmd_path,
        "why an object is alive: the chain of references from a root",
        "Print the shortest chain of references from a root (a header root marker such as "
        "sys.modules, or an object nothing refers to) to the object, one hop per line.",
        ["app.json 140234567"], address=True)

    p = _analysis(
        sub, common, "suspects", cmd_suspects, "likely leaks",
        "List the objects and types most likely to be leaking: large retained sizes held "
        "by long-lived containers such as module-level caches.",
        ["app.json", "--json app.json"])
    _count_option(p, 10, "suspects")

    p = _command(
        sub, "diff", cmd_diff, "what grew between two dumps",
        "Compare two dumps of the same program and list the types whose count and size "
        "changed most.",
        ["before.json after.json"], common)
    p.add_argument("old", metavar="OLD", help="the earlier dump")
    p.add_argument("new", metavar="NEW", help="the later dump")
    _count_option(p, 20, "types")

    p = _command(
        sub, "strip-duplicates", cmd_strip_duplicates,
        "copy a dump keeping the first line per address",
        "Stream IN to OUT keeping the first object line for each address (as the classic "
        "strip_duplicates.py).  IN may be gzip-compressed; OUT ending in .gz is "
        "compressed.  The header is kept and the trailer's object count is updated.  - "
        "means stdin / stdout.",
        ["gc-dump.json clean.json", "big.json.gz - | gzip > clean.json.gz"])
    p.add_argument("infile", metavar="IN", help="the dump to copy")
    p.add_argument("outfile", metavar="OUT", help="where to write the copy")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")

    for name, (_, text) in _PASS_THROUGH.items():
        p = sub.add_parser(name, help=text, add_help=False,
                           description=text + " (see meliae %s --help)" % name)
        p.add_argument("args", nargs=argparse.REMAINDER)
    return parser


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------

def _load(path: str, args: argparse.Namespace) -> Any:
    from meliae import loader

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", loader.DumpWarning)
        om = loader.load(path, show_prog=not args.quiet, collapse=not args.no_collapse,
                         strict=args.strict)
    if not args.quiet:
        for w in caught:
            sys.stderr.write("meliae: warning: %s\n" % (w.message,))
    return om


def _obj_json(obj: Any, om: Any) -> Dict[str, Any]:
    from meliae._report import object_json
    return object_json(obj)


def _report_json(om: Any) -> Dict[str, Any]:
    r = om.load_report
    return {
        "source": r.source, "lines": r.lines, "objects": r.objects,
        "bad_lines": r.bad_lines, "first_bad": r.first_bad, "duplicates": r.duplicates,
        "dangling_refs": r.dangling_refs, "truncated": r.truncated, "classic": r.classic,
        "python": r.python_version or None,
    }


def _emit_json(command: str, payload: Dict[str, Any]) -> None:
    doc = {"meliae": command, "schema": JSON_SCHEMA_VERSION}
    doc.update(payload)
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")


def _emit_dump_json(command: str, args: argparse.Namespace, om: Any,
                    payload: Dict[str, Any]) -> None:
    """Prints the JSON document of a one-dump command: the dump, what loading
    found, then payload."""
    _emit_json(command, {"dump": args.dump, "load": _report_json(om), **payload})


def _table(headers: Sequence[str], rows: List[Sequence[Any]], widths: Sequence[int]) -> str:
    from meliae._report import table
    return table(headers, rows, widths)


def _lookup(om: Any, address: int, path: str) -> Any:
    try:
        return om[address]
    except KeyError:
        raise CommandError("%s: no object at address %d" % (path, address)) from None


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

def cmd_summarize(args: argparse.Namespace) -> int:
    """``meliae summarize``."""
    om = _load(args.dump, args)
    if args.retained or args.by == "retained":
        om.compute_dominators()
    summary = om.summarize()
    {"size": summary.by_size, "count": summary.by_count,
     "retained": summary.by_retained}[args.by]()
    if args.json:
        retained = om._g.has_dominators()
        types = []
        for s in summary.summaries:
            entry: Dict[str, Any] = {"type": s.type_str, "count": s.count,
                                     "size": s.total_size, "max_size": s.max_size,
                                     "max_address": s.max_address}
            if retained:
                entry["retained"] = s.retained
            types.append(entry)
        _emit_dump_json("summarize", args, om, {"total_count": summary.total_count,
                                                "total_size": summary.total_size,
                                                "types": types})
    else:
        print(repr(summary))
    return 0


def cmd_top(args: argparse.Namespace) -> int:
    """``meliae top``."""
    om = _load(args.dump, args)
    objs = om.top(args.n, by=args.by)
    if args.json:
        _emit_dump_json("top", args, om, {"by": args.by,
                                          "objects": [_obj_json(o, om) for o in objs]})
        return 0
    retained = args.by == "retained"
    headers = ["Rank"] + (["Retained"] if retained else []) + ["Size", "Object"]
    rows: List[Sequence[Any]] = []
    for k, o in enumerate(objs, 1):
        rows.append([k] + ([o.retained_size] if retained else []) + [o.size, repr(o)])
    widths = [5] + ([10] if retained else []) + [10]
    print(_table(headers, rows, widths))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """``meliae show``."""
    om = _load(args.dump, args)
    obj = _lookup(om, args.address, args.dump)
    g = om._g
    children = g.children(obj._i)
    parents = g.parents(obj._i)
    if args.json:
        kids = []
        for c in children[:args.limit]:
            entry = _child_json(om, c)
            entry["label"] = g.edge_label(obj._i, c)
            kids.append(entry)
        _emit_dump_json("show", args, om, {
            "object": _obj_json(obj, om), "children": kids,
            "parents": [_child_json(om, p) for p in parents[:args.limit]],
        })
        return 0
    lines = [repr(obj)]
    lines.append("  type %s, size %d bytes%s" % (
        obj.type_str, obj.size, "" if obj.length is None else ", len %d" % obj.length))
    if obj.value is not None:
        lines.append("  value %r" % (obj.value,))
    lines.append("children (%d):" % len(children))
    for c in children[:args.limit]:
        lines.append("  %s %s" % (g.edge_label(obj._i, c), _describe(om, c)))
    if len(children) > args.limit:
        lines.append("  ... %d more" % (len(children) - args.limit))
    lines.append("parents (%d):" % len(parents))
    for p in parents[:args.limit]:
        lines.append("  %s" % _describe(om, p))
    if len(parents) > args.limit:
        lines.append("  ... %d more" % (len(parents) - args.limit))
    print("\n".join(lines))
    return 0


def _child_json(om: Any, index: int) -> Dict[str, Any]:
    g = om._g
    if g.flags(index) & _gone_flags():
        return {"address": g.address(index), "missing": True}
    return _obj_json(om._proxy(index), om)


def _gone_flags() -> int:
    """Node flags of objects with no live record (deleted or never dumped)."""
    from meliae import _engine
    return int(_engine.NODE_DELETED | _engine.NODE_MISSING)


def _describe(om: Any, index: int) -> str:
    g = om._g
    if g.flags(index) & _gone_flags():
        return "<missing %d>" % g.address(index)
    return repr(om._proxy(index))


def cmd_path(args: argparse.Namespace) -> int:
    """``meliae path``."""
    om = _load(args.dump, args)
    obj = _lookup(om, args.address, args.dump)
    path = om.path_to(obj)
    if args.json:
        hops = []
        for k, o in enumerate(path.objects):
            hops.append({"label": path.labels[k - 1] if k else None,
                         "object": _obj_json(o, om)})
        _emit_dump_json("path", args, om, {"target": _obj_json(obj, om), "found": bool(path),
                                           "root": path.root or None,
                                           "text": path.text or None, "path": hops})
        return 0
    if not path:
        print("%r is not reachable from any root" % (obj,))
    else:
        print(str(path))
    return 0


def cmd_suspects(args: argparse.Namespace) -> int:
    """``meliae suspects``."""
    om = _load(args.dump, args)
    report = om.suspects()
    if args.json:
        _emit_dump_json("suspects", args, om, report.to_json(args.n))
    else:
        print(report.format(args.n))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """``meliae diff``."""
    from meliae import loader

    old = _load(args.old, args)
    new = _load(args.new, args)
    report = loader.diff(old, new)
    if args.json:
        _emit_json("diff", {"old": args.old, "new": args.new, **report.to_json(args.n)})
    else:
        print(report.format(args.n))
    return 0


# --- strip-duplicates ------------------------------------------------------------

_ADDRESS_RE = re.compile(rb'^\{"address": ?(\d+)')
_TRAILER_RE = re.compile(rb'^\{"meliae": ?"end"')
_HEADER_RE = re.compile(rb'^\{"meliae": ?"dump"')


def _open_in(path: str) -> IO[bytes]:
    raw: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _open_out(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdout.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "wb")  # type: ignore[return-value]
    return open(path, "wb")


def strip_duplicates(lines: Iterator[bytes], out: IO[bytes]) -> Dict[str, int]:
    """Copies dump lines keeping the first object line per address.

    Header lines are kept, a trailer gets the new object count, classic
    ``[``/``]`` lines and trailing commas are dropped, and any other line is
    dropped.  Returns counts: ``lines``, ``written``, ``duplicates``,
    ``dropped``."""
    seen = set()
    counts = {"lines": 0, "written": 0, "duplicates": 0, "dropped": 0}
    for line in lines:
        counts["lines"] += 1
        body = line.rstrip(b"\r\n")
        if body.endswith(b","):
            body = body[:-1]
        m = _ADDRESS_RE.match(body)
        if m:
            address = int(m.group(1))
            if address in seen:
                counts["duplicates"] += 1
                continue
            seen.add(address)
            out.write(body + b"\n")
            counts["written"] += 1
        elif _HEADER_RE.match(body):
            out.write(body + b"\n")
        elif _TRAILER_RE.match(body):
            try:
                trailer = json.loads(body)
            except ValueError:
                counts["dropped"] += 1
                continue
            trailer["objects"] = counts["written"]
            out.write(json.dumps(trailer).encode("ascii") + b"\n")
        else:
            counts["dropped"] += 1
    return counts


def cmd_strip_duplicates(args: argparse.Namespace) -> int:
    """``meliae strip-duplicates``."""
    try:
        src = _open_in(args.infile)
    except OSError as e:
        raise CommandError("%s: %s" % (args.infile, e.strerror or e)) from None
    try:
        out = _open_out(args.outfile)
    except OSError as e:
        src.close()
        raise CommandError("%s: %s" % (args.outfile, e.strerror or e)) from None
    try:
        try:
            counts = strip_duplicates(iter(src), out)
        except (OSError, EOFError) as e:
            raise CommandError("%s: %s" % (args.infile, e)) from None
    finally:
        if src is not sys.stdin.buffer:
            src.close()
        if out is not sys.stdout.buffer:
            out.close()
        else:
            out.flush()
    if not args.quiet:
        sys.stderr.write("meliae: %d lines read, %d objects written, %d duplicates removed\n"
                         % (counts["lines"], counts["written"], counts["duplicates"]))
    return 0


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------

def _pass_through(name: str, argv: List[str]) -> int:
    import importlib

    module = importlib.import_module(_PASS_THROUGH[name][0])
    main_fn: Callable[[List[str]], int] = getattr(module, "main")
    return int(main_fn(argv) or 0)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the ``meliae`` command; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in _PASS_THROUGH:
        return _pass_through(args_list[0], args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    from meliae import loader

    try:
        return int(args.func(args))
    except loader.DumpError as e:
        sys.stderr.write("meliae: error: %s\n" % (e,))
    except CommandError as e:
        sys.stderr.write("meliae: error: %s\n" % (e,))
    except BrokenPipeError:
        return 1
    except OSError as e:
        where = e.filename if e.filename else ""
        sys.stderr.write("meliae: error: %s%s%s\n"
                         % (where, ": " if where else "", e.strerror or e))
    except KeyboardInterrupt:
        sys.stderr.write("meliae: interrupted\n")
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
