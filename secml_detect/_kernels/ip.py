"""Kernels for IPv4 text and address ranges over ragged ``uint8`` buffers.

* :func:`parse_ipv4` parses dotted quads (``"192.0.2.1"``) into ``uint32``;
  it is the one IPv4 parser of the package (the URL and IP detectors reuse it).
* :func:`parse_ipv4_cidr` parses ``a.b.c.d`` or ``a.b.c.d/n``.
* :func:`build_prefix_forest` / :func:`lookup_prefix_forest` answer "which
  CIDR prefixes contain this address" for millions of queries: CIDR blocks are
  either nested or disjoint, so the unique prefixes sorted by start form a
  forest, and a query is one binary search plus a short walk up the parents
  (at most 32 steps).
* :func:`build_flat_forest` / :func:`lookup_flat` give the same answer from the
  forest flattened into elementary intervals (a /16 jump table and one binary
  search, no walk); :func:`lookup_ipv4_lines` fuses it with the parser over a
  ``\\n``-joined buffer of query strings. :func:`build_hit_bounds` /
  :func:`contains_ipv4_lines` answer membership alone from the alternating
  inside/outside runs of the union of the ranges (4 bytes per run).

The parser is strict, like :mod:`ipaddress`: exactly four decimal octets of one
to three digits, each at most 255, no sign, no spaces, and no leading zero in
a multi-digit octet (``"01.2.3.4"`` is refused: it is octal to some parsers
and decimal to others, a classic filter bypass).
"""

from __future__ import annotations

import numpy as np

from .config import njit

__all__ = [
    "parse_ipv4",
    "parse_ipv4_cidr",
    "build_prefix_forest",
    "lookup_prefix_forest",
    "lookup_prefix_forest_jump",
    "jump_table_16",
    "format_ipv4",
    "build_flat_forest",
    "lookup_flat",
    "lookup_ipv4_lines",
    "build_hit_bounds",
    "contains_hit_bounds",
    "contains_ipv4_lines",
]


@njit
def _parse_quad(data, start, stop):
    """``(value, ok, end)`` of a dotted quad at ``data[start:stop]``; ``end`` is one past its last byte."""
    value = np.uint32(0)
    k = start
    for part in range(4):
        if part > 0:
            if k >= stop or data[k] != 46:  # '.'
                return value, False, k
            k += 1
        n_digits = 0
        octet = 0
        first = k
        while k < stop and 48 <= data[k] <= 57 and n_digits < 4:
            octet = octet * 10 + (data[k] - 48)
            n_digits += 1
            k += 1
        if n_digits == 0 or n_digits > 3 or octet > 255:
            return value, False, k
        if n_digits > 1 and data[first] == 48:  # leading zero
            return value, False, k
        value = np.uint32((value << np.uint32(8)) | np.uint32(octet))
    return value, True, k


@njit
def parse_ipv4(data, offsets):
    """Parse each item of a ragged ``uint8`` batch as a dotted-quad IPv4 address.

    Parameters
    ----------
    data : ndarray of uint8
    offsets : ndarray of int64, shape (n + 1,)

    Returns
    -------
    values : ndarray of uint32, shape (n,)
        The address as a big-endian integer (``1.2.3.4`` -> ``0x01020304``);
        0 where invalid.
    valid : ndarray of bool, shape (n,)
        True where the whole item is a valid address.
    """
    n = offsets.shape[0] - 1
    values = np.zeros(n, dtype=np.uint32)
    valid = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        start = offsets[i]
        stop = offsets[i + 1]
        value, ok, end = _parse_quad(data, start, stop)
        if ok and end == stop:
            values[i] = value
            valid[i] = True
    return values, valid


