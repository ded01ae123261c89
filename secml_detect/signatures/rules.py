"""Rules and conditions over events (mappings of fields).

A :class:`Rule` pairs an id, a title, a severity and tags with a condition
tree. Conditions are small frozen objects combined with ``&``, ``|`` and
``~``::

    Field("file_path", "startswith", ["/bin/", "/sbin/"]) & ~Field("process", "in", ["dpkg", "apt"])

Field operators (``values`` is a tuple; the condition holds when the event
value matches **any** of them, or **all** of them with ``match_all=True``):

``equals`` / ``in``, ``contains``, ``startswith``, ``endswith``, ``glob``,
``regex`` (RE2 when the ``re2`` module is installed, else Python ``re`` on
at most ``MAX_REGEX_INPUT`` characters, so no rule file can make matching
take exponential time), ``cidr``, ``exists`` (values ``(True,)`` or
``(False,)``), ``null`` (missing, ``None`` or empty), ``lt``/``le``/``gt``/``ge``
(numbers), ``fieldref`` (equal to another field of the same event). The field
``"*"`` means any field (Sigma keywords).

Event values may be ``str``, ``bytes`` (decoded as UTF-8 with escapes),
numbers, booleans, or lists of those (a list matches when any element does).
Missing fields and other types never raise; they simply do not match.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from ..exceptions import InvalidParameterError
from .indicators import INDICATOR_KINDS, glob_to_regex, normalize_indicator

try:  # pragma: no cover - depends on the environment
    import re2 as _re2
except ImportError:  # pragma: no cover
    _re2 = None

__all__ = [
    "Condition",
    "Field",
    "AllOf",
    "AnyOf",
    "Not",
    "Indicator",
    "Rule",
    "SEVERITY_SCORES",
    "FIELD_OPS",
    "condition_from_dict",
    "compile_regex",
]

#: ``threat_score`` of the most severe rule that fired.
SEVERITY_SCORES: dict[str, float] = {
    "informational": 0.1,
    "low": 0.3,
    "medium": 0.6,
    "high": 0.85,
    "critical": 1.0,
}

FIELD_OPS = (
    "equals", "in", "contains", "startswith", "endswith", "glob", "regex", "cidr",
    "exists", "null", "lt", "le", "gt", "ge", "fieldref",
)

#: Characters of an event value a Python-``re`` fallback regex may read.
MAX_REGEX_INPUT = 4096


class Condition:
    """Base of condition nodes: combine with ``&``, ``|``, ``~``."""

    def __and__(self, other: "Condition") -> "AllOf":
        return AllOf((self, other))

    def __or__(self, other: "Condition") -> "AnyOf":
        return AnyOf((self, other))

    def __invert__(self) -> "Not":
        return Not(self)

    def to_dict(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def fields(self) -> set[str]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Field(Condition):
    """A test on one event field.

    Parameters
    ----------
    field : str
        Field name (``"*"``: any field).
    op : str
        One of :data:`FIELD_OPS`.
    values : tuple
        What to compare with.
    ignore_case : bool, default=False
        Compare text case-insensitively (Sigma's default).
    match_all : bool, default=False
        Require every value to match instead of any.

    Examples
    --------
    >>> from secml_detect.signatures import SignatureMatcher, Rule
    >>> rule = Rule("bin-write", Field("file_path", "startswith", ("/bin/",)) & ~Field("process", "in", ("dpkg",)))
    >>> SignatureMatcher(rules=[rule]).fit().predict([{"file_path": "/bin/ls", "process": "curl"}]).tolist()
    [1]
    """

    field: str
    op: str
    values: tuple = ()
    ignore_case: bool = False
    match_all: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.values, (str, bytes)) or not isinstance(self.values, Iterable):
            object.__setattr__(self, "values", (self.values,))
        elif not isinstance(self.values, tuple):
            object.__setattr__(self, "values", tuple(self.values))

    def to_dict(self) -> dict:
        out = {"field": self.field, "op": self.op, "values": list(self.values)}
        if self.ignore_case:
            out["ignore_case"] = True
        if self.match_all:
            out["match_all"] = True
        return out

    def fields(self) -> set[str]:
        out = {self.field}
        if self.op == "fieldref":
            out.update(str(v) for v in self.values)
        return out


@dataclass(frozen=True)
class AllOf(Condition):
    """All sub-conditions hold."""

    args: tuple = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))

    def to_dict(self) -> dict:
        return {"all": [a.to_dict() for a in self.args]}

    def fields(self) -> set[str]:
        return set().union(*(a.fields() for a in self.args)) if self.args else set()


@dataclass(frozen=True)
class AnyOf(Condition):
    """At least one sub-condition holds."""

    args: tuple = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(self.args))

    def to_dict(self) -> dict:
        return {"any": [a.to_dict() for a in self.args]}

    def fields(self) -> set[str]:
        return set().union(*(a.fields() for a in self.args)) if self.args else set()


@dataclass(frozen=True)
class Not(Condition):
    """The sub-condition does not hold."""

    arg: Condition = None  # type: ignore[assignment]

    def to_dict(self) -> dict:
        return {"not": self.arg.to_dict()}

    def fields(self) -> set[str]:
        return self.arg.fields()


@dataclass(frozen=True)
class Indicator(Condition):
    """Membership of a field value in a set of indicators of one kind.

    Values are normalised when the matcher is fitted (see
    :mod:`secml_detect.signatures.indicators`). ``fields=None`` means the
    kind's default fields (:data:`~secml_detect.signatures.indicators.DEFAULT_FIELDS`).
    ``subdomains`` applies to domains: ``evil.com`` also matches ``a.evil.com``.
    """

    kind: str
    values: tuple = ()
    fields_: tuple | None = None
    subdomains: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if self.fields_ is not None:
            f = (self.fields_,) if isinstance(self.fields_, str) else tuple(self.fields_)
            object.__setattr__(self, "fields_", f)

    def to_dict(self) -> dict:
        out = {"indicator": self.kind, "values": [v.decode("latin-1") if isinstance(v, bytes) else v for v in self.values]}
        if self.fields_ is not None:
            out["fields"] = list(self.fields_)
        if not self.subdomains:
            out["subdomains"] = False
        return out

    def fields(self) -> set[str]:
        from .indicators import DEFAULT_FIELDS

        return set(self.fields_ if self.fields_ is not None else DEFAULT_FIELDS[self.kind])


def condition_from_dict(spec: Mapping) -> Condition:
    """Inverse of ``Condition.to_dict`` (used for JSON rule files)."""
    if not isinstance(spec, Mapping):
        raise InvalidParameterError(f"a condition must be a mapping, got {spec!r:.80}")
    if "all" in spec:
        return AllOf(tuple(condition_from_dict(a) for a in spec["all"]))
    if "any" in spec:
        return AnyOf(tuple(condition_from_dict(a) for a in spec["any"]))
    if "not" in spec:
        return Not(condition_from_dict(spec["not"]))
    if "indicator" in spec:
        fields = spec.get("fields")
        return Indicator(spec["indicator"], tuple(spec.get("values", ())),
                         None if fields is None else tuple(fields), bool(spec.get("subdomains", True)))
    if "field" in spec:
        return Field(spec["field"], spec.get("op", "equals"), tuple(spec.get("values", ())),
                     bool(spec.get("ignore_case", False)), bool(spec.get("match_all", False)))
    raise InvalidParameterError(f"unknown condition {spec!r:.80}")


@dataclass(frozen=True)
class Rule:
    """A signature: a condition with an id, a title, a severity and tags.

    Parameters
    ----------
    id : str
    condition : Condition
    title : str
    severity : {"informational", "low", "medium", "high", "critical"}
    tags : tuple of str
    kind : str
        What kind of signature: ``"rule"`` (hand-written), ``"sigma"``,
        ``"yara"``, or an indicator kind.
    provenance : dict, optional
        JSON-able origin (file and line, feed, analyst, model finding).
    description : str
    """

    id: str
    condition: Condition
    title: str = ""
    severity: str = "high"
    tags: tuple = ()
    kind: str = "rule"
    provenance: dict | None = field(default=None, compare=False)
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (inverse: :meth:`from_dict`)."""
        return {"id": self.id, "title": self.title, "severity": self.severity, "tags": list(self.tags),
                "kind": self.kind, "provenance": self.provenance, "description": self.description,
                "condition": self.condition.to_dict()}

    @classmethod
    def from_dict(cls, spec: Mapping) -> "Rule":
        """Rule from a dict such as one line of a JSON Lines rule file."""
        if "id" not in spec or "condition" not in spec:
            raise InvalidParameterError(f"a rule needs 'id' and 'condition': {dict(spec)!r:.120}")
        return cls(str(spec["id"]), condition_from_dict(spec["condition"]), str(spec.get("title", "")),
                   str(spec.get("severity", "high")), tuple(spec.get("tags", ())), str(spec.get("kind", "rule")),
                   spec.get("provenance"), str(spec.get("description", "")))


# --------------------------------------------------------------------------- evaluation


def compile_regex(pattern: str, ignore_case: bool = False):
    """Compile with RE2 (linear time) when possible, else Python ``re`` with bounded input.

    Returns ``(search, engine)`` where ``search(text) -> match or None``.
    """
    flags = "(?i)" if ignore_case else ""
    if _re2 is not None:
        try:
            options = _re2.Options()
            options.log_errors = False
            rx = _re2.compile(flags + pattern, options)
            return rx.search, "re2"
        except Exception:  # noqa: BLE001 - RE2 lacks backreferences/lookaround
            pass
    rx = re.compile(flags + pattern)
    return (lambda text: rx.search(text[:MAX_REGEX_INPUT])), "re"


class EventView:
    """Per-event cache of field values as strings (and lower-cased strings)."""

    __slots__ = ("event", "_str", "_low")

    def __init__(self, event: Mapping) -> None:
        self.event = event
        self._str: dict[str, list[str] | None] = {}
        self._low: dict[str, list[str] | None] = {}

    def raw(self, name: str) -> Any:
        ev = self.event
        if name in ev:
            return ev[name]
        if "." in name:
            node: Any = ev
            for part in name.split("."):
                if isinstance(node, Mapping) and part in node:
                    node = node[part]
                else:
                    return _MISSING
            return node
        return _MISSING

    def strs(self, name: str) -> list[str] | None:
        """Values of the field as strings; ``None`` when missing."""
        try:
            return self._str[name]
        except KeyError:
            pass
        if name == "*":
            out: list[str] | None = []
            for key in list(self.event):
                out.extend(self.strs(key) or ())
        else:
            raw = self.raw(name)
            out = None if raw is _MISSING else _as_strs(raw)
        self._str[name] = out
        return out

    def lowers(self, name: str) -> list[str] | None:
        try:
            return self._low[name]
        except KeyError:
            pass
        s = self.strs(name)
        out = None if s is None else [v.lower() for v in s]
        self._low[name] = out
        return out


_MISSING = object()


def _as_strs(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, bool):
        return ["true" if raw else "false"]
    if isinstance(raw, (int, float)):
        if isinstance(raw, float) and raw != raw:  # NaN: a missing cell of a data frame
            return []
        if isinstance(raw, float) and raw.is_integer():
            return [str(int(raw)), str(raw)]
        return [str(raw)]
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return [bytes(raw).decode("utf-8", "backslashreplace")]
    if isinstance(raw, (list, tuple)):
        out: list[str] = []
        for v in raw:
            if isinstance(v, (str, bool, int, float, bytes)):
                out.extend(_as_strs(v))
        return out
    try:  # numpy scalars
        import numpy as np

        if isinstance(raw, np.generic):
            return _as_strs(raw.item())
    except ImportError:  # pragma: no cover
        pass
    return []


Evidence = list  # list of (field, value) pairs; None means "does not hold"
Evaluator = Callable[[EventView], "Evidence | None"]


def compile_condition(cond: Condition) -> Evaluator:
    """Turn a condition tree into a function ``view -> evidence list or None``."""
    if isinstance(cond, AllOf):
        subs = [compile_condition(a) for a in cond.args]

        def all_of(view):
            ev: list = []
            for s in subs:
                r = s(view)
                if r is None:
                    return None
                ev.extend(r)
            return ev

        return all_of
    if isinstance(cond, AnyOf):
        subs = [compile_condition(a) for a in cond.args]

        def any_of(view):
            for s in subs:
                r = s(view)
                if r is not None:
                    return r
            return None

        return any_of
    if isinstance(cond, Not):
        sub = compile_condition(cond.arg)
        return lambda view: [] if sub(view) is None else None
    if isinstance(cond, Field):
        return _compile_field(cond)
    if isinstance(cond, Indicator):
        return _compile_indicator(cond)
    raise InvalidParameterError(f"not a condition: {cond!r:.80}")


def value_text(v: Any) -> str:
    """A rule value as the text it is compared with."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "backslashreplace")
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else str(v)


def _text_values(cond: Field) -> list[str]:
    return [value_text(v).lower() if cond.ignore_case else value_text(v) for v in cond.values]


def _compile_field(cond: Field) -> Evaluator:
    name, op = cond.field, cond.op
    if op not in FIELD_OPS:
        raise InvalidParameterError(f"unknown field operator {op!r}; expected one of {FIELD_OPS}")
    if op == "exists":
        want = bool(cond.values[0]) if cond.values else True

        def exists(view):
            present = view.raw(name) is not _MISSING
            return ([(name, "")] if present else []) if present == want else None

        return exists
    if op == "null":

        def null(view):
            raw = view.raw(name)
            if raw is _MISSING or raw is None or raw == "" or raw == [] or (isinstance(raw, float) and raw != raw):
                return [(name, "")]
            return None

        return null
    if op == "fieldref":
        others = [str(v) for v in cond.values]

        def fieldref(view):
            mine = view.lowers(name) if cond.ignore_case else view.strs(name)
            if not mine:
                return None
            for other in others:
                theirs = view.lowers(other) if cond.ignore_case else view.strs(other)
                if theirs and set(mine) & set(theirs):
                    return [(name, view.strs(name)[0])]
            return None

        return fieldref
    if op in ("lt", "le", "gt", "ge"):
        import operator

        cmp = getattr(operator, op)
        bounds = [float(v) for v in cond.values]

        def compare(view):
            for s in view.strs(name) or ():
                try:
                    x = float(s)
                except ValueError:
                    continue
                if any(cmp(x, b) for b in bounds):
                    return [(name, s)]
            return None

        return compare
    if op == "cidr":
        nets = [ipaddress.ip_network(str(v), strict=False) for v in cond.values]

        def cidr(view):
            for s in view.strs(name) or ():
                try:
                    ip = ipaddress.ip_address(s.strip())
                except ValueError:
                    continue
                for net in nets:
                    if ip.version == net.version and ip in net:
                        return [(name, s)]
            return None

        return cidr

    values = _text_values(cond)
    get = (lambda view: view.lowers(name)) if cond.ignore_case else (lambda view: view.strs(name))
    if op in ("equals", "in"):
        if cond.match_all and len(values) > 1:
            return lambda view: None  # one value cannot equal several different ones
        wanted = frozenset(values)

        def equals(view):
            for k, s in enumerate(get(view) or ()):
                if s in wanted:
                    return [(name, view.strs(name)[k])]
            return None

        return equals
    if op == "regex":
        searches = [compile_regex(str(c), cond.ignore_case)[0] for c in cond.values]
        tests = [lambda s, f=f: f(s) is not None for f in searches]
        get = lambda view: view.strs(name)  # noqa: E731 - regex handles case itself
    elif op == "glob":
        searches = [compile_regex(glob_to_regex(str(c), ignore_case=cond.ignore_case))[0] for c in cond.values]
        tests = [lambda s, f=f: f(s) is not None for f in searches]
        get = lambda view: view.strs(name)  # noqa: E731
    elif op == "contains":
        tests = [lambda s, v=v: v in s for v in values]
    elif op == "startswith":
        tests = [lambda s, v=v: s.startswith(v) for v in values]
    else:  # endswith
        tests = [lambda s, v=v: s.endswith(v) for v in values]

    if op in ("contains", "startswith", "endswith") and not cond.match_all:
        vals = tuple(values)
        if op == "contains":

            def contains(view):
                for k, s in enumerate(get(view) or ()):
                    for v in vals:
                        if v in s:
                            return [(name, view.strs(name)[k])]
                return None

            return contains
        method = str.startswith if op == "startswith" else str.endswith

        def affix(view):
            for k, s in enumerate(get(view) or ()):
                if method(s, vals):
                    return [(name, view.strs(name)[k])]
            return None

        return affix

    if cond.match_all:

        def all_match(view):
            strs = get(view) or ()
            hit = None
            for t in tests:
                found = next((k for k, s in enumerate(strs) if t(s)), None)
                if found is None:
                    return None
                hit = found
            return [(name, view.strs(name)[hit])] if hit is not None else None

        return all_match

    def any_match(view):
        for k, s in enumerate(get(view) or ()):
            for t in tests:
                if t(s):
                    return [(name, view.strs(name)[k])]
        return None

    return any_match


def _compile_indicator(cond: Indicator) -> Evaluator:
    """Slow path for indicators nested in compound conditions (top-level ones are indexed)."""
    from .indicators import DEFAULT_FIELDS, IPRangeIndex

    if cond.kind not in INDICATOR_KINDS:
        raise InvalidParameterError(f"unknown indicator kind {cond.kind!r}")
    fields = cond.fields_ if cond.fields_ is not None else DEFAULT_FIELDS[cond.kind]
    norm = [normalize_indicator(cond.kind, v) for v in cond.values]
    if cond.kind == "ip":
        index = IPRangeIndex(norm)

        def ip(view):
            for f in fields:
                for s in view.strs(f) or ():
                    if index.lookup([s])[0]:
                        return [(f, s)]
            return None

        return ip
    from .matcher import _KindIndex

    index = _KindIndex(cond.kind, [(v, 0, cond.subdomains) for v in norm])

    def other(view):
        for f in fields:
            raw = view.raw(f)
            if raw is _MISSING:
                continue
            for value in (raw if isinstance(raw, (list, tuple)) else [raw]):
                if index.lookup(value, f):
                    return [(f, value if isinstance(value, str) else str(value))]
        return None

    return other
