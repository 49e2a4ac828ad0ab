"""Report objects for the analyses that return more than one number: leak
suspects (``om.suspects()``) and dump differences (``meliae.loader.diff``).

Each report prints readably (``repr()`` / ``format(n)``) and converts to the
JSON documented in docs/cli-json-schema.json (``to_json(n)``).  The numbers
come from the engine; this module only arranges them.
"""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover - typing only
    from meliae.loader import ObjManager, Path, _MemObjectProxy

_MiB = 1024.0 * 1024.0


def object_json(obj: "_MemObjectProxy") -> Dict[str, Any]:
    """One object as JSON: address, type, size, len and value when known,
    child and parent counts, and the retained size once dominators exist."""
    out: Dict[str, Any] = {"address": obj.address, "type": obj.type_str, "size": obj.size}
    length = obj.length
    if length is not None:
        out["len"] = length
    value = obj.value
    if value is not None:
        out["value"] = value
    out["num_children"] = len(obj)
    out["num_parents"] = obj.num_parents
    if obj._om._g.has_dominators():
        out["retained"] = obj.retained_size
    return out


def human_size(n: int) -> str:
    """Bytes as B, KiB, MiB or GiB with one decimal."""
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if abs(value) < 1024.0:
            return "%d B" % n if unit == "B" else "%.1f %s" % (value, unit)
        value /= 1024.0
    return "%.1f GiB" % value


def signed(n: int) -> str:
    """An integer with an explicit sign (+0 for zero)."""
    return "%+d" % n


def table(headers: Sequence[str], rows: List[Sequence[Any]], widths: Sequence[int]) -> str:
    """Right-aligned columns that widen to fit their widest cell (at least one
    space between columns); the last column is left-aligned text."""
    cols = len(headers) - 1
    real = [max([widths[k], len(headers[k]) + 1] + [len(str(r[k])) + 1 for r in rows])
            for k in range(cols)]
    lines = ["".join(headers[k].rjust(real[k]) for k in range(cols)) + " " + headers[-1]]
    for r in rows:
        lines.append("".join(str(r[k]).rjust(real[k]) for k in range(cols)) + " " + str(r[-1]))
    return "\n".join(lines)


def _label_name(label: str) -> Optional[str]:
    """The identifier an edge label names: ``x`` for ``.x`` and ``['x']``."""
    if label.startswith(".") and label[1:].isidentifier():
        return label[1:]
    if label.startswith("[") and label.endswith("]"):
        try:
            key = ast.literal_eval(label[1:-1])
        except (ValueError, SyntaxError):
            return None
        if isinstance(key, str) and key.isidentifier():
            return key
    return None


def module_entry(path: "Path") -> Optional[str]:
    """``module.name`` when a path ends at an entry of a module's namespace
    (``sys.modules['app'].__dict__['cache']`` or, after collapse,
    ``sys.modules['app'].cache``), else None."""
    objs, labels = path.objects, path.labels
    if len(objs) < 2:
        return None
    name = _label_name(labels[-1])
    if name is None or name == "__dict__":
        return None
    holder = objs[-2]
    if holder.type_str == "module":
        module = holder
    elif (holder.type_str == "dict" and len(objs) >= 3 and labels[-2] == ".__dict__"
          and objs[-3].type_str == "module"):
        module = objs[-3]
    else:
        return None
    mod_name = module.value
    if not isinstance(mod_name, str) or not mod_name:
        return None
    return "%s.%s" % (mod_name, name)


class Suspect:
    """One leak suspect.

    ``kind`` is ``"object"`` (one object retains a large share of the heap)
    or ``"group"`` (``count`` objects of ``type_str`` directly under one
    dominator retain it together).  ``obj`` is the object for an object
    suspect and the member retaining most for a group; ``holder`` is the
    common dominator of a group (None when only the roots hold it).
    ``path`` is the chain of references from the roots to the holder or
    object, as text.  ``name`` is ``module.name`` when the object (or the
    group's holder) is an entry of a module's namespace, such as a
    module-level cache, else None; the headline then names it that way.
    """

    def __init__(self, om: "ObjManager", raw: Dict[str, Any]) -> None:
        self.kind: str = raw["kind"]
        self.type_str: str = raw["type"]
        self.count: int = raw["count"]
        self.retained: int = raw["retained"]
        self.fraction: float = raw["fraction"]
        node = raw["node"]
        example = raw["example"]
        self.holder: Optional["_MemObjectProxy"] = None
        if self.kind == "group" and node is not None:
            self.holder = om._proxy(node)
        target = node if self.kind == "object" else example
        self.obj: Optional["_MemObjectProxy"] = None if target is None else om._proxy(target)
        self.path: str = raw["path_text"]
        named = self.obj if self.kind == "object" else self.holder
        self.name: Optional[str] = None
        if named is not None:
            self.name = module_entry(om.path_to(named))

    def headline(self) -> str:
        """One line: what, how much, which share of the heap."""
        share = "%s (%.1f%% of the heap)" % (human_size(self.retained), 100.0 * self.fraction)
        if self.kind == "group":
            holder = repr(self.holder) if self.holder is not None else "the roots"
            if self.name is not None:
                holder = "%s, %s" % (self.name, holder)
            return "%d %s objects retain %s, held by %s" % (self.count, self.type_str, share,
                                                           holder)
        if self.name is not None:
            return "%s, %r, retains %s" % (self.name, self.obj, share)
        return "%r retains %s" % (self.obj, share)

    def to_json(self) -> Dict[str, Any]:
        """The suspect as JSON (docs/cli-json-schema.json, ``suspect``)."""
        return {
            "kind": self.kind, "type": self.type_str, "count": self.count,
            "retained": self.retained, "fraction": self.fraction,
            "holder": None if self.holder is None else object_json(self.holder),
            "object": None if self.obj is None else object_json(self.obj),
            "path": self.path,
        }

    def __repr__(self) -> str:
        return "<Suspect %s>" % self.headline()


