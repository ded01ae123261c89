"""Slow, obvious references for the IP kernels (plain Python + :mod:`ipaddress`).

Each function computes one thing the fast path computes, by the most direct
route: parse with ``ipaddress``, count with loops, scan lists linearly.
"""

from __future__ import annotations

import ipaddress
import math

LEVEL_BITS = {4: (8, 16, 20, 24, 32), 6: (16, 32, 48, 56, 64)}
TOR_BITS = {4: (32, 24, 16), 6: (64, 56, 32)}
WIDTH = {4: 32, 6: 64}


def parse(item):
    """``(kind, value)``: kind 4 or 6 (value: the int, IPv6 reduced to its top 64 bits), or ``(0, None)``."""
    if isinstance(item, bool):
        return 0, None
    if isinstance(item, int):
        if 0 <= item < 2**32:
            return 4, item
        if 2**32 <= item < 2**128:
            return 6, item >> 64
        return 0, None
    if isinstance(item, bytes):
        try:
            item = item.decode("ascii")
        except UnicodeDecodeError:
            return 0, None
    if not isinstance(item, str):
        return 0, None
    text = item.strip()
    if len(text) > 2 and text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return _inet_aton(text)
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return 4, int(addr.ipv4_mapped)
    return addr.version, int(addr) if addr.version == 4 else int(addr) >> 64


def same_prefix(a: int, b: int, bits: int, width: int) -> bool:
    return (a >> (width - bits)) == (b >> (width - bits))


def common_prefix(a: int, b: int, width: int) -> int:
    x = a ^ b
    return width - x.bit_length()


def level_counts(train, query, exclude=None):
    """[(bad, benign)] per level for ``query = (kind, value)`` among ``train = [(kind, value, y)]``."""
    kind, value = query
    width = WIDTH[kind]
    out = []
    for bits in LEVEL_BITS[kind]:
        bad = sum(1 for k, v, y in train if k == kind and y == 1 and same_prefix(v, value, bits, width))
        ben = sum(1 for k, v, y in train if k == kind and y == 0 and same_prefix(v, value, bits, width))
        if exclude is not None:
            bad -= exclude
            ben -= 1 - exclude
        out.append((bad, ben))
    return out


def nearest_bad(train, query, exclude_self=False):
    """``(log2(1 + distance) / width, common prefix / width)`` to the nearest other bad address."""
    kind, value = query
    width = WIDTH[kind]
    bad = [v for k, v, y in train if k == kind and y == 1]
    if exclude_self and value in bad:
        bad.remove(value)
    if not bad:
        return 1.0, 0.0
    dist = min(abs(value - b) for b in bad)
    cpl = max(common_prefix(value, b, width) for b in bad)
    return math.log2(1 + dist) / width, cpl / width


def innermost_range(ranges, query):
    """``(provider, network)`` of the smallest published range holding the query, or ``None``.

    ``ranges`` are ``(provider, cidr)`` pairs; for identical networks the first
    provider listed wins. IPv6 ranges are compared on the top 64 bits.
    """
    kind, value = query
    best = None
    seen = set()
    for provider, cidr in ranges:
        net = ipaddress.ip_network(cidr, strict=False)
        if net.version != kind:
            continue
        if kind == 4:
            lo, hi = int(net.network_address), int(net.broadcast_address)
        else:
            lo, hi = int(net.network_address) >> 64, int(net.broadcast_address) >> 64
        if (lo, hi) in seen:
            continue
        seen.add((lo, hi))
        if lo <= value <= hi and (best is None or hi - lo < best[2] - best[1]):
            best = (provider, lo, hi)
    return best


def provider_counts(train, ranges, query, exclude=None):
    """``[(bad, benign)]`` of the query's provider and range among training addresses in any range."""
    inner = innermost_range(ranges, query)
    if inner is None:
        return [(0, 0), (0, 0)]
    out = []
    for level in (0, 1):
        bad = ben = 0
        for k, v, y in train:
            other = innermost_range(ranges, (k, v))
            if other is None:
                continue
            same = other[0] == inner[0] if level == 0 else other == inner
            if same:
                bad += y == 1
                ben += y == 0
        if exclude is not None:
            bad -= exclude
            ben -= 1 - exclude
        out.append((bad, ben))
    return out


def tor_counts(tor, query):
    """``(exact, same /24, same /16)`` counts of Tor exits (IPv6: /64, /56, /32 of the top bits)."""
    kind, value = query
    width = WIDTH[kind]
    return tuple(sum(1 for k, v in tor if k == kind and same_prefix(v, value, bits, width))
                 for bits in TOR_BITS[kind])


def _inet_aton(text):
    """C's inet_aton, written out: 1-4 parts (decimal, 0x hex, 0 octal), the last fills the rest."""
    if not text or not text.isascii() or len(text) > 64:
        return 0, None
    parts = text.split(".")
    if len(parts) > 4:
        return 0, None
    values = []
    for p in parts:
        try:
            if p.lower().startswith("0x"):
                values.append(int(p[2:], 16))  # "0x" alone is refused, as by C
            elif len(p) > 1 and p.startswith("0"):
                values.append(int(p[1:], 8))
            elif p.isdigit():
                values.append(int(p))
            else:
                return 0, None
        except ValueError:
            return 0, None
    head, last = values[:-1], values[-1]
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return 0, None
    value = 0
    for v in head:
        value = value * 256 + v
    return 4, value * 256 ** (4 - len(head)) + last


def pairwise_score(row, w, b, pairs, w_pair):
    """``b + sum_j row[j] * w[j] + sum_p w_pair[p] * row[a_p] * row[b_p]``, term by term."""
    total = b
    for value, weight in zip(row, w):
        total += value * weight
    for (a, c), weight in zip(pairs, w_pair):
        total += weight * row[a] * row[c]
    return total
