"""Kernels for file-type detection over head/tail windows.

One item is a head window and a tail window (the kernels also receive the
whole content size, but do not use it: a size feature let the model learn
"small file, so not an ELF" from a corpus without small binaries). Its
feature vector has ``n_hash + N_DENSE`` columns:

* ``[0, n_hash)``: hashed features (keys hashed with :func:`mix32`), five
  blocks each L2-normalised on its own:
  head byte n-grams (lengths ``1..ngram_max``), tail byte n-grams, the byte at
  each of the first ``n_pos`` head positions (``(position, byte)`` pairs: magic
  numbers), the byte at each of the last ``n_pos`` tail positions (counted
  from the end: trailers such as ``%%EOF`` or a ZIP end record), and the word
  tokens of both windows (runs of ``[A-Za-z0-9_]`` of 2 or more bytes, cut to
  ``MAX_TOKEN``: ``def``, ``self``, ``function``, ``esac``...).
* ``[n_hash, n_hash + N_DENSE)``: dense statistics (see :data:`DENSE_NAMES`).

``window_features_csr`` writes CSR arrays (for training); ``window_scores``
fuses the same features with a linear model ``W`` (``n_features x n_classes``)
and never materialises them (for prediction: memory independent of the batch).
Both call the same per-block routines, so they cannot drift apart.
"""

from __future__ import annotations

import numpy as np

from .config import njit

_WINDOW_STATS = ("printable", "whitespace", "nul", "high", "control", "letter", "digit", "newline",
                 "utf8_multibyte", "entropy", "mean_line", "max_line")
DENSE_NAMES = (["head_fill", "tail_fill"] + [f"head_{s}" for s in _WINDOW_STATS]
               + [f"tail_{s}" for s in _WINDOW_STATS])
N_DENSE = len(DENSE_NAMES)
N_STATS = len(_WINDOW_STATS)

# Block ids, mixed into every hashed key so that blocks hash apart.
BLOCK_HEAD, BLOCK_TAIL, BLOCK_HPOS, BLOCK_TPOS, BLOCK_TOKEN = 0, 1, 2, 3, 4
MAX_NGRAM = 3
MAX_TOKEN = 32
N_BLOCKS = 5


@njit
def mix32(key):
    """Multiplicative (Knuth) hash of a non-negative ``key < 2**29``, in ``[0, 2**32)``.

    Plain ``int64`` arithmetic (the product stays below ``2**63``): several
    times faster in numba than a byte-wise FNV loop over ``uint32``.
    """
    h = (key * 2654435761) & 0xFFFFFFFF
    return h ^ (h >> 15)


@njit
def ngram_key(packed, g, block):
    """Key of the n-gram of length ``g`` whose bytes, big-endian, are ``packed``."""
    return packed | (g << 24) | (block << 26)


@njit
def pos_key(position, byte, block):
    """Key of a ``(position, byte)`` pair (``position < 2**16``)."""
    return ((position & 0xFFFF) << 8) | byte | (block << 26)


@njit
def token_step(h, byte):
    """One step of the rolling 26-bit token hash."""
    return (h * 16777619 + byte) & 0x3FFFFFF


@njit
def _touch(c, scratch, touched, m):
    """Count column ``c``; remember it the first time. Returns the new #touched."""
    if scratch[c] == 0.0:
        touched[m] = c
        m += 1
    scratch[c] += 1.0
    return m


@njit
def _inv_norm(scratch, touched, m):
    ss = 0.0
    for j in range(m):
        ss += scratch[touched[j]] * scratch[touched[j]]
    return 1.0 / np.sqrt(ss) if ss > 0 else 0.0


@njit
def uniform_windows(hdata, hoff, tdata, toff):
    """True for items whose non-empty windows hold one repeated byte value (no evidence)."""
    n = hoff.shape[0] - 1
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if hoff[i + 1] == hoff[i]:
            continue
        first = hdata[hoff[i]]
        same = True
        for k in range(hoff[i], hoff[i + 1]):
            if hdata[k] != first:
                same = False
                break
        if same:
            for k in range(toff[i], toff[i + 1]):
                if tdata[k] != first:
                    same = False
                    break
        out[i] = same
    return out


@njit
def _ngram_block(data, start, stop, ngram_max, n_hash, block, scratch, touched):
    """Count hashed n-grams (lengths ``1..ngram_max <= 3``) of ``data[start:stop]``; return #touched."""
    m = 0
    packed = 0
    for s in range(start, stop):
        packed = ((packed << 8) | data[s]) & 0xFFFFFF
        for g in range(1, ngram_max + 1):
            if s - start + 1 < g:
                break
            key = ngram_key(packed & ((1 << (8 * g)) - 1), g, block)
            m = _touch(mix32(key) % n_hash, scratch, touched, m)
    return m