class SuspectReport:
    """The result of ``om.suspects()``: ``suspects`` (largest retained
    first), ``total`` (bytes of the whole heap) and ``min_fraction``."""

    def __init__(self, om: "ObjManager", total: int, items: List[Dict[str, Any]],
                 min_fraction: float) -> None:
        self.total = total
        self.min_fraction = min_fraction
        self.suspects = [Suspect(om, raw) for raw in items]

    def __len__(self) -> int:
        return len(self.suspects)

    def format(self, n: int = 10) -> str:
        """The report as text, at most n suspects."""
        lines = ["Leak suspects: %d (heap %s, threshold %.0f%%)"
                 % (len(self.suspects), human_size(self.total), 100.0 * self.min_fraction)]
        for k, s in enumerate(self.suspects[:n], 1):
            lines.append("%2d. %s" % (k, s.headline()))
            if s.path:
                lines.append("    path: %s" % s.path)
            if s.kind == "group" and s.obj is not None:
                lines.append("    largest: %r" % (s.obj,))
        if not self.suspects:
            lines.append("  none: no object or group retains %.0f%% of the heap"
                         % (100.0 * self.min_fraction))
        return "\n".join(lines)

    def to_json(self, n: int = 10) -> Dict[str, Any]:
        """The report as JSON (``suspects`` command of the CLI schema)."""
        return {"total": self.total, "min_fraction": self.min_fraction,
                "suspects": [s.to_json() for s in self.suspects[:n]]}

    def __repr__(self) -> str:
        return self.format()


class DiffReport:
    """The result of ``meliae.loader.diff(old, new)``.

    ``types`` lists per-type rows (dicts with ``type``, ``old_count``,
    ``new_count``, ``count_delta``, ``old_size``, ``new_size``,
    ``size_delta``, ``added_count``, ``added_size``), biggest growers first;
    ``added`` are the objects only in the new dump, largest first.
    """

    def __init__(self, old: "ObjManager", new: "ObjManager", raw: Dict[str, Any]) -> None:
        self.old_count: int = raw["old_count"]
        self.new_count: int = raw["new_count"]
        self.old_size: int = raw["old_size"]
        self.new_size: int = raw["new_size"]
        self.kept_count: int = raw["kept_count"]
        self.gone_count: int = raw["gone_count"]
        self.gone_size: int = raw["gone_size"]
        # types present in neither dump (such as the placeholder type of
        # dangling references) carry no information
        self.types: List[Dict[str, Any]] = [t for t in raw["types"]
                                            if t["old_count"] or t["new_count"]]
        self._new = new
        self._added: List[int] = raw["added"]

    @property
    def added(self) -> List["_MemObjectProxy"]:
        """Objects only in the new dump (same address and type counts as
        the same object), largest first."""
        return [self._new._proxy(i) for i in self._added]

    @property
    def added_count(self) -> int:
        """How many objects are only in the new dump."""
        return len(self._added)

    def growers(self) -> List[Dict[str, Any]]:
        """The per-type rows that grew in size or count."""
        return [t for t in self.types if t["size_delta"] > 0 or t["count_delta"] > 0]

    def format(self, n: int = 20) -> str:
        """The report as text: totals, then at most n per-type rows."""
        lines = [
            "old: %d objects, %s; new: %d objects, %s; change %s objects, %s bytes"
            % (self.old_count, human_size(self.old_size), self.new_count,
               human_size(self.new_size), signed(self.new_count - self.old_count),
               signed(self.new_size - self.old_size)),
            "kept %d objects; %d gone (%d bytes); %d new"
            % (self.kept_count, self.gone_count, self.gone_size, self.added_count),
        ]
        if self.kept_count == 0 and self.old_count and self.new_count:
            lines.append("no object kept its address: the dumps come from different "
                         "processes (or everything was replaced); compare the per-type rows")
        changed = [t for t in self.types if t["count_delta"] or t["size_delta"]]
        rows = [[signed(t["count_delta"]), signed(t["size_delta"]), t["old_count"],
                 t["new_count"], t["old_size"], t["new_size"], t["type"]]
                for t in changed[:n]]
        lines.append(table(["Count+", "Size+", "Old count", "New count", "Old size",
                            "New size", "Kind"], rows, [8, 10, 10, 10, 10, 10]))
        hidden = len(changed) - len(rows)
        same = len(self.types) - len(changed)
        if hidden or same:
            lines.append("(%s%s)" % ("%d more changed types; " % hidden if hidden else "",
                                     "%d types unchanged" % same))
        return "\n".join(lines)

    def to_json(self, n: int = 20) -> Dict[str, Any]:
        """The report as JSON (``diff`` command of the CLI schema)."""
        return {
            "old_count": self.old_count, "new_count": self.new_count,
            "old_size": self.old_size, "new_size": self.new_size,
            "kept_count": self.kept_count, "gone_count": self.gone_count,
            "gone_size": self.gone_size, "added_count": self.added_count,
            "types": self.types[:n],
            "added": [object_json(o) for o in self.added[:n]],
        }

    def __repr__(self) -> str:
        return self.format()
