"""Kernels for exact-match indicator keys: hex digests as 128-bit integers.

MD5, SHA-1 and SHA-256 hex digests are looked up by their first 32 hex
digits packed into two ``uint64`` (case-insensitive, surrounding ASCII
blanks ignored), in sorted arrays with a 16-bit jump table. For SHA-1 and
SHA-256 a hit on the 128-bit prefix is confirmed on the full string by the
caller.
"""

from __future__ import annotations

import numpy as np

from .config import njit

__all__ = ["hex_keys", "hex_keys_lines", "lookup_hex128", "jump_table_hi16"]


_HEX_TABLE = np.full(256, 255, dtype=np.uint8)
for _c, _v in zip(b"0123456789abcdefABCDEF", list(range(16)) + list(range(10, 16))):
    _HEX_TABLE[_c] = _v
del _c, _v


@njit
def _is_blank(b):
    return b == 32 or b == 9 or b == 13 or b == 11 or b == 12


@njit
def _hex_key(data, start, stop):
    """``(hi, lo, n_digits, ok)`` of a hex digest at ``data[start:stop]``."""
    while start < stop and _is_blank(data[start]):
        start += 1
    while stop > start and _is_blank(data[stop - 1]):
        stop -= 1
    n = stop - start
    hi = np.uint64(0)
    lo = np.uint64(0)
    if n != 32 and n != 40 and n != 64:
        return hi, lo, n, False
    table = _HEX_TABLE
    bad = np.uint8(0)
    for k in range(16):
        v = table[data[start + k]]
        bad |= v
        hi = (hi << np.uint64(4)) | np.uint64(v & np.uint8(15))
    for k in range(16, 32):
        v = table[data[start + k]]
        bad |= v
        lo = (lo << np.uint64(4)) | np.uint64(v & np.uint8(15))
    for k in range(32, n):
        bad |= table[data[start + k]]
    # a valid digit is 0..15, so any invalid byte sets bits above the low nibble
    return hi, lo, n, bad < np.uint8(16)


@njit
def hex_keys(data, offsets):
    """128-bit keys of each item of a ragged batch.

    Returns ``hi, lo`` (uint64), ``n_digits`` (int64: 32, 40 or 64 when valid)
    and ``valid`` (bool).
    """
    n = offsets.shape[0] - 1
    hi = np.zeros(n, dtype=np.uint64)
    lo = np.zeros(n, dtype=np.uint64)
    nd = np.zeros(n, dtype=np.int64)
    valid = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        h, l, d, ok = _hex_key(data, offsets[i], offsets[i + 1])
        if ok:
            hi[i] = h
            lo[i] = l
            nd[i] = d
            valid[i] = True
    return hi, lo, nd, valid


@njit
def hex_keys_lines(data, n_items):
    """:func:`hex_keys` over ``n_items`` items joined by ``\\n``.

    Also returns ``ok``: False when the buffer does not hold exactly
    ``n_items`` lines (then the results must be discarded).
    """
    hi = np.zeros(n_items, dtype=np.uint64)
    lo = np.zeros(n_items, dtype=np.uint64)
    nd = np.zeros(n_items, dtype=np.int64)
    valid = np.zeros(n_items, dtype=np.bool_)
    m = data.shape[0]
    start = 0
    for i in range(n_items):
        stop = start
        while stop < m and data[stop] != 10:
            stop += 1
        h, l, d, ok = _hex_key(data, start, stop)
        if ok:
            hi[i] = h
            lo[i] = l
            nd[i] = d
            valid[i] = True
        start = stop + 1
    return hi, lo, nd, valid, n_items == 0 or start == m + 1


def jump_table_hi16(sorted_hi: np.ndarray) -> np.ndarray:
    """``jump[b]`` = number of keys whose top 16 bits are below ``b`` (65,537 entries)."""
    return np.searchsorted(sorted_hi, np.arange(65537, dtype=np.uint64) << np.uint64(48)).astype(np.int64)


@njit
def lookup_hex128(hi, lo, nd, valid, n_digits, s_hi, s_lo, jump):
    """Position of each ``(hi, lo)`` key among sorted keys of one digest length, or -1.

    Only items with ``valid`` and ``nd == n_digits`` are looked up.
    """
    n = hi.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    if s_hi.shape[0] == 0:
        return out
    for i in range(n):
        if not valid[i] or nd[i] != n_digits:
            continue
        h = hi[i]
        l = lo[i]
        b = h >> np.uint64(48)
        a = jump[b]
        z = jump[b + 1]
        while a < z:
            mid = (a + z) >> 1
            if s_hi[mid] < h or (s_hi[mid] == h and s_lo[mid] < l):
                a = mid + 1
            else:
                z = mid
        if a < s_hi.shape[0] and s_hi[a] == h and s_lo[a] == l:
            out[i] = a
    return out