@njit
def _is_word(b):
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b == 95


@njit
def _token_block(data, start, stop, n_hash, block, scratch, touched, m):
    """Count hashed word tokens (runs of ``[A-Za-z0-9_]``, 2+ bytes, cut to MAX_TOKEN) of a window."""
    k = start
    while k < stop:
        if _is_word(data[k]):
            s = k
            h = 0
            while k < stop and _is_word(data[k]):
                if k - s < MAX_TOKEN:
                    h = token_step(h, data[k])
                k += 1
            if k - s >= 2:
                m = _touch(mix32(h | (block << 26)) % n_hash, scratch, touched, m)
        else:
            k += 1
    return m


@njit
def _pos_block(data, start, stop, n_pos, from_end, n_hash, block, scratch, touched):
    m = 0
    length = stop - start
    k = n_pos if n_pos < length else length
    for p in range(k):
        b = data[stop - 1 - p] if from_end else data[start + p]
        m = _touch(mix32(pos_key(p, b, block)) % n_hash, scratch, touched, m)
    return m


@njit
def _window_stats(data, start, stop, out, o):
    """Write the N_STATS statistics of ``data[start:stop]`` at ``out[o:]``."""
    n = stop - start
    if n == 0:
        return
    hist = np.zeros(256, dtype=np.float64)
    lines = 0
    cur = 0
    longest = 0
    multi = 0
    k = start
    while k < stop:
        b = data[k]
        hist[b] += 1.0
        if b == 10:
            lines += 1
            if cur > longest:
                longest = cur
            cur = 0
        else:
            cur += 1
        k += 1
    if cur > longest:
        longest = cur
    # valid UTF-8 multi-byte sequences
    k = start
    while k < stop:
        b = data[k]
        need = 0
        if 0xC2 <= b <= 0xDF:
            need = 1
        elif 0xE0 <= b <= 0xEF:
            need = 2
        elif 0xF0 <= b <= 0xF4:
            need = 3
        if need > 0:
            ok = True
            for j in range(1, need + 1):
                if k + j >= stop or (data[k + j] & 0xC0) != 0x80:
                    ok = False
                    break
            if ok:
                multi += need + 1
                k += need + 1
                continue
        k += 1
    printable = 0.0
    for b in range(32, 127):
        printable += hist[b]
    ws = hist[9] + hist[10] + hist[13] + hist[32]
    high = 0.0
    for b in range(128, 256):
        high += hist[b]
    control = 0.0
    for b in range(1, 32):
        if b != 9 and b != 10 and b != 13:
            control += hist[b]
    letters = 0.0
    for b in range(65, 91):
        letters += hist[b] + hist[b + 32]
    digits = 0.0
    for b in range(48, 58):
        digits += hist[b]
    ent = 0.0
    for b in range(256):
        if hist[b] > 0:
            p = hist[b] / n
            ent -= p * np.log2(p)
    out[o + 0] = printable / n
    out[o + 1] = ws / n
    out[o + 2] = hist[0] / n
    out[o + 3] = high / n
    out[o + 4] = control / n
    out[o + 5] = letters / n
    out[o + 6] = digits / n
    out[o + 7] = min(lines / n * 10.0, 1.0)
    out[o + 8] = multi / n
    out[o + 9] = ent / 8.0
    out[o + 10] = min(n / (lines + 1.0) / 100.0, 1.0)
    out[o + 11] = min(longest / 1000.0, 1.0)


@njit
def _dense(h_len, t_len, size, head_size, tail_size, hd, hs, he, td, ts, te, out):
    out[:] = 0.0
    out[0] = h_len / head_size if head_size > 0 else 0.0
    out[1] = t_len / tail_size if tail_size > 0 else 0.0
    _window_stats(hd, hs, he, out, 2)
    _window_stats(td, ts, te, out, 2 + N_STATS)