@njit
def parse_ipv4_cidr(data, offsets):
    """Parse each item as ``a.b.c.d`` or ``a.b.c.d/n`` (``0 <= n <= 32``, no leading zero).

    Host bits are kept as written; compare with the masked network to refuse
    them (``network & mask != network``).

    Returns
    -------
    addresses : ndarray of uint32, shape (n,)
    prefixlen : ndarray of int64, shape (n,)
        32 for a bare address.
    valid : ndarray of bool, shape (n,)
    """
    n = offsets.shape[0] - 1
    addresses = np.zeros(n, dtype=np.uint32)
    prefixlen = np.full(n, 32, dtype=np.int64)
    valid = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        start = offsets[i]
        stop = offsets[i + 1]
        value, ok, end = _parse_quad(data, start, stop)
        if not ok:
            continue
        if end == stop:
            addresses[i] = value
            valid[i] = True
            continue
        if data[end] != 47:  # '/'
            continue
        k = end + 1
        if k >= stop or stop - k > 2:
            continue
        plen = 0
        good = True
        for j in range(k, stop):
            if not 48 <= data[j] <= 57:
                good = False
                break
            plen = plen * 10 + (data[j] - 48)
        if not good or plen > 32 or (stop - k == 2 and data[k] == 48):
            continue
        addresses[i] = value
        prefixlen[i] = plen
        valid[i] = True
    return addresses, prefixlen, valid


