"""Export the current indicators as plain IOC lists and STIX 2.1 indicators."""

from __future__ import annotations

import json
from collections.abc import Iterable

from .indicators import normalize_indicator
from .rules import Indicator, Rule

__all__ = ["to_ioc_lists", "to_stix", "stix_pattern"]

_HASH_NAMES = {32: "MD5", 40: "SHA-1", 64: "SHA-256"}


def to_ioc_lists(rules: Iterable[Rule]) -> dict[str, list[str]]:
    """``{kind: sorted unique normalised values}`` over the indicator rules."""
    out: dict[str, set[str]] = {}
    for rule in rules:
        cond = rule.condition
        if isinstance(cond, Indicator):
            bucket = out.setdefault(cond.kind, set())
            for v in cond.values:
                norm = normalize_indicator(cond.kind, v)
                bucket.add(norm.decode("utf-8", "backslashreplace") if isinstance(norm, bytes) else norm)
    return {k: sorted(v) for k, v in out.items()}


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def stix_pattern(kind: str, value) -> str:
    """STIX 2.1 pattern of one normalised indicator value.

    Examples
    --------
    >>> stix_pattern("ip", "10.0.0.0/8")
    "[ipv4-addr:value = '10.0.0.0/8']"
    """
    if kind == "ip":
        return f"[{'ipv6-addr' if ':' in value else 'ipv4-addr'}:value = {_quote(value)}]"
    if kind == "domain":
        return f"[domain-name:value = {_quote(value)}]"
    if kind == "url":
        return f"[url:value = {_quote(value)}]"
    if kind == "hash":
        return f"[file:hashes.'{_HASH_NAMES[len(value)]}' = {_quote(value)}]"
    if kind == "path":
        op = "LIKE" if any(c in value for c in "*?") else "="
        v = value.replace("*", "%").replace("?", "_") if op == "LIKE" else value
        return f"[file:name {op} {_quote(v)}]"
    if kind == "process":
        return f"[process:name = {_quote(value)}]"
    if kind == "pattern":
        text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
        return f"[artifact:payload_bin MATCHES {_quote(_re_escape(text))}]"
    raise ValueError(f"no STIX pattern for kind {kind!r}")


def _re_escape(text: str) -> str:
    import re

    return re.escape(text)


def to_stix(rules: Iterable[Rule]) -> list[dict]:
    """One STIX 2.1 ``indicator`` per indicator value, as dicts (validated by stix2).

    The rule id, title, severity and provenance are kept in the indicator's
    ``name``, ``labels`` and the ``x_secml_detect`` custom property.
    """
    try:
        import stix2
    except ImportError as exc:  # pragma: no cover - optional
        raise ImportError("STIX export needs the 'stix2' package: pip install stix2") from exc
    out = []
    for rule in rules:
        cond = rule.condition
        if not isinstance(cond, Indicator):
            continue
        for v in cond.values:
            norm = normalize_indicator(cond.kind, v)
            ind = stix2.v21.Indicator(
                name=f"{rule.title or rule.id}: {norm if isinstance(norm, str) else norm.decode('utf-8', 'backslashreplace')}",
                pattern=stix_pattern(cond.kind, norm),
                pattern_type="stix",
                indicator_types=["malicious-activity"],
                labels=[f"severity:{rule.severity}", *rule.tags],
                custom_properties={"x_secml_detect": {"rule_id": rule.id, "kind": cond.kind,
                                                      "provenance": rule.provenance}},
                allow_custom=True,
            )
            out.append(json.loads(ind.serialize()))
    return out
