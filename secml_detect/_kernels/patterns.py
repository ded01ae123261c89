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

__all__ = ["hex_keys", "hex_keys_lines", "lookup_hex128", "jump_table_hi16", "build_table128", "probe_hex_lines",
           "probe_hex_keys"]


_HEX_TABLE = np.full(256, 255, dtype=np.uint8)
for _c, _v in zip(b"0123456789abcdefABCDEF", list(range(16)) + list(range(10, 16))):
    _HEX_TABLE[_c] = _v
del _c, _v


@njit
def _is_blank(b):
    return b == 32 or b == 9 or b == 13 or b == 11 or b == 12


@njit
def _hex_fast32(data, start, table):
    """``(hi, lo, bad)`` of the 32 bytes at ``data[start:]`` (``bad`` >= 16 when a byte is not hex)."""
    hi = np.uint64(0)
    lo = np.uint64(0)
    bad = np.uint8(0)
    base = np.uint64(start)  # unsigned indexes: no negative-index wraparound per load
    for k in range(16):
        v = table[data[base + np.uint64(k)]]
        bad |= v
        hi = (hi << np.uint64(4)) | np.uint64(v & np.uint8(15))
    for k in range(16, 32):
        v = table[data[base + np.uint64(k)]]
        bad |= v
        lo = (lo << np.uint64(4)) | np.uint64(v & np.uint8(15))
    return hi, lo, bad


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
    hi, lo, bad = _hex_fast32(data, start, table)
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


# -- open-addressing table of 128-bit keys ------------------------------------
#
# One ``(capacity, 2)`` uint64 array of ``(hi, lo)`` keys, linear probing, load
# at most 1/2. The slot of a key comes from a multiplicative mix of both words
# (so hand-made "digests" such as ``000...001``, ``000...002`` do not cluster).
# Empty slots hold a sentinel key that is not in the set; a probe stops at the
# first empty slot, so a query equal to the sentinel is (correctly) a miss.

_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0x9E3779B97F4A7C15)


@njit
def _slot128(hi, lo, shift):
    return ((hi ^ (lo * _MIX1)) * _MIX2) >> shift


def _empty_key(hi: np.ndarray, lo: np.ndarray) -> tuple[int, int]:
    """A ``(hi, lo)`` pair absent from the keys (``(0, c)`` for the smallest free ``c``)."""
    used = set(lo[hi == 0].tolist())
    c = 0
    while c in used:
        c += 1
    return 0, c


@njit
def _fill_table128(hi, lo, table, shift, mask, empty_hi, empty_lo):
    n = hi.shape[0]
    slots = np.empty(n, dtype=np.int64)
    for i in range(n):
        s = np.int64(_slot128(hi[i], lo[i], shift))
        while True:
            if table[s, 0] == empty_hi and table[s, 1] == empty_lo:
                table[s, 0] = hi[i]
                table[s, 1] = lo[i]
                slots[i] = s
                break
            if table[s, 0] == hi[i] and table[s, 1] == lo[i]:
                slots[i] = s  # duplicate key: same slot
                break
            s = (s + 1) & mask
    return slots


def build_table128(hi: np.ndarray, lo: np.ndarray):
    """Open-addressing table of 128-bit keys.

    Parameters
    ----------
    hi, lo : ndarray of uint64, shape (n,)
        The keys (duplicates allowed; they share a slot).

    Returns
    -------
    table : ndarray of uint64, shape (capacity, 2)
        ``capacity`` is a power of two, at least ``2 n`` (and 2).
    empty : ndarray of uint64, shape (2,)
        The sentinel key of empty slots.
    slots : ndarray of int64, shape (n,)
        Slot of each input key: what :func:`probe_hex_lines` returns for it.
    """
    hi = np.ascontiguousarray(hi, dtype=np.uint64)
    lo = np.ascontiguousarray(lo, dtype=np.uint64)
    bits = max(1, int(2 * hi.shape[0] - 1).bit_length())
    empty = np.array(_empty_key(hi, lo), dtype=np.uint64)
    table = np.empty((1 << bits, 2), dtype=np.uint64)
    table[:, 0] = empty[0]
    table[:, 1] = empty[1]
    slots = _fill_table128(hi, lo, table, np.uint64(64 - bits), np.int64((1 << bits) - 1), empty[0], empty[1])
    return table, empty, slots


