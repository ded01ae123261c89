"""SignatureMatcher: IOC sets, field rules, Sigma and YARA rules in one explained matcher."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import metadata_routing
from sklearn.utils.validation import check_is_fitted

from ..base import BaseDetector, ClassifierDetectorMixin, Contribution, Explanation, handle_bad_items
from ..exceptions import InvalidParameterError
from .indicators import DEFAULT_FIELDS, INDICATOR_KINDS, IPRangeIndex, normalize_indicator, url_host
from .rules import (
    SEVERITY_SCORES,
    Condition,
    EventView,
    Indicator,
    Rule,
    compile_condition,
    compile_regex,
    glob_to_regex,
)

__all__ = ["SignatureMatcher", "Hit"]

_MAX_HIT_VALUE = 256


@dataclass(frozen=True)
class Hit:
    """One rule or indicator that matched one event.

    Attributes
    ----------
    rule_id : str
    title : str
    severity : str
    field : str
        Event field the rule matched on (``""`` for a purely negative rule).
    value : str
        The field value that matched (cut to 256 characters).
    kind : str
        ``"ip"``, ``"cidr"``, ``"domain"``, ``"url"``, ``"hash"``, ``"path"``,
        ``"process"``, ``"pattern"``, ``"sigma"``, ``"yara"`` or ``"rule"``.
    """

    rule_id: str
    title: str
    severity: str
    field: str
    value: str
    kind: str

    def to_dict(self) -> dict:
        """A JSON-serialisable dict."""
        return asdict(self)

    @property
    def score(self) -> float:
        """Severity as a ``threat_score`` (see :data:`SEVERITY_SCORES`)."""
        return SEVERITY_SCORES.get(self.severity, 0.0)


def _short(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value[: _MAX_HIT_VALUE * 4]).decode("utf-8", "backslashreplace")
    elif not isinstance(value, str):
        value = str(value)
    return value if len(value) <= _MAX_HIT_VALUE else value[: _MAX_HIT_VALUE - 3] + "..."


# --------------------------------------------------------------------------- per-kind indexes


class _KindIndex:
    """Exact / suffix / glob / literal lookups for one indicator kind (not IP)."""

    def __init__(self, kind: str, entries: Iterable[tuple[Any, int, bool]] = ()) -> None:
        self.kind = kind
        self.exact: dict[Any, list[int]] = {}
        self.suffix: dict[str, list[int]] = {}
        self.globs: list[tuple[Any, int]] = []
        self.patterns: list[tuple[bytes, int]] = []
        self._engine: Any = None
        self._hex: Any = None
        self.add(entries)

    def add(self, entries: Iterable[tuple[Any, int, bool]]) -> None:
        from .indicators import is_glob

        for value, eid, subdomains in entries:
            if self.kind == "pattern":
                self.patterns.append((value, eid))
                self._engine = None
            elif self.kind in ("path", "process") and is_glob(value):
                self.globs.append((compile_regex(glob_to_regex(value, ignore_case=self.kind == "process"))[0], eid))
            else:
                self.exact.setdefault(value, []).append(eid)
                self._hex = None
                if self.kind == "domain" and subdomains:
                    self.suffix.setdefault(value, []).append(eid)

    # -- one value ----------------------------------------------------------
    def lookup(self, value: Any, field: str) -> list[int]:
        kind = self.kind
        if kind == "pattern":
            return self._scan(value)
        if not isinstance(value, str):
            if isinstance(value, (bytes, bytearray)):
                value = bytes(value).decode("utf-8", "backslashreplace")
            else:
                return []
        if kind == "hash":
            return list(self.exact.get(value.strip().lower(), ()))
        if kind == "domain":
            host = url_host(value) if (field == "url" or "/" in value) else value.strip().rstrip(".").lower()
            if not host:
                return []
            out = list(self.exact.get(host, ()))
            pos = host.find(".")
            while pos >= 0:
                out.extend(self.suffix.get(host[pos + 1 :], ()))
                pos = host.find(".", pos + 1)
            return out
        if kind == "url":
            from .indicators import normalize_url

            try:
                return list(self.exact.get(normalize_url(value), ()))
            except ValueError:
                return []
        if kind == "process":
            low = value.strip().lower()
            base = low.replace("\\", "/").rsplit("/", 1)[-1]
            out = list(self.exact.get(low, ()))
            if base != low:
                out.extend(self.exact.get(base, ()))
            for search, eid in self.globs:
                if search(low) is not None or (base != low and search(base) is not None):
                    out.append(eid)
            return out
        # path
        out = list(self.exact.get(value, ()))
        for search, eid in self.globs:
            if search(value) is not None:
                out.append(eid)
        return out

    def lookup_many(self, column: Sequence, field: str) -> list[list[int] | None]:
        """Entry ids per value of a column (``None`` where nothing matched)."""
        out: list[list[int] | None] = [None] * len(column)
        if self.kind == "hash":
            return self._lookup_hashes(column, field)
        for i, v in enumerate(column):
            if v is not None:
                r = self._lookup_any(v, field)
                if r:
                    out[i] = r
        return out

    def _lookup_hashes(self, column: Sequence, field: str) -> list[list[int] | None]:
        """Vectorised digest lookups through :class:`HashIndex`."""
        from .indicators import HashIndex

        n = len(column)
        out: list[list[int] | None] = [None] * n
        if n == 0 or not self.exact:
            return out
        if self._hex is None:
            self._hex = HashIndex(list(self.exact), payloads=list(self.exact.values()))
        out = self._hex.find(column)
        for i, v in enumerate(column):
            if isinstance(v, (list, tuple)):
                r = self._lookup_any(v, field)
                if r:
                    out[i] = r
        return out

    def _lookup_any(self, v: Any, field: str) -> list[int]:
        if isinstance(v, (list, tuple)):
            return [e for item in v for e in self.lookup(item, field)]
        return self.lookup(v, field)

    # -- literal patterns -----------------------------------------------------
    def _scan(self, value: Any) -> list[int]:
        if isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
        else:
            return []
        if not self.patterns or not data:
            return []
        engine = self._engine or self._build_engine()
        return engine(data)

    def _build_engine(self):
        self._engine = literal_engine([p for p, _ in self.patterns], [e for _, e in self.patterns])
        return self._engine


def literal_engine(patterns: Sequence[bytes], ids: Sequence[int]):
    """``scan(data) -> list of ids`` whose literal occurs in ``data``.

    Uses Hyperscan (a SIMD multi-literal matcher, the fastest well-kept engine
    available) when installed, else pyahocorasick, else Python's ``in``.
    """
    ids = list(ids)
    try:
        import hyperscan

        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        exprs = list(patterns)
        db.compile(expressions=exprs, ids=list(range(len(exprs))), flags=hyperscan.HS_FLAG_SINGLEMATCH, literal=True)
        scratch = hyperscan.Scratch(db)

        def scan_hs(data: bytes) -> list[int]:
            found: list[int] = []
            db.scan(data, match_event_handler=lambda pid, a, b, f, ctx: found.append(pid), scratch=scratch)
            return [ids[p] for p in sorted(set(found))]

        return scan_hs
    except ImportError:  # pragma: no cover - optional engine
        pass
    try:  # pragma: no cover - used only without hyperscan
        import ahocorasick

        auto = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_SEQUENCE)
        for k, p in enumerate(patterns):
            key = tuple(p)
            prev = auto.get(key, [])
            auto.add_word(key, prev + [k])
        auto.make_automaton()

        def scan_ac(data: bytes) -> list[int]:
            found = set()
            for _, ks in auto.iter(tuple(data)):
                found.update(ks)
            return [ids[k] for k in sorted(found)]

        return scan_ac
    except ImportError:  # pragma: no cover
        pats = list(patterns)
        return lambda data: [ids[k] for k, p in enumerate(pats) if p in data]


# --------------------------------------------------------------------------- the matcher


class _Compiled:
    """Indexes rebuilt lazily from ``rules_`` (never saved)."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.rule_pos: dict[str, int] = {}
        self.entry_rule: list[int] = []  # entry id -> rule position
        self.rule_fields: list[frozenset[str]] = []
        self.kind_fields: dict[str, set[str]] = {}
        self.ip: IPRangeIndex | None = None
        self.ip_values: list[str] = []
        self.ip_ids: list[int] = []
        self.kinds: dict[str, _KindIndex] = {}
        self.evaluators: dict[int, Any] = {}
        self.by_field: dict[str, set[int]] = {}
        self.always: set[int] = set()
        self.yara: dict[int, Any] = {}
        self.removed: set[int] = set()
        # field -> {"patterns": [...], "pos": [...], "set": compiled RE2 set or None}
        self.regex_gates: dict[str, dict] = {}
        self.rule_logsource: dict[int, tuple] = {}
        # field -> {"literals": {lower-case literal: [rule positions]}, "scan": engine or None}
        self.literal_gates: dict[str, dict] = {}


