"""Loaders for IOC list files and rule files.

Formats
-------
plain
    One indicator per line; ``#`` starts a comment line; anything after
    ``;`` or whitespace is a comment. The kind of each line is guessed (IP or
    CIDR, hash, URL, path, domain) unless ``kind`` is given.
hash (``ioc_signature_base/hash-iocs.txt``)
    ``hash;description``. Hashes that share a description become one rule.
c2 (``c2-iocs.txt``)
    ``domain-or-ip[;score]``; consecutive lines under one comment header
    become one rule titled by that header.
filename (``filename-iocs.txt``)
    ``regex;score[;false-positive-regex]`` over ``file_path``: one rule per
    line, severity from the score, titled by the preceding comment.
keywords (``keywords.txt``)
    Literal strings searched in payloads.

Every loader returns ``(rules, errors)``; an error is a dict
``{"source", "line", "reason"}``: nothing is dropped silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from ..exceptions import InvalidItemError
from .indicators import normalize_indicator
from .rules import Field, Indicator, Not, Rule, compile_regex

__all__ = ["load_ioc_file", "load_rule_source", "guess_kind", "score_to_severity", "parse_ioc_lines"]

_HEXLEN = {32, 40, 64}
_IPISH = re.compile(r"^[0-9a-fA-F:.]+(/\d{1,3})?$")


def score_to_severity(score: float) -> str:
    """Map a LOKI/THOR score (0-100+) to a severity name.

    Examples
    --------
    >>> [score_to_severity(s) for s in (10, 40, 60, 80, 100)]
    ['informational', 'low', 'medium', 'high', 'critical']
    """
    if score >= 100:
        return "critical"
    if score >= 75:
        return "high"
    if score >= 50:
        return "medium"
    if score >= 25:
        return "low"
    return "informational"


def guess_kind(value: str) -> str:
    """Indicator kind of one IOC string.

    Examples
    --------
    >>> [guess_kind(v) for v in ("10.0.0.1", "2001:db8::/32", "d41d8cd98f00b204e9800998ecf8427e",
    ...                          "http://x.org/a", "/tmp/*.sh", "evil.example")]
    ['ip', 'ip', 'hash', 'url', 'path', 'domain']
    """
    v = value.strip()
    low = v.lower()
    if len(v) in _HEXLEN and all(c in "0123456789abcdef" for c in low):
        return "hash"
    if _IPISH.match(v) and ("." in v or ":" in v) and not v.replace(".", "").isalpha():
        if any(c.isdigit() for c in v) and (v.count(".") == 3 or ":" in v):
            return "ip"
    if "://" in v:
        return "url"
    if v.startswith(("/", "~")) or "\\" in v or (len(v) > 2 and v[1] == ":"):
        return "path"
    if "/" in v:
        return "url"
    return "domain"


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            yield lineno, line.rstrip("\r\n")


def parse_ioc_lines(lines: Iterable[str], *, kind: str | None = None, source: str = "<lines>",
                    rule_id: str | None = None, severity: str = "high", title: str | None = None,
                    on_error: str = "record") -> tuple[list[Rule], list[dict]]:
    """Plain IOC list (one value a line) to one rule per kind.

    ``on_error="raise"`` raises :class:`~secml_detect.exceptions.InvalidItemError`
    naming ``source:line`` for the first malformed value.

    Examples
    --------
    >>> rules, errors = parse_ioc_lines(["# tor exits", "198.51.100.7", "bad..name", "evil.example ; c2"])
    >>> [(r.kind, r.condition.values) for r in rules], errors[0]["line"]
    ([('ip', ('198.51.100.7',)), ('domain', ('evil.example',))], 3)
    """
    values: dict[str, list[str]] = {}
    errors: list[dict] = []
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        value = re.split(r"[;\s]", line, maxsplit=1)[0]
        k = kind or guess_kind(value)
        try:
            normalize_indicator(k, value, where=f"{source}:{lineno}")
        except (InvalidItemError, ValueError) as exc:
            if on_error == "raise":
                raise InvalidItemError(lineno, f"{source}:{lineno}: {exc}", value) from None
            errors.append({"source": source, "line": lineno, "reason": str(exc)})
            continue
        values.setdefault(k, []).append(value)
    stem = rule_id or Path(source).stem
    rules = [Rule(f"{stem}:{k}" if len(values) > 1 or rule_id is None else stem,
                  Indicator(k, tuple(v)), title=title or f"{Path(source).name} ({k})", severity=severity, kind=k,
                  provenance={"source": source, "format": "plain"})
             for k, v in values.items()]
    return rules, errors


def _load_hash(path: Path) -> tuple[list[Rule], list[dict]]:
    groups: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    errors = []
    for lineno, line in _lines(path):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        value, _, desc = s.partition(";")
        try:
            normalize_indicator("hash", value, where=f"{path}:{lineno}")
        except InvalidItemError as exc:
            errors.append({"source": str(path), "line": lineno, "reason": str(exc)})
            continue
        desc = desc.strip() or "known malicious file"
        groups.setdefault(desc, []).append(value)
        first_line.setdefault(desc, lineno)
    rules = [Rule(f"{path.stem}:{first_line[d]}", Indicator("hash", tuple(v)), title=d, severity="high", kind="hash",
                  provenance={"source": str(path), "line": first_line[d], "format": "ioc_signature_base hash"})
             for d, v in groups.items()]
    return rules, errors


def _load_c2(path: Path) -> tuple[list[Rule], list[dict]]:
    rules: list[Rule] = []
    errors: list[dict] = []
    header = "C2 indicators"
    block: dict[tuple[str, str], list[str]] = {}
    block_line = 0

    def flush():
        for (k, sev), vals in block.items():
            rules.append(Rule(f"{path.stem}:{block_line}:{k}", Indicator(k, tuple(vals)), title=header, severity=sev,
                              kind=k, provenance={"source": str(path), "line": block_line,
                                                  "format": "ioc_signature_base c2"}))
        block.clear()

    for lineno, line in _lines(path):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            text = s.lstrip("#").strip()
            if text:
                flush()
                header, block_line = text, lineno
            continue
        value, _, score = s.partition(";")
        value = value.strip()
        k = guess_kind(value)
        if k not in ("ip", "domain", "url"):
            k = "domain"
        try:
            normalize_indicator(k, value, where=f"{path}:{lineno}")
            sev = score_to_severity(float(score)) if score.strip() else "high"
        except (InvalidItemError, ValueError) as exc:
            errors.append({"source": str(path), "line": lineno, "reason": str(exc)})
            continue
        if not block:
            block_line = block_line or lineno
        block.setdefault((k, sev), []).append(value)
    flush()
    return rules, errors


def _load_filename(path: Path) -> tuple[list[Rule], list[dict]]:
    rules: list[Rule] = []
    errors: list[dict] = []
    header = "suspicious file name"
    for lineno, line in _lines(path):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            text = s.lstrip("#").strip()
            if text:
                header = text
            continue
        parts = s.split(";")
        if len(parts) < 2:
            errors.append({"source": str(path), "line": lineno, "reason": "expected REGEX;SCORE[;FP-REGEX]"})
            continue
        regex, score = parts[0], parts[1]
        fp = ";".join(parts[2:]) if len(parts) > 2 else ""
        try:
            sev = score_to_severity(float(score))
            compile_regex(regex)
            cond = Field("file_path", "regex", (regex,))
            if fp:
                compile_regex(fp)
                cond = cond & Not(Field("file_path", "regex", (fp,)))
        except Exception as exc:  # noqa: BLE001 - any compile error is recorded with its line
            errors.append({"source": str(path), "line": lineno, "reason": f"{type(exc).__name__}: {exc}"})
            continue
        rules.append(Rule(f"{path.stem}:{lineno}", cond, title=header, severity=sev, kind="path",
                          provenance={"source": str(path), "line": lineno, "format": "ioc_signature_base filename"}))
    return rules, errors


def _load_keywords(path: Path) -> tuple[list[Rule], list[dict]]:
    values = [s.strip() for _, s in _lines(path) if s.strip() and not s.strip().startswith("#")]
    return [Rule(f"{path.stem}:keywords", Indicator("pattern", tuple(values)), title="suspicious keyword",
                 severity="medium", kind="pattern", provenance={"source": str(path), "format": "keywords"})], []


_FORMATS = {"hash": _load_hash, "c2": _load_c2, "filename": _load_filename, "keywords": _load_keywords}


def load_ioc_file(path, *, format: str = "auto", kind: str | None = None) -> tuple[list[Rule], list[dict]]:
    """Load an IOC file (see the module docstring for the formats).

    ``format="auto"`` recognises ioc_signature_base file names
    (``hash-iocs``, ``c2-iocs``, ``filename-iocs``, ``keywords``) and reads
    anything else as a plain list.
    """
    path = Path(path)
    if format == "auto":
        name = path.name.lower()
        format = next((f for f in ("hash", "c2", "filename") if name.startswith(f)), None) or (
            "keywords" if name.startswith("keywords") else "plain")
    if format == "plain":
        return parse_ioc_lines((line for _, line in _lines(path)), kind=kind, source=str(path))
    if format not in _FORMATS:
        raise ValueError(f"unknown IOC file format {format!r}")
    return _FORMATS[format](path)


def load_rule_source(source, *, field_map=None) -> tuple[list[Rule], list[dict]]:
    """Load any supported rule file or directory by its suffix; returns ``(rules, errors)``.

    ``field_map`` renames Sigma fields to the event's own names (for example
    ``{"Image": "process", "CommandLine": "cmdline"}``).
    """
    path = Path(source)
    if path.is_dir():
        rules: list[Rule] = []
        errors: list[dict] = []
        for p in sorted(path.rglob("*")):
            if p.is_file() and p.suffix.lower() in (".yml", ".yaml", ".yar", ".yara", ".jsonl"):
                r, e = load_rule_source(p, field_map=field_map)
                rules.extend(r)
                errors.extend(e)
        return rules, errors
    suffix = path.suffix.lower()
    if suffix in (".yml", ".yaml"):
        from .sigma import load_sigma_file

        return load_sigma_file(path, field_map=field_map)
    if suffix in (".yar", ".yara"):
        from .yara import load_yara_file

        return load_yara_file(path)
    if suffix in (".jsonl", ".json"):
        rules, errors = [], []
        for lineno, line in _lines(path):
            if not line.strip():
                continue
            try:
                rules.append(Rule.from_dict(json.loads(line)))
            except (ValueError, TypeError, KeyError) as exc:
                errors.append({"source": str(path), "line": lineno, "reason": str(exc)})
        return rules, errors
    return load_ioc_file(path)