@njit
def _item_blocks(i, hdata, hoff, tdata, toff, ngram_max, n_pos, n_hash, scratch, touched, block):
    """Fill ``scratch`` for one of the hashed blocks; return #touched."""
    if block == BLOCK_HEAD:
        return _ngram_block(hdata, hoff[i], hoff[i + 1], ngram_max, n_hash, BLOCK_HEAD, scratch, touched)
    if block == BLOCK_TAIL:
        return _ngram_block(tdata, toff[i], toff[i + 1], ngram_max, n_hash, BLOCK_TAIL, scratch, touched)
    if block == BLOCK_HPOS:
        return _pos_block(hdata, hoff[i], hoff[i + 1], n_pos, False, n_hash, BLOCK_HPOS, scratch, touched)
    if block == BLOCK_TPOS:
        return _pos_block(tdata, toff[i], toff[i + 1], n_pos, True, n_hash, BLOCK_TPOS, scratch, touched)
    m = _token_block(hdata, hoff[i], hoff[i + 1], n_hash, BLOCK_TOKEN, scratch, touched, 0)
    return _token_block(tdata, toff[i], toff[i + 1], n_hash, BLOCK_TOKEN, scratch, touched, m)


@njit
def _touched_size(hoff, toff, ngram_max, n_pos):
    longest = n_pos
    for i in range(hoff.shape[0] - 1):
        longest = max(longest, hoff[i + 1] - hoff[i] + toff[i + 1] - toff[i])
    return ngram_max * longest + 1


def max_nnz_per_item(head_size, tail_size, ngram_max, n_pos):
    """Upper bound on the stored entries of one item (before duplicates are summed)."""
    return (ngram_max + 1) * (head_size + tail_size) + 2 * n_pos + N_DENSE


@njit
def window_features_csr(hdata, hoff, tdata, toff, sizes, head_size, tail_size, ngram_max, n_pos, n_hash, cap):
    """Feature rows as CSR arrays (``cap`` = upper bound on the total entries).

    Within a row, columns of different blocks may repeat (hash collisions):
    call ``sum_duplicates`` on the matrix.
    """
    n = hoff.shape[0] - 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices = np.empty(cap, dtype=np.int32)
    values = np.empty(cap, dtype=np.float64)
    scratch = np.zeros(n_hash, dtype=np.float64)
    touched = np.empty(_touched_size(hoff, toff, ngram_max, n_pos), dtype=np.int64)
    dense = np.zeros(N_DENSE, dtype=np.float64)
    nnz = 0
    for i in range(n):
        for block in range(N_BLOCKS):
            m = _item_blocks(i, hdata, hoff, tdata, toff, ngram_max, n_pos, n_hash, scratch, touched, block)
            inv = _inv_norm(scratch, touched, m)
            for j in range(m):
                c = touched[j]
                indices[nnz] = c
                values[nnz] = scratch[c] * inv
                nnz += 1
                scratch[c] = 0.0
        _dense(hoff[i + 1] - hoff[i], toff[i + 1] - toff[i], sizes[i], head_size, tail_size,
               hdata, hoff[i], hoff[i + 1], tdata, toff[i], toff[i + 1], dense)
        for d in range(N_DENSE):
            if dense[d] != 0.0:
                indices[nnz] = n_hash + d
                values[nnz] = dense[d]
                nnz += 1
        indptr[i + 1] = nnz
    return indptr, indices[:nnz].copy(), values[:nnz].copy()


@njit
def window_scores(hdata, hoff, tdata, toff, sizes, head_size, tail_size, ngram_max, n_pos, n_hash, W, bias):
    """Linear scores ``X @ W + bias`` without building ``X`` (``W``: n_features x n_classes)."""
    n = hoff.shape[0] - 1
    k = W.shape[1]
    out = np.empty((n, k), dtype=np.float64)
    scratch = np.zeros(n_hash, dtype=np.float64)
    touched = np.empty(_touched_size(hoff, toff, ngram_max, n_pos), dtype=np.int64)
    dense = np.zeros(N_DENSE, dtype=np.float64)
    acc = np.zeros(k, dtype=np.float64)
    for i in range(n):
        for c in range(k):
            acc[c] = bias[c]
        for block in range(N_BLOCKS):
            m = _item_blocks(i, hdata, hoff, tdata, toff, ngram_max, n_pos, n_hash, scratch, touched, block)
            inv = _inv_norm(scratch, touched, m)
            for j in range(m):
                col = touched[j]
                v = scratch[col] * inv
                for c in range(k):
                    acc[c] += v * W[col, c]
                scratch[col] = 0.0
        _dense(hoff[i + 1] - hoff[i], toff[i + 1] - toff[i], sizes[i], head_size, tail_size,
               hdata, hoff[i], hoff[i + 1], tdata, toff[i], toff[i + 1], dense)
        for d in range(N_DENSE):
            if dense[d] != 0.0:
                for c in range(k):
                    acc[c] += dense[d] * W[n_hash + d, c]
        for c in range(k):
            out[i, c] = acc[c]
    return out