class SignatureMatcher(ClassifierDetectorMixin, BaseDetector):
    """Match events against indicator sets and rules, with explained hits.

    An event is a mapping of fields (``src_ip``, ``dst_ip``, ``url``,
    ``domain``, ``file_path``, ``file_hash``, ``process``, ``payload``, ...);
    missing fields are normal. A bare ``str``/``bytes`` item is treated as
    ``{"payload": item}``.

    Parameters
    ----------
    rules : iterable, default=()
        :class:`~secml_detect.signatures.rules.Rule` objects, rule dicts
        (:meth:`Rule.from_dict`), or paths of rule files: Sigma (``.yml``,
        ``.yaml``), YARA (``.yar``, ``.yara``), JSON Lines rules (``.jsonl``)
        or plain IOC lists (anything else; the kind of each line is guessed).
        Rules in files that cannot be loaded are listed in ``load_errors_``
        with their reason.
    indicators : dict, optional
        ``{kind: [values...]}``; each kind becomes one rule ``ioc:<kind>``
        (severity ``"high"``) over the kind's default fields.
    subdomains : bool, default=True
        Domain indicators given through ``indicators`` also match subdomains.
    field_map : dict, optional
        Renames the fields of Sigma rules loaded from paths to the event's
        own names, e.g. ``{"Image": "process", "CommandLine": "cmdline"}``.
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that are not mappings (nor ``str``/``bytes``) match nothing
        and get ``threat_score`` **0.0** (no rule can fire on them) with a
        :class:`~secml_detect.exceptions.BadInputWarning`, or raise
        :class:`~secml_detect.exceptions.InvalidItemError`. Wrongly typed
        field values never raise: they do not match.

    Attributes
    ----------
    rules_ : list of Rule
        Every loaded rule (run-time additions included).
    load_errors_ : list of dict
        ``{"source", "line", "reason"}`` for rules that could not be loaded.
    classes_ : ndarray ``[0, 1]``

    Notes
    -----
    Sigma rules (and any rule whose ``provenance`` holds a ``logsource``
    mapping) are only tried on events that carry at least one field they
    name; an event may also carry ``"logsource": {"category": ...,
    "product": ..., "service": ...}``, and then a rule whose log source names
    a different category, product or service is skipped.

    Run-time additions (:meth:`add_indicators`, :meth:`add_rule`,
    :meth:`remove_rule`) change the fitted state only: they are saved with
    the model, while ``fit`` and :func:`sklearn.base.clone` start again from
    the parameters. Adding updates only the index of the kind concerned
    (dict inserts; the IP forest and literal automata are rebuilt on next use).

    ``threat_score`` is the severity score of the most severe rule that
    fired (:data:`~secml_detect.signatures.rules.SEVERITY_SCORES`:
    informational 0.1, low 0.3, medium 0.6, high 0.85, critical 1.0), and
    0.0 when nothing fires. Indexes are rebuilt lazily from ``rules_`` after
    :func:`secml_detect.load`; no compiled object is ever saved.

    Examples
    --------
    >>> m = SignatureMatcher(indicators={"ip": ["198.51.100.0/24"], "domain": ["evil.example"]}).fit()
    >>> events = [{"dst_ip": "198.51.100.7"}, {"url": "http://a.evil.example/x"}, {"dst_ip": "192.0.2.1"}]
    >>> m.predict(events).tolist()
    [1, 1, 0]
    >>> [h.kind for h in m.match(events)[0]], m.threat_score(events).tolist()
    (['cidr'], [0.85, 0.85, 0.0])
    """

    fallback_threat_score = 0.0
    __metadata_request__fit = {"events": metadata_routing.UNUSED}
    __metadata_request__predict = {"events": metadata_routing.UNUSED}
    __metadata_request__predict_proba = {"events": metadata_routing.UNUSED}

    def __init__(self, rules=(), indicators=None, subdomains=True, field_map=None, on_bad_input="fallback") -> None:
        self.rules = rules
        self.indicators = indicators
        self.subdomains = subdomains
        self.field_map = field_map
        self.on_bad_input = on_bad_input

    # ------------------------------------------------------------------ fit
    def fit(self, events=None, y=None) -> "SignatureMatcher":
        """Load the rules and build the indexes (nothing is learned from ``events``)."""
        self._check_on_bad_input()
        from .iocfiles import load_rule_source

        rules: list[Rule] = []
        errors: list[dict] = []
        for item in self.rules or ():
            if isinstance(item, Rule):
                rules.append(item)
            elif isinstance(item, Mapping):
                rules.append(Rule.from_dict(item))
            elif isinstance(item, (str, Path)):
                loaded, errs = load_rule_source(item, field_map=self.field_map)
                rules.extend(loaded)
                errors.extend(errs)
            else:
                raise InvalidParameterError(f"rules must hold Rule objects, dicts or paths, got {type(item).__name__}")
        for kind, values in (self.indicators or {}).items():
            if kind not in INDICATOR_KINDS:
                raise InvalidParameterError(f"unknown indicator kind {kind!r}; expected one of {INDICATOR_KINDS}")
            rules.append(Rule(f"ioc:{kind}", Indicator(kind, tuple(values), None, bool(self.subdomains)),
                              title=f"known {kind} indicator", severity="high", kind=kind,
                              provenance={"source": "indicators parameter"}))
        seen: set[str] = set()
        for r in rules:
            if r.id in seen:
                raise InvalidParameterError(f"duplicate rule id {r.id!r}")
            seen.add(r.id)
            _check_rule(r)
        self.rules_ = rules
        self.load_errors_ = errors
        self.classes_ = np.array([0, 1])
        self._cache = None
        self._index()
        return self

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_cache", None)
        return state

    # ------------------------------------------------------------------ indexes
    def _index(self) -> _Compiled:
        cache = self.__dict__.get("_cache")
        if cache is not None:
            return cache
        cache = _Compiled()
        self._cache = cache
        for rule in self.rules_:
            self._add_to_index(cache, rule)
        return cache

    def _add_to_index(self, c: _Compiled, rule: Rule) -> None:
        pos = len(c.rules)
        c.rules.append(rule)
        c.rule_pos[rule.id] = pos
        cond = rule.condition
        if isinstance(cond, Indicator):
            fields = frozenset(cond.fields_ if cond.fields_ is not None else DEFAULT_FIELDS[cond.kind])
            c.rule_fields.append(fields)
            c.kind_fields.setdefault(cond.kind, set()).update(fields)
            entries = []
            for k, value in enumerate(cond.values):
                norm = normalize_indicator(cond.kind, value, where=f"rule {rule.id!r}, value {k}")
                eid = len(c.entry_rule)
                c.entry_rule.append(pos)
                entries.append((norm, eid, cond.subdomains))
            if cond.kind == "ip":
                c.ip_values.extend(v for v, _, _ in entries)
                c.ip_ids.extend(e for _, e, _ in entries)
                c.ip = None  # rebuilt on next use (numpy; fast)
            else:
                index = c.kinds.get(cond.kind)
                if index is None:
                    c.kinds[cond.kind] = _KindIndex(cond.kind, entries)
                else:
                    index.add(entries)
            return
        c.rule_fields.append(frozenset())
        from .yara import YaraRules

        if isinstance(cond, YaraRules):
            c.yara[pos] = cond.compile()
            return
        evaluator = compile_condition(cond)
        c.evaluators[pos] = evaluator
        ls = (rule.provenance or {}).get("logsource") if isinstance(rule.provenance, Mapping) else None
        if isinstance(ls, Mapping) and ls:
            c.rule_logsource[pos] = _logsource_key(ls)
        # A rule that can fire on an event without its fields is tried on every
        # event; Sigma rules only on events that carry a field they name (a
        # process-creation rule says nothing about a proxy log line).
        if "*" in cond.fields() or (rule.kind != "sigma" and evaluator(EventView({})) is not None):
            c.always.add(pos)
            return
        gate = _regex_gate(cond)
        if gate is not None:
            # Rules that need a regex on one field (e.g. LOKI file-name IOCs) are
            # tried only when one RE2 set scan of that field says the regex matched.
            entry = c.regex_gates.setdefault(gate[0], {"patterns": [], "pos": [], "set": None})
            entry["patterns"].extend(gate[1])
            entry["pos"].extend([pos] * len(gate[1]))
            entry["set"] = None
            return
        atoms = _necessary_literals(cond)
        if atoms:
            # The rule cannot hold unless one of these literals occurs (case-folded)
            # in its field: one multi-literal scan per field value picks the rules to try.
            for f, lit in atoms:
                gate = c.literal_gates.setdefault(f, {"literals": {}, "scan": None, "keys": None})
                gate["literals"].setdefault(lit, []).append(pos)
                gate["scan"] = None
            return
        for f in cond.fields():
            c.by_field.setdefault(f.split(".", 1)[0], set()).add(pos)

    def _ip_index(self, c: _Compiled) -> IPRangeIndex | None:
        if c.ip is None and c.ip_values:
            c.ip = IPRangeIndex(c.ip_values, c.ip_ids)
        return c.ip

    # ------------------------------------------------------------------ run-time updates
    def _ensure_fitted(self) -> None:
        if not hasattr(self, "rules_"):
            self.fit()

    def add_rule(self, rule: Rule | Mapping) -> str:
        """Add a rule to the fitted matcher (indexes are updated, not rebuilt); returns its id."""
        self._ensure_fitted()
        if isinstance(rule, Mapping):
            rule = Rule.from_dict(rule)
        if not isinstance(rule, Rule):
            raise InvalidParameterError(f"expected a Rule, got {type(rule).__name__}")
        if any(r.id == rule.id for r in self.rules_):
            raise InvalidParameterError(f"duplicate rule id {rule.id!r}")
        _check_rule(rule)
        self._add_to_index(self._index(), rule)  # validates before the rule is listed
        self.rules_.append(rule)
        return rule.id

    def add_indicators(self, kind: str, values, *, field: str | Sequence[str] | None = None,
                       rule_id: str | None = None, title: str | None = None, severity: str = "high",
                       tags: Sequence[str] = (), provenance: dict | None = None, subdomains: bool = True) -> str:
        """Add a set of indicators of one kind as a new rule; returns the rule id.

        ``field=None`` uses the kind's default fields
        (:data:`~secml_detect.signatures.indicators.DEFAULT_FIELDS`); ``provenance``
        is any JSON-able dict, kept with the rule and exported.

        Examples
        --------
        >>> m = SignatureMatcher().fit()
        >>> rid = m.add_indicators("hash", ["44d88612fea8a8f36de82e1278abb02f"], provenance={"analyst": "ana"})
        >>> m.predict([{"md5": "44D88612FEA8A8F36DE82E1278ABB02F"}]).tolist(), rid in m.rule_ids()
        ([1], True)
        >>> m.remove_rule(rid); m.predict([{"md5": "44d88612fea8a8f36de82e1278abb02f"}]).tolist()
        [0]
        """
        if kind not in INDICATOR_KINDS:
            raise InvalidParameterError(f"unknown indicator kind {kind!r}; expected one of {INDICATOR_KINDS}")
        if isinstance(values, (str, bytes)):
            values = [values]
        self._ensure_fitted()
        if rule_id is None:
            existing = set(self.rule_ids())
            n = sum(1 for r in self.rules_ if r.kind == kind) + 1
            while f"{kind}:{n}" in existing:
                n += 1
            rule_id = f"{kind}:{n}"
        fields = None if field is None else ((field,) if isinstance(field, str) else tuple(field))
        rule = Rule(rule_id, Indicator(kind, tuple(values), fields, subdomains), title=title or f"{kind} indicators",
                    severity=severity, tags=tuple(tags), kind=kind, provenance=provenance)
        return self.add_rule(rule)

    def remove_rule(self, rule_id: str) -> None:
        """Remove a rule by id (raises KeyError when unknown)."""
        check_is_fitted(self)
        for k, r in enumerate(self.rules_):
            if r.id == rule_id:
                del self.rules_[k]
                c = self.__dict__.get("_cache")
                if c is not None:
                    pos = c.rule_pos.pop(rule_id)
                    c.removed.add(pos)
                    c.evaluators.pop(pos, None)
                    c.yara.pop(pos, None)
                    c.always.discard(pos)
                return
        raise KeyError(f"no rule with id {rule_id!r}")

    def rule_ids(self) -> list[str]:
        """Ids of every rule, in order."""
        check_is_fitted(self)
        return [r.id for r in self.rules_]

    # ------------------------------------------------------------------ matching
    def _events(self, events) -> tuple[list, np.ndarray]:
        if hasattr(events, "to_dict") and hasattr(events, "columns"):  # pandas DataFrame
            events = events.to_dict("records")
        if isinstance(events, (Mapping, str, bytes)):
            raise TypeError("expected a batch of events (a list of mappings), got a single item")
        out: list = []
        bad: list[bool] = []
        for ev in events:
            if isinstance(ev, Mapping):
                out.append(ev)
                bad.append(False)
            elif isinstance(ev, (str, bytes, bytearray)):
                out.append({"payload": ev})
                bad.append(False)
            else:
                out.append({})
                bad.append(True)
        mask = np.array(bad, dtype=bool)
        handle_bad_items(mask, "not a mapping of fields", self.on_bad_input, items=out,
                         fallback_desc="threat_score 0.0")
        return out, mask

    def match(self, events) -> list[list[Hit]]:
        """Every rule/indicator hit, per event (most severe first)."""
        check_is_fitted(self)
        evs, _ = self._events(events)
        return self._match(evs)

    def _match(self, evs: list) -> list[list[Hit]]:
        # Building many small objects in one batch: pause the cyclic GC (it would
        # rescan the large indexes again and again); nothing here makes cycles.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._match_batch(evs)
        finally:
            if enabled:
                gc.enable()

    def _match_batch(self, evs: list) -> list[list[Hit]]:
        c = self._index()
        n = len(evs)
        found: list[list[tuple[int, str, Any, str]]] = [[] for _ in range(n)]
        removed = c.removed
        # Indicator indexes, one column at a time.
        ip = self._ip_index(c)
        if ip is not None:
            for f in sorted(c.kind_fields.get("ip", ())):
                col = [ev.get(f) for ev in evs]
                if all(v is None for v in col):
                    continue
                rows = ip.matches(col)
                for i, v in enumerate(col):
                    if isinstance(v, (list, tuple)):
                        rows[i] = [m for item in v if isinstance(item, str) for m in ip.matches([item])[0] or ()]
                for i, row in enumerate(rows):
                    if not row:
                        continue
                    for eid, is_cidr in row:
                        pos = c.entry_rule[eid]
                        if pos not in removed and f in c.rule_fields[pos]:
                            found[i].append((pos, f, col[i], "cidr" if is_cidr else "ip"))
        for kind, index in c.kinds.items():
            for f in sorted(c.kind_fields.get(kind, ())):
                col = [ev.get(f) for ev in evs]
                if all(v is None for v in col):
                    continue
                for i, eids in enumerate(index.lookup_many(col, f)):
                    if eids is None:
                        continue
                    for eid in eids:
                        pos = c.entry_rule[eid]
                        if pos not in removed and f in c.rule_fields[pos]:
                            found[i].append((pos, f, col[i], kind))
        # Field rules (Sigma included), only those that can concern the event's fields.
        if c.evaluators:
            by_field, always, evaluators = c.by_field, c.always, c.evaluators
            rule_ls = c.rule_logsource
            gates = c.regex_gates
            for gate in gates.values():
                if gate["set"] is None:
                    gate["set"] = _re2_set(gate["patterns"])
            lgates = c.literal_gates
            for lgate in lgates.values():
                if lgate["scan"] is None:
                    lits = list(lgate["literals"])
                    lgate["keys"] = [lgate["literals"][lit] for lit in lits]
                    lgate["scan"] = literal_engine([lit.encode("utf-8", "surrogatepass") for lit in lits],
                                                   list(range(len(lits))))
            for i, ev in enumerate(evs):
                cand = set(always)
                for key in ev:
                    s = by_field.get(key if isinstance(key, str) else str(key))
                    if s:
                        cand |= s
                view = EventView(ev)
                for f, gate in gates.items():
                    for text in view.strs(f) or ():
                        cand.update(gate["pos"][k] for k in gate["set"].Match(text) or ())
                for key in ev:
                    lgate = lgates.get(key)
                    if lgate is None:
                        continue
                    for text in view.lowers(key) or ():
                        if text:
                            for k in lgate["scan"](text.encode("utf-8", "surrogatepass")):
                                cand.update(lgate["keys"][k])
                if not cand:
                    continue
                ls = ev.get("logsource")
                ls = _logsource_key(ls) if isinstance(ls, Mapping) else None
                for pos in sorted(cand):
                    fn = evaluators.get(pos)
                    if fn is None:
                        continue
                    if ls is not None and pos in rule_ls and not _logsource_fits(rule_ls[pos], ls):
                        continue
                    ev_list = fn(view)
                    if ev_list is None:
                        continue
                    kind = c.rules[pos].kind
                    if not ev_list:
                        found[i].append((pos, "", "", kind))
                    for f, val in ev_list:
                        found[i].append((pos, f, val, kind))
        for pos, compiled in c.yara.items():
            cond = c.rules[pos].condition
            for i, ev in enumerate(evs):
                for f in cond.fields():
                    v = ev.get(f)
                    if isinstance(v, (str, bytes, bytearray)) and v:
                        for name in compiled.scan(v):
                            found[i].append((pos, f, v, "yara:" + name))
        return [self._to_hits(c, row) if row else [] for row in found]

    @staticmethod
    def _to_hits(c: _Compiled, row) -> list[Hit]:
        hits = []
        seen = set()
        for pos, f, value, kind in row:
            rule = c.rules[pos]
            rid = rule.id
            if kind.startswith("yara:"):
                rid = f"{rule.id}:{kind[5:]}"
                kind = "yara"
            key = (rid, f, value if isinstance(value, (str, bytes)) else str(value))
            if key in seen:
                continue
            seen.add(key)
            hits.append(Hit(rid, rule.title, rule.severity, f, _short(value), kind))
        hits.sort(key=lambda h: -SEVERITY_SCORES.get(h.severity, 0.0))
        return hits

    def match_files(self, paths, *, max_bytes: int = 64 * 2**20) -> list[list[Hit]]:
        """Match files on disk: each becomes an event with its path, content and digests.

        The event holds ``file_path``, ``file_content`` (the first ``max_bytes``
        bytes), ``md5``, ``sha1`` and ``sha256`` (of that content), so path
        globs, hashes, literal patterns and YARA rules all apply. A file that
        cannot be read gets an event with only ``file_path`` (and a
        :class:`~secml_detect.exceptions.BadInputWarning`, or an error with
        ``on_bad_input="raise"``).
        """
        import hashlib

        check_is_fitted(self)
        events, unreadable = [], []
        for i, path in enumerate(paths):
            event: dict[str, Any] = {"file_path": str(path)}
            try:
                with open(path, "rb") as fh:
                    data = fh.read(max_bytes)
            except OSError as exc:
                unreadable.append((i, f"cannot read file: {exc.strerror or exc}"))
            else:
                event.update(file_content=data, md5=hashlib.md5(data).hexdigest(),
                             sha1=hashlib.sha1(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest())
            events.append(event)
        if unreadable:
            handle_bad_items([i for i, _ in unreadable], [r for _, r in unreadable], self.on_bad_input,
                             items=[str(p) for p in paths], fallback_desc="path-only matching")
        return self._match(events)

    def predict(self, events) -> np.ndarray:
        """1 where any rule fired, else 0."""
        return np.array([1 if h else 0 for h in self.match(events)], dtype=np.int64)

    def threat_score(self, events) -> np.ndarray:
        """Severity score of the most severe rule that fired (0.0 when none)."""
        check_is_fitted(self)
        return np.array([max((h.score for h in hits), default=0.0) for hits in self.match(events)], dtype=np.float64)

    def predict_proba(self, events) -> np.ndarray:
        """``[1 - threat_score, threat_score]`` (a severity, not a calibrated probability)."""
        s = self.threat_score(events)
        return np.column_stack([1.0 - s, s])

    def explain(self, events, *, top_k: int = 5) -> list[Explanation]:
        """Fired rule ids (most severe first) and the field/value of each hit."""
        check_is_fitted(self)
        evs, bad = self._events(events)
        out = []
        for i, hits in enumerate(self._match(evs)):
            score = max((h.score for h in hits), default=0.0)
            rules = tuple(dict.fromkeys(h.rule_id for h in hits))
            contribs = tuple(Contribution(h.field or h.rule_id, h.value, h.score) for h in hits[:top_k])
            note = "; ".join(f"{h.rule_id} ({h.kind}) on {h.field}={h.value!r}" for h in hits[:top_k])
            if bad[i]:
                note = "not a mapping of fields"
            out.append(Explanation(i, score, contribs, rules, bool(bad[i]), note))
        return out

    # ------------------------------------------------------------------ export
    def to_stix(self) -> list[dict]:
        """Indicator rules as STIX 2.1 ``indicator`` objects (dicts), via the stix2 library."""
        from .export import to_stix

        check_is_fitted(self)
        return to_stix(self.rules_)

    def to_ioc_lists(self) -> dict[str, list[str]]:
        """Current indicators as plain lists, per kind (normalised, sorted, unique)."""
        from .export import to_ioc_lists

        check_is_fitted(self)
        return to_ioc_lists(self.rules_)

    @classmethod
    def _generic_check_data(cls) -> dict:
        from .rules import Field

        rules = [Rule("bin-write", Field("file_path", "startswith", ("/bin/",)) & ~Field("process", "in", ("dpkg",)),
                      title="write under /bin", severity="critical")]
        X_test = [{"dst_ip": "10.1.2.3"}, {"domain": "a.evil.example"}, {"file_path": "/bin/sh", "process": "x"},
                  {"dst_ip": "192.0.2.1", "url": 5}, {}, b"payload"]
        return {"X": None, "y": None, "X_test": X_test,
                "params": {"rules": rules, "indicators": {"ip": ["10.0.0.0/8"], "domain": ["evil.example"]}}}


def _logsource_key(ls: Mapping) -> tuple:
    return tuple(str(ls.get(k)).lower() if ls.get(k) not in (None, "") else None
                 for k in ("category", "product", "service"))


def _logsource_fits(rule_ls: tuple, event_ls: tuple) -> bool:
    """A rule's log source fits an event's when no part both name differs."""
    return all(r is None or e is None or r == e for r, e in zip(rule_ls, event_ls))


def _necessary_literals(cond: Condition) -> list[tuple[str, str]] | None:
    """``(field, lower-case literal)`` atoms, one of which must occur for ``cond`` to hold; None if unknown.

    A string test (equals / contains / startswith / endswith, any case) on a
    plain field needs one of its values as a substring; ``any`` needs one of
    its children's atoms; ``all`` needs the atoms of its most selective child.
    Negations, regexes and other tests give no guarantee.
    """
    from .rules import AllOf, AnyOf, Field, value_text

    if isinstance(cond, Field):
        if cond.op not in ("equals", "in", "contains", "startswith", "endswith") or cond.field == "*" \
                or "." in cond.field or not cond.values:
            return None
        out = []
        for v in cond.values:
            text = value_text(v).lower()
            if not text or isinstance(v, float):
                return None
            out.append((cond.field, text))
        return out
    if isinstance(cond, AnyOf):
        out = []
        for a in cond.args:
            sub = _necessary_literals(a)
            if sub is None:
                return None
            out.extend(sub)
        return out or None
    if isinstance(cond, AllOf):
        best = None
        for a in cond.args:
            sub = _necessary_literals(a)
            if sub is not None and (best is None or _selectivity(sub) > _selectivity(best)):
                best = sub
        return best
    return None


def _selectivity(atoms: list[tuple[str, str]]) -> float:
    # fewer and longer literals fire less often
    return min(len(lit) for _, lit in atoms) / len(atoms)


def _regex_gate(cond: Condition) -> tuple[str, list[str]] | None:
    """``(field, patterns)`` of a regex the condition cannot hold without, if RE2 takes them."""
    from .rules import AllOf, Field
    from .rules import _re2 as re2

    if re2 is None:  # pragma: no cover - without RE2 every rule is tried
        return None
    lead = cond
    if isinstance(cond, AllOf):
        lead = next((a for a in cond.args if isinstance(a, Field) and a.op == "regex"), None)
    if not isinstance(lead, Field) or lead.op != "regex" or lead.match_all or lead.field == "*" or "." in lead.field:
        return None
    patterns = [("(?i)" if lead.ignore_case else "") + str(v) for v in lead.values]
    options = re2.Options()
    options.log_errors = False
    try:
        for p in patterns:
            re2.compile(p, options)
    except Exception:  # noqa: BLE001 - not RE2 syntax: the rule is simply always tried
        return None
    return lead.field, patterns


def _re2_set(patterns: list[str]):
    from .rules import _re2 as re2

    options = re2.Options()
    options.log_errors = False
    rset = re2.Set.SearchSet(options)
    for p in patterns:
        rset.Add(p)
    rset.Compile()
    return rset


def _check_rule(rule: Rule) -> None:
    if not isinstance(rule.id, str) or not rule.id:
        raise InvalidParameterError(f"a rule id must be a non-empty string, got {rule.id!r}")
    if rule.severity not in SEVERITY_SCORES:
        raise InvalidParameterError(
            f"rule {rule.id!r}: severity must be one of {tuple(SEVERITY_SCORES)}, got {rule.severity!r}")
    if not isinstance(rule.condition, Condition):
        raise InvalidParameterError(f"rule {rule.id!r}: condition must be a Condition, got {type(rule.condition).__name__}")

