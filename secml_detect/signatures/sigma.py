"""Sigma rules: parsed with pySigma, converted to our condition tree.

pySigma reads the YAML, checks it, applies the field modifiers and resolves
``1 of`` / ``all of`` / ``and`` / ``or`` / ``not`` into a tree of
``ConditionAND``/``ConditionOR``/``ConditionNOT`` and field-equals-value
leaves. This module turns that tree into
:class:`~secml_detect.signatures.rules.Rule` conditions evaluated against
event mappings, so a loaded rule needs neither pySigma nor a backend at match
time and is saved like any other rule.

Supported value types: strings with wildcards (``contains``,
``startswith``, ``endswith``, ``all``, ``windash``, ``base64``/``base64offset``,
``wide``/``utf16`` expansions, case-insensitive unless ``cased``), numbers,
booleans, ``null``, ``re`` (with ``i``/``m``/``s`` flags), ``cidr``,
``gt``/``gte``/``lt``/``lte``, ``neq``, ``exists``, ``fieldref`` and keyword
(field-less) searches. Anything else (placeholders, correlation rules,
timestamp parts, query expressions) is reported as a load error with the
reason; no rule is silently dropped.

Field names are matched as written in the rule (Sigma uses the log source's
names, e.g. ``Image``, ``CommandLine``); ``field_map`` renames them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .rules import AllOf, AnyOf, Condition, Field, Not, Rule

__all__ = ["load_sigma_file", "load_sigma", "sigma_rule_from_yaml", "SigmaConversionError"]

_LEVELS = {"informational", "low", "medium", "high", "critical"}


class SigmaConversionError(ValueError):
    """A Sigma construct this evaluator does not support (the message says which)."""


def _imports():
    try:
        import sigma.conditions as sc
        import sigma.types as st
        from sigma.collection import SigmaCollection
    except ImportError as exc:  # pragma: no cover - optional extra
        raise ImportError("Sigma rules need the 'pysigma' package: pip install pysigma") from exc
    return sc, st, SigmaCollection


def _string_to_field(field: str, value, st, cased: bool) -> Field:
    parts = list(value.s)
    for p in parts:
        if not isinstance(p, str) and type(p).__name__ == "Placeholder":
            raise SigmaConversionError(f"placeholder %{p.name}% needs a processing pipeline")
    ignore_case = not cased
    multi = st.SpecialChars.WILDCARD_MULTI
    single = st.SpecialChars.WILDCARD_SINGLE
    specials = [p for p in parts if not isinstance(p, str)]
    if not specials:
        return Field(field, "equals", ("".join(parts),), ignore_case=ignore_case)
    if single not in specials:
        inner = parts
        lead = inner and inner[0] == multi
        trail = inner and inner[-1] == multi
        middle = inner[1 if lead else 0: len(inner) - (1 if trail else 0)]
        if all(isinstance(p, str) for p in middle):
            text = "".join(middle)
            if lead and trail:
                return Field(field, "contains", (text,), ignore_case=ignore_case)
            if lead:
                return Field(field, "endswith", (text,), ignore_case=ignore_case)
            if trail:
                return Field(field, "startswith", (text,), ignore_case=ignore_case)
    rx = []
    for p in parts:
        if isinstance(p, str):
            rx.append(re.escape(p))
        elif p == multi:
            rx.append(".*")
        elif p == single:
            rx.append(".")
        else:  # pragma: no cover - future special characters
            raise SigmaConversionError(f"unsupported special character {p!r}")
    return Field(field, "regex", ("(?s)^" + "".join(rx) + "$",), ignore_case=ignore_case)


def _value_to_condition(field: str | None, value, sc, st) -> Condition:
    name = field if field is not None else "*"
    if isinstance(value, st.SigmaExpansion):
        return _merge(AnyOf(tuple(_value_to_condition(field, v, sc, st) for v in value.values)))
    if isinstance(value, st.SigmaString):
        leaf = _string_to_field(name, value, st, isinstance(value, st.SigmaCasedString))
        if field is None and leaf.op in ("equals", "startswith", "endswith"):
            # Keywords are full-text searches: a term anywhere in any field.
            leaf = Field(name, "contains", leaf.values, ignore_case=leaf.ignore_case)
        return leaf
    if isinstance(value, st.SigmaBool):
        return Field(name, "equals", ("true" if value.boolean else "false",), ignore_case=True)
    if isinstance(value, st.SigmaNumber):
        return Field(name, "equals", (str(value.number),))
    if isinstance(value, st.SigmaNull):
        return Field(name, "null")
    if isinstance(value, st.SigmaRegularExpression):
        flags = value.flags or set()
        F = st.SigmaRegularExpressionFlag
        prefix = ("(?m)" if F.MULTILINE in flags else "") + ("(?s)" if F.DOTALL in flags else "")
        pattern = value.regexp.to_plain() if hasattr(value.regexp, "to_plain") else str(value.regexp)
        return Field(name, "regex", (prefix + pattern,), ignore_case=F.IGNORECASE in flags)
    if isinstance(value, st.SigmaCIDRExpression):
        return Field(name, "cidr", (str(value.network),))
    if isinstance(value, st.SigmaCompareExpression):
        ops = value.CompareOperators
        number = value.number.number
        if value.op == ops.NEQ:
            return Not(Field(name, "equals", (str(number),)))
        op = {ops.LT: "lt", ops.LTE: "le", ops.GT: "gt", ops.GTE: "ge"}[value.op]
        return Field(name, op, (number,))
    if isinstance(value, st.SigmaExists):
        return Field(name, "exists", (bool(value.exists),))
    if isinstance(value, st.SigmaFieldReference):
        if getattr(value, "starts_with", False) or getattr(value, "ends_with", False):
            raise SigmaConversionError("fieldref with startswith/endswith is not supported")
        return Field(name, "fieldref", (value.field,), ignore_case=True)
    raise SigmaConversionError(f"unsupported Sigma value type {type(value).__name__}")


def _merge(node: Condition) -> Condition:
    """Merge sibling OR leaves on the same field and operator into one multi-value leaf."""
    if not isinstance(node, AnyOf):
        return node
    merged: dict[tuple, list] = {}
    order: list = []
    for arg in node.args:
        if isinstance(arg, Field) and arg.op in ("equals", "contains", "startswith", "endswith", "regex") \
                and not arg.match_all:
            key = (arg.field, arg.op, arg.ignore_case)
            if key not in merged:
                merged[key] = []
                order.append(key)
            merged[key].extend(arg.values)
        else:
            order.append(arg)
    args = tuple(Field(k[0], k[1], tuple(dict.fromkeys(merged[k])), ignore_case=k[2]) if isinstance(k, tuple) else k
                 for k in order)
    return args[0] if len(args) == 1 else AnyOf(args)


def _convert(node, sc, st) -> Condition:
    if isinstance(node, sc.ConditionAND):
        return AllOf(tuple(_convert(a, sc, st) for a in node.args))
    if isinstance(node, sc.ConditionOR):
        return _merge(AnyOf(tuple(_convert(a, sc, st) for a in node.args)))
    if isinstance(node, sc.ConditionNOT):
        return Not(_convert(node.args[0], sc, st))
    if isinstance(node, sc.ConditionFieldEqualsValueExpression):
        return _value_to_condition(node.field, node.value, sc, st)
    if isinstance(node, sc.ConditionValueExpression):
        return _value_to_condition(None, node.value, sc, st)
    raise SigmaConversionError(f"unsupported condition node {type(node).__name__}")


def _to_rule(sigma_rule, source: str, field_map: Mapping[str, str] | None, sc, st) -> Rule:
    conds = []
    for parsed in sigma_rule.detection.parsed_condition:
        conds.append(_convert(parsed.parse(), sc, st))
    cond = conds[0] if len(conds) == 1 else AnyOf(tuple(conds))
    if field_map:
        cond = _rename(cond, field_map)
    level = str(sigma_rule.level.name).lower() if sigma_rule.level is not None else "medium"
    if level not in _LEVELS:  # pragma: no cover - pySigma validates levels
        level = "medium"
    ls = sigma_rule.logsource
    logsource = {k: getattr(ls, k) for k in ("category", "product", "service") if getattr(ls, k, None)}
    rule_id = str(sigma_rule.id) if sigma_rule.id else f"sigma:{Path(source).stem}"
    return Rule(rule_id, cond, title=str(sigma_rule.title or ""), severity=level,
                tags=tuple(str(t) for t in sigma_rule.tags or ()), kind="sigma",
                provenance={"source": source, "format": "sigma", "logsource": logsource,
                            "status": str(sigma_rule.status.name).lower() if sigma_rule.status else None},
                description=str(sigma_rule.description or ""))


def _rename(cond: Condition, field_map: Mapping[str, str]) -> Condition:
    if isinstance(cond, Field):
        return Field(field_map.get(cond.field, cond.field), cond.op, cond.values, cond.ignore_case, cond.match_all)
    if isinstance(cond, AllOf):
        return AllOf(tuple(_rename(a, field_map) for a in cond.args))
    if isinstance(cond, AnyOf):
        return AnyOf(tuple(_rename(a, field_map) for a in cond.args))
    if isinstance(cond, Not):
        return Not(_rename(cond.arg, field_map))
    return cond


def sigma_rule_from_yaml(text: str, *, source: str = "<yaml>", field_map: Mapping[str, str] | None = None
                         ) -> tuple[list[Rule], list[dict]]:
    """Convert Sigma YAML text (one or more rules) to ``(rules, errors)``.

    Examples
    --------
    >>> rules, errors = sigma_rule_from_yaml('''
    ... title: Whoami
    ... id: 7d0b5e6f-0000-4000-8000-000000000001
    ... logsource: {category: process_creation, product: windows}
    ... detection:
    ...   sel: {Image|endswith: '\\\\whoami.exe'}
    ...   condition: sel
    ... level: low
    ... ''')
    >>> rules[0].condition, errors
    (Field(field='Image', op='endswith', values=('\\\\whoami.exe',), ignore_case=True, match_all=False), [])
    """
    sc, st, SigmaCollection = _imports()
    errors: list[dict] = []
    try:
        collection = SigmaCollection.from_yaml(text, collect_errors=True)
    except Exception as exc:  # noqa: BLE001 - YAML/structure errors name the source
        return [], [{"source": source, "line": getattr(getattr(exc, "source", None), "line", None),
                     "reason": f"{type(exc).__name__}: {exc}"}]
    rules: list[Rule] = []
    for item in collection.rules:
        name = type(item).__name__
        if name != "SigmaRule":
            errors.append({"source": source, "line": None,
                           "reason": f"{name} (correlation/filter rules) is not supported"})
            continue
        if item.errors:
            errors.append({"source": source, "line": None,
                           "reason": "; ".join(f"{type(e).__name__}: {e}" for e in item.errors)})
            continue
        try:
            rules.append(_to_rule(item, source, field_map, sc, st))
        except Exception as exc:  # noqa: BLE001 - every failure is recorded with its reason
            errors.append({"source": source, "line": None, "reason": f"{type(exc).__name__}: {exc}"})
    if collection.errors:
        for e in collection.errors:
            errors.append({"source": source, "line": None, "reason": f"{type(e).__name__}: {e}"})
    return rules, errors


def load_sigma_file(path, *, field_map: Mapping[str, str] | None = None) -> tuple[list[Rule], list[dict]]:
    """Load one Sigma YAML file; returns ``(rules, errors)``."""
    path = Path(path)
    return sigma_rule_from_yaml(path.read_text(encoding="utf-8", errors="replace"), source=str(path),
                                field_map=field_map)


def load_sigma(paths: Iterable, *, field_map: Mapping[str, str] | None = None) -> tuple[list[Rule], list[dict]]:
    """Load Sigma files and directories (``*.yml``/``*.yaml``, recursively).

    Duplicate rule ids keep the first rule; later ones are reported as errors.
    """
    rules: list[Rule] = []
    errors: list[dict] = []
    seen: set[str] = set()
    if isinstance(paths, (str, Path)):
        paths = [paths]
    for p in paths:
        p = Path(p)
        files = sorted(x for x in p.rglob("*") if x.suffix.lower() in (".yml", ".yaml")) if p.is_dir() else [p]
        for f in files:
            r, e = load_sigma_file(f, field_map=field_map)
            errors.extend(e)
            for rule in r:
                if rule.id in seen:
                    errors.append({"source": str(f), "line": None, "reason": f"duplicate rule id {rule.id}"})
                    continue
                seen.add(rule.id)
                rules.append(rule)
    return rules, errors
