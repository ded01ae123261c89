"""Tolerant IPv4 parsing for the notations attackers use to dodge exact matches.

``inet_aton`` (what C resolvers, browsers and ``ping`` accept) reads
``3232235777``, ``0xC0A80101``, ``0300.0250.01.01`` and ``192.168.257``
as addresses: one to four parts, each decimal, ``0x`` hexadecimal or
``0``-prefixed octal, the last part filling the remaining bytes. Log lines
and rule values also carry zero-padded decimal quads (``010.001.002.003``),
which ``inet_aton`` reads as octal. :func:`ipv4_candidates` returns every
reading, so a rule matches whichever one the client used.
"""

from __future__ import annotations

import ipaddress

__all__ = ["inet_aton_value", "ipv4_candidates"]

_MAX_TEXT = 64
_C_SPACE = " \t\n\r\v\f"


def _part(text: str) -> int | None:
    try:
        if text[:2].lower() == "0x":
            return int(text[2:], 16) if len(text) > 2 else None  # C refuses a bare "0x"
        if len(text) > 1 and text[0] == "0":
            return int(text[1:], 8)
        return int(text, 10) if text.isdigit() else None
    except ValueError:
        return None


def inet_aton_value(text: str) -> int | None:
    """The IPv4 address ``inet_aton`` would read in ``text``, or None.

    Examples
    --------
    >>> [inet_aton_value(t) for t in ("3232235777", "0xC0A80101", "0300.0250.01.01", "192.168.257", "a.b")]
    [3232235777, 3232235777, 3232235777, 3232235777, None]
    """
    text = text.strip(_C_SPACE)  # str.strip() would also drop \x1c-\x1f, which C does not
    if not text or not text.isascii() or len(text) > _MAX_TEXT or text.startswith(".") or text.endswith("."):
        return None  # int() would read non-ASCII digits such as fullwidth ones
    parts = text.split(".")
    if len(parts) > 4:
        return None
    values = [_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    out = 0
    for v in head:
        out = (out << 8) | v
    return (out << (8 * (4 - len(head)))) | last


def ipv4_candidates(text: str) -> list[int]:
    """Every IPv4 value a client might read in ``text`` (empty when none).

    Examples
    --------
    >>> [str(ipaddress.IPv4Address(v)) for v in ipv4_candidates("010.001.002.003")]
    ['8.1.2.3', '10.1.2.3']
    >>> ipv4_candidates("::ffff:1.2.3.4") == [16909060]
    True
    """
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        return []
    text = text.strip(_C_SPACE).strip("[]")
    out: list[int] = []
    aton = inet_aton_value(text)
    if aton is not None:
        out.append(aton)
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        decimal = int(ipaddress.IPv4Address(".".join(str(int(p)) for p in parts)))
        if decimal not in out:
            out.append(decimal)
    if ":" in text:
        try:
            mapped = ipaddress.IPv6Address(text).ipv4_mapped
        except ValueError:
            mapped = None
        if mapped is not None:
            out.append(int(mapped))
    return out
