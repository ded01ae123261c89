"""Slow, obvious references for the signature kernels and indexes."""

from __future__ import annotations

import ipaddress


def parse_ipv4(item: bytes) -> int | None:
    """The address as an int, or None when ``ipaddress`` refuses it (strict dotted quad)."""
    try:
        text = item.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text or not all(c.isdigit() and c.isascii() or c == "." for c in text):
        return None
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def parse_ipv4_cidr(item: bytes) -> tuple[int, int] | None:
    try:
        text = item.decode("ascii")
    except UnicodeDecodeError:
        return None
    addr, slash, plen = text.partition("/")
    value = parse_ipv4(addr.encode())
    if value is None:
        return None
    if not slash:
        return value, 32
    if not plen or len(plen) > 2 or not plen.isdigit() or not plen.isascii() or (len(plen) == 2 and plen[0] == "0"):
        return None
    if int(plen) > 32:
        return None
    return value, int(plen)


def containing_networks(address: str, networks: list[str]) -> set[str]:
    """Networks (strings) that contain ``address``, using :mod:`ipaddress`."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return set()
    # An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is also that IPv4 address.
    mapped = ip.ipv4_mapped if ip.version == 6 else None
    out = set()
    for net in networks:
        n = ipaddress.ip_network(net, strict=False)
        if (n.version == ip.version and ip in n) or (mapped is not None and n.version == 4 and mapped in n):
            out.add(net)
    return out


def hex_key(item: bytes) -> tuple[int, int, int] | None:
    """(hi, lo, n_digits) of a hex digest item, ignoring surrounding ASCII blanks; None when invalid."""
    text = item.strip(b" \t\r\x0b\x0c")
    if len(text) not in (32, 40, 64) or not all(c in b"0123456789abcdefABCDEF" for c in text):
        return None
    return int(text[:16], 16), int(text[16:32], 16), len(text)


def innermost_network(address: int, networks: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The smallest ``(start, end)`` range holding ``address`` (ranges nested or disjoint), or None."""
    holding = [(s, e) for s, e in networks if s <= address <= e]
    return min(holding, key=lambda r: r[1] - r[0]) if holding else None