@njit
def _table_bits(table):
    cap = table.shape[0]
    bits = 0
    while (1 << bits) < cap:
        bits += 1
    return bits


@njit
def _find128(table, mask, shift, empty_hi, empty_lo, h, l):
    s = np.int64(_slot128(h, l, shift))
    while True:
        t0 = table[s, 0]
        t1 = table[s, 1]
        if t0 == empty_hi and t1 == empty_lo:
            return -1
        if t0 == h and t1 == l:
            return s
        s = (s + 1) & mask


@njit
def probe_hex_lines(data, n_items, t32, e32, t40, e40, t64, e64):
    """Parse ``n_items`` ``\\n``-joined hex digests and look each up in the table of its length.

    Same parsing as :func:`hex_keys` (case-insensitive, surrounding ASCII
    blanks ignored, 32/40/64 digits), fused with the open-addressing probe of
    :func:`build_table128` tables (one per digest length; SHA-1/SHA-256 are
    keyed by their first 128 bits, the caller confirms the rest).

    Returns
    -------
    slot : ndarray of int64, shape (n_items,)
        Slot of the item's 128-bit key in the table of its length, or -1.
    n_digits : ndarray of int8, shape (n_items,)
        32, 40 or 64 for a valid digest, else 0.
    ok : bool
        False when the buffer does not hold exactly ``n_items`` lines (an item
        contained ``\\n``): then discard the results.
    """
    out = np.full(n_items, -1, dtype=np.int64)
    nd = np.zeros(n_items, dtype=np.int8)
    m = data.shape[0]
    hexv = _HEX_TABLE
    mask32 = np.int64(t32.shape[0] - 1)
    shift32 = np.uint64(64 - _table_bits(t32))
    # MD5 keys of a block of lines are parsed first, then probed in a tight loop whose
    # independent table reads overlap (the probes are cache misses, the parse is not)
    block = 256
    b_hi = np.empty(block, dtype=np.uint64)
    b_lo = np.empty(block, dtype=np.uint64)
    b_item = np.empty(block, dtype=np.int64)
    start = 0
    i = 0
    while i < n_items:
        nb = 0
        block_end = min(i + block, n_items)
        while i < block_end:
            if start + 32 <= m and (start + 32 == m or data[start + 32] == 10):
                # fast path: 32 hex digits then the end of the line (hex digits hold no newline)
                h, l, bad = _hex_fast32(data, start, hexv)
                if bad < 16:
                    nd[i] = 32
                    b_hi[nb] = h
                    b_lo[nb] = l
                    b_item[nb] = i
                    nb += 1
                    start += 33
                    i += 1
                    continue
            stop = start
            while stop < m and data[stop] != 10:
                stop += 1
            h, l, d, ok = _hex_key(data, start, stop)
            if ok:
                nd[i] = d
                if d == 32:
                    b_hi[nb] = h
                    b_lo[nb] = l
                    b_item[nb] = i
                    nb += 1
                elif d == 40:
                    out[i] = _find128(t40, np.int64(t40.shape[0] - 1), np.uint64(64 - _table_bits(t40)), e40[0], e40[1], h, l)
                else:
                    out[i] = _find128(t64, np.int64(t64.shape[0] - 1), np.uint64(64 - _table_bits(t64)), e64[0], e64[1], h, l)
            start = stop + 1
            i += 1
        for j in range(nb):
            out[b_item[j]] = _find128(t32, mask32, shift32, e32[0], e32[1], b_hi[j], b_lo[j])
    return out, nd, n_items == 0 or start == m + 1


@njit
def probe_hex_keys(hi, lo, nd, valid, n_digits, table, empty):
    """Slot of each valid ``(hi, lo)`` key with ``nd == n_digits`` in a :func:`build_table128` table, or -1."""
    n = hi.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    bits = _table_bits(table)
    mask = np.int64(table.shape[0] - 1)
    shift = np.uint64(64 - bits)
    for i in range(n):
        if valid[i] and nd[i] == n_digits:
            out[i] = _find128(table, mask, shift, empty[0], empty[1], hi[i], lo[i])
    return out