def prefix_mask(prefixlen: np.ndarray) -> np.ndarray:
    """``uint32`` netmasks of an array of prefix lengths (0..32)."""
    plen = np.asarray(prefixlen, dtype=np.int64)
    return np.where(plen == 0, 0, (np.uint64(0xFFFFFFFF) << (32 - plen).astype(np.uint64)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def build_prefix_forest(starts: np.ndarray, ends: np.ndarray):
    """Order unique ranges and link each to the smallest range containing it.

    Parameters
    ----------
    starts, ends : ndarray of uint32 (or uint64), inclusive bounds
        Unique ranges that are pairwise nested or disjoint (CIDR blocks are).

    Returns
    -------
    order : ndarray of int64
        Permutation sorting the ranges by ``(start, -size)``.
    parent : ndarray of int64
        For the sorted range ``j``, the sorted position of its parent, or -1.
    """
    starts = np.asarray(starts)
    ends = np.asarray(ends)
    order = np.lexsort((-(ends.astype(np.int64) - starts.astype(np.int64)), starts)).astype(np.int64)
    parent = _link_parents(starts[order], ends[order])
    return order, parent


@njit
def _link_parents(starts, ends):
    n = starts.shape[0]
    parent = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n + 1, dtype=np.int64)
    top = 0
    for j in range(n):
        while top > 0 and ends[stack[top - 1]] < starts[j]:
            top -= 1
        if top > 0:
            parent[j] = stack[top - 1]
        stack[top] = j
        top += 1
    return parent


@njit
def lookup_prefix_forest(queries, valid, starts, ends, parent):
    """Innermost sorted range containing each query, or -1.

    Parameters
    ----------
    queries : ndarray of uint32
    valid : ndarray of bool
        Queries flagged False get -1.
    starts, ends, parent : the sorted forest from :func:`build_prefix_forest`.

    Returns
    -------
    ndarray of int64
        Sorted position of the innermost containing range (walk ``parent`` for
        the others), -1 when none contains the query.
    """
    n = queries.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    m = starts.shape[0]
    if m == 0:
        return out
    for i in range(n):
        if not valid[i]:
            continue
        q = queries[i]
        # last position with start <= q
        lo = 0
        hi = m
        while lo < hi:
            mid = (lo + hi) >> 1
            if starts[mid] <= q:
                lo = mid + 1
            else:
                hi = mid
        j = lo - 1
        while j >= 0 and ends[j] < q:
            j = parent[j]
        out[i] = j
    return out


@njit
def lookup_prefix_forest_jump(queries, valid, starts, ends, parent, jump):
    """:func:`lookup_prefix_forest` with a /16 jump table."""
    n = queries.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    if starts.shape[0] == 0:
        return out
    for i in range(n):
        if not valid[i]:
            continue
        q = queries[i]
        b = q >> np.uint32(16)
        lo = jump[b]
        hi = jump[b + 1]
        while lo < hi:
            mid = (lo + hi) >> 1
            if starts[mid] <= q:
                lo = mid + 1
            else:
                hi = mid
        j = lo - 1
        while j >= 0 and ends[j] < q:
            j = parent[j]
        out[i] = j
    return out


def jump_table_16(sorted_starts):
    """``jump[b]`` = number of sorted starts below ``b << 16`` (65,537 entries)."""
    return np.searchsorted(sorted_starts, np.arange(65537, dtype=np.uint64) << np.uint64(16)).astype(np.int64)


def format_ipv4(value: int) -> str:
    """Dotted quad of a ``uint32`` address."""
    v = int(value)
    return f"{v >> 24 & 255}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"


@njit
def split_lines(data, n_items):
    """Split a ``\\n``-joined buffer of ``n_items`` items into a ragged batch (separators dropped).

    Returns ``(flat, offsets)``: the items' bytes and ``int64`` offsets of
    length ``n_items + 1``. The caller guarantees exactly ``n_items - 1``
    separators.
    """
    flat = np.empty(data.shape[0] - max(n_items - 1, 0), dtype=np.uint8)
    offsets = np.zeros(n_items + 1, dtype=np.int64)
    j = 0
    item = 0
    for k in range(data.shape[0]):
        b = data[k]
        if b == 10:
            item += 1
            offsets[item] = j
        else:
            flat[j] = b
            j += 1
    offsets[n_items] = j
    return flat, offsets


@njit
def parse_ipv4_lines(data, n_items):
    """:func:`parse_ipv4` over ``n_items`` items joined by ``\\n``, in one pass (no ragged copy).

    Returns ``values, valid, ok``; ``ok`` is False when the buffer does not
    hold exactly ``n_items`` lines (an item contained ``\\n``), and then the
    results must be discarded.
    """
    values = np.zeros(n_items, dtype=np.uint32)
    valid = np.zeros(n_items, dtype=np.bool_)
    m = data.shape[0]
    k = 0
    for i in range(n_items):
        value = np.uint32(0)
        part = 0
        ndig = 0
        octet = 0
        first_zero = False
        ok = True
        while k < m:
            b = data[k]
            if b == 10:
                break
            if ok:
                if 48 <= b <= 57:
                    if ndig == 0:
                        first_zero = b == 48
                    elif first_zero:
                        ok = False
                    octet = octet * 10 + (b - 48)
                    ndig += 1
                    if ndig > 3 or octet > 255:
                        ok = False
                elif b == 46 and ndig > 0 and part < 3:
                    value = np.uint32((value << np.uint32(8)) | np.uint32(octet))
                    part += 1
                    ndig = 0
                    octet = 0
                else:
                    ok = False
            k += 1
        if ok and part == 3 and ndig > 0:
            values[i] = np.uint32((value << np.uint32(8)) | np.uint32(octet))
            valid[i] = True
        k += 1
    return values, valid, n_items == 0 or k == m + 1


# -- flattened forest: elementary intervals ------------------------------------
#
# The nested/disjoint ranges of a prefix forest cut the address space into at
# most ``2 n + 1`` elementary intervals, each with one innermost range (or
# none). One ``uint64`` per interval packs ``start << 32 | (innermost + 1)``,
# so a lookup is a /16 jump-table read plus a binary search over the few
# intervals of that /16 in one array: two cache misses, no parent walk.


@njit
def _flatten_forest(starts, ends):
    n = starts.shape[0]
    bounds = np.zeros(2 * n + 1, dtype=np.uint64)
    inner = np.full(2 * n + 1, -1, dtype=np.int64)
    stack = np.empty(n + 1, dtype=np.int64)
    top = 0
    k = 1  # interval 0 starts at address 0 with no range
    for j in range(n + 1):
        s = np.uint64(starts[j]) if j < n else np.uint64(1) << np.uint64(33)
        while top > 0 and np.uint64(ends[stack[top - 1]]) < s:
            pos = np.uint64(ends[stack[top - 1]]) + np.uint64(1)
            top -= 1
            val = stack[top - 1] if top > 0 else -1
            # emit (pos, val)
            if bounds[k - 1] == pos:
                inner[k - 1] = val
                if k >= 2 and inner[k - 2] == val:
                    k -= 1
            elif inner[k - 1] != val:
                bounds[k] = pos
                inner[k] = val
                k += 1
        if j == n:
            break
        if bounds[k - 1] == s:
            inner[k - 1] = j
            if k >= 2 and inner[k - 2] == j:
                k -= 1
        else:
            bounds[k] = s
            inner[k] = j
            k += 1
        stack[top] = j
        top += 1
    return bounds[:k], inner[:k]


def build_flat_forest(starts: np.ndarray, ends: np.ndarray):
    """Elementary intervals of a sorted prefix forest, packed for :func:`lookup_flat`.

    Parameters
    ----------
    starts, ends : ndarray of uint32
        The sorted forest of :func:`build_prefix_forest` (``starts[order]``,
        ``ends[order]``).

    Returns
    -------
    packed : ndarray of uint64
        ``interval_start << 32 | (innermost sorted position + 1)``, sorted;
        the first interval starts at 0.
    jump : ndarray of int32, shape (65537,)
        ``jump[b]``: the interval holding address ``b << 16`` (the last one
        for ``b = 65536``).
    """
    bounds, inner = _flatten_forest(np.asarray(starts, dtype=np.uint32), np.asarray(ends, dtype=np.uint32))
    keep = bounds < np.uint64(1 << 32)
    bounds, inner = bounds[keep], inner[keep]
    packed = (bounds << np.uint64(32)) | (inner + 1).astype(np.uint64)
    jump = (np.searchsorted(bounds, np.arange(65537, dtype=np.uint64) << np.uint64(16), side="right") - 1).astype(np.int32)
    return packed, jump


@njit
def _flat_find(q, packed, jump):
    b = q >> np.uint32(16)
    lo = np.int64(jump[b])
    hi = np.int64(jump[b + 1])
    key = (np.uint64(q) << np.uint64(32)) | np.uint64(0xFFFFFFFF)
    # last interval in [lo, hi] starting at or below q (interval lo does); branch-free steps
    n = hi - lo + 1
    while n > 1:
        half = n >> 1
        lo = lo + half if packed[lo + half] <= key else lo
        n -= half
    return np.int64(packed[lo] & np.uint64(0xFFFFFFFF)) - 1


@njit
def lookup_flat(queries, valid, packed, jump):
    """:func:`lookup_prefix_forest` (same output) over a :func:`build_flat_forest` table."""
    n = queries.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if valid[i]:
            out[i] = _flat_find(queries[i], packed, jump)
    return out


@njit(inline="always")
def _octet_fast(data, k):
    """``(octet, n_digits, good)`` of the 1-3 digits at ``data[k:]`` without branches (``k`` unsigned)."""
    c0 = np.int64(data[k]) - 48
    c1 = np.int64(data[k + np.uint64(1)]) - 48
    c2 = np.int64(data[k + np.uint64(2)]) - 48
    i1 = np.int64((c1 >= 0) & (c1 <= 9))
    i2 = i1 & np.int64((c2 >= 0) & (c2 <= 9))
    # c0 | 10 c0 + c1 | 100 c0 + 10 c1 + c2
    octet = c0 * (1 + 9 * i1 + 90 * i2) + c1 * i1 * (1 + 9 * i2) + c2 * i2
    d = np.uint64(1 + i1 + i2)
    good = (c0 >= 0) & (c0 <= 9) & (octet <= 255) & ((d == np.uint64(1)) | (c0 != 0))  # no leading zero
    return octet, d, good


@njit(inline="always")
def _quad_line_fast(data, start):
    """Branch-free parse of a dotted quad ending in ``\\n`` at ``data[start:]`` (needs ``start + 16 <= len(data)``).

    ``(value, good, end)``: ``good`` only when the bytes are exactly a valid
    quad then a newline at ``end``; otherwise the caller re-parses the item
    with :func:`_parse_quad` (so odd items keep its exact semantics). Indexes
    are unsigned: numba then emits no negative-index wraparound per load
    (about 30 % faster).
    """
    one = np.uint64(1)
    k = np.uint64(start)
    o0, d, g0 = _octet_fast(data, k)
    k += d
    s0 = data[k] == 46
    o1, d, g1 = _octet_fast(data, k + one)
    k += d + one
    s1 = data[k] == 46
    o2, d, g2 = _octet_fast(data, k + one)
    k += d + one
    s2 = data[k] == 46
    o3, d, g3 = _octet_fast(data, k + one)
    k += d + one
    good = g0 & g1 & g2 & g3 & s0 & s1 & s2 & (data[k] == 10)
    value = np.uint32(((o0 & 255) << 24) | ((o1 & 255) << 16) | ((o2 & 255) << 8) | (o3 & 255))
    return value, good, np.int64(k)


@njit
def lookup_ipv4_lines(data, n_items, packed, jump):
    """Parse ``n_items`` ``\\n``-joined dotted quads and look each up, in one pass.

    Parsing is :func:`parse_ipv4`'s; the lookup is :func:`lookup_flat`'s.

    Returns
    -------
    inner : ndarray of int32
        Innermost containing range (sorted forest position) or -1.
    valid : ndarray of bool
        True where the item is a dotted quad.
    ok : bool
        False when the buffer does not hold exactly ``n_items`` lines (an
        item contained ``\\n``): then discard the results.
    """
    inner = np.full(n_items, -1, dtype=np.int32)
    valid = np.zeros(n_items, dtype=np.bool_)
    m = data.shape[0]
    k = 0
    for i in range(n_items):  # written out in both line kernels: a shared step function is ~20 % slower
        if k + 16 <= m:
            value, good, end = _quad_line_fast(data, k)
            if good:
                valid[i] = True
                inner[i] = _flat_find(value, packed, jump)
                k = end + 1
                continue
        value, good, end = _parse_quad(data, k, m)
        if good and (end == m or data[end] == 10):
            valid[i] = True
            inner[i] = _flat_find(value, packed, jump)
            k = end + 1
            continue
        k = end
        while k < m and data[k] != 10:
            k += 1
        k += 1
    return inner, valid, n_items == 0 or k == m + 1


def build_hit_bounds(packed: np.ndarray):
    """Membership-only form of a :func:`build_flat_forest` table, small enough for L2 cache.

    Consecutive intervals with the same status (inside some range or not)
    are merged, so statuses alternate: an address is inside a range when the
    last bound at or below it has an odd index.

    Returns
    -------
    bounds : ndarray of uint32
        Starts of the alternating runs; ``bounds[0] = 0`` starts a run outside
        every range (followed by another 0 when address 0 is inside one).
    jump : ndarray of int32, shape (65537,)
        ``jump[b]``: last index with ``bounds <= b << 16``.
    """
    starts = (packed >> np.uint64(32)).astype(np.uint32)
    inside = (packed & np.uint64(0xFFFFFFFF)) != 0
    change = np.flatnonzero(inside[1:] != inside[:-1]) + 1
    bounds = starts[change]
    head = [0, 0] if inside.size and inside[0] else [0]
    bounds = np.concatenate([np.array(head, dtype=np.uint32), bounds]).astype(np.uint32)
    jump = (np.searchsorted(bounds, np.arange(65537, dtype=np.uint64) << np.uint64(16), side="right") - 1).astype(np.int32)
    return bounds, jump


@njit
def _hit_find(q, bounds, jump):
    b = q >> np.uint32(16)
    lo = np.int64(jump[b])
    n = np.int64(jump[b + 1]) - lo + 1
    while n > 1:
        half = n >> 1
        lo = lo + half if bounds[lo + half] <= q else lo
        n -= half
    return (lo & 1) == 1


@njit
def contains_hit_bounds(queries, valid, bounds, jump):
    """Is each valid query inside some range (a :func:`build_hit_bounds` table)."""
    n = queries.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if valid[i]:
            out[i] = _hit_find(queries[i], bounds, jump)
    return out


@njit
def contains_ipv4_lines(data, n_items, bounds, jump):
    """:func:`lookup_ipv4_lines` for membership only, over a :func:`build_hit_bounds` table.

    Returns ``hit`` (bool), ``valid`` (bool) and ``ok`` (see :func:`lookup_ipv4_lines`).
    """
    hit = np.zeros(n_items, dtype=np.bool_)
    valid = np.zeros(n_items, dtype=np.bool_)
    m = data.shape[0]
    k = 0
    for i in range(n_items):  # written out in both line kernels: a shared step function is ~20 % slower
        if k + 16 <= m:
            value, good, end = _quad_line_fast(data, k)
            if good:
                valid[i] = True
                hit[i] = _hit_find(value, bounds, jump)
                k = end + 1
                continue
        value, good, end = _parse_quad(data, k, m)
        if good and (end == m or data[end] == 10):
            valid[i] = True
            hit[i] = _hit_find(value, bounds, jump)
            k = end + 1
            continue
        k = end
        while k < m and data[k] != 10:
            k += 1
        k += 1
    return hit, valid, n_items == 0 or k == m + 1
