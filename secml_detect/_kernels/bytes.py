"""Kernels over ragged ``uint8`` buffers: histograms and hashed n-grams."""

from __future__ import annotations

import numpy as np

from .config import njit

FNV_OFFSET = np.uint32(2166136261)
FNV_PRIME = np.uint32(16777619)


@njit
def fnv1a_32(data, start, stop, seed):
    """FNV-1a hash of ``data[start:stop]`` mixed with ``seed`` (uint32)."""
    h = np.uint32(FNV_OFFSET ^ np.uint32(seed))
    for k in range(start, stop):
        h = np.uint32((h ^ np.uint32(data[k])) * FNV_PRIME)
    return h


@njit
def byte_histograms(data, offsets):
    """Count of each byte value per item: ``float64`` array of shape (n, 256)."""
    n = offsets.shape[0] - 1
    out = np.zeros((n, 256), dtype=np.float64)
    for i in range(n):
        for k in range(offsets[i], offsets[i + 1]):
            out[i, data[k]] += 1.0
    return out


@njit
def hashed_ngram_counts(data, offsets, n_min, n_max, n_features, seed):
    """Hashed byte n-gram counts of each item as CSR arrays.

    Every n-gram of length ``n_min..n_max`` inside an item is hashed with
    FNV-1a (the length is mixed into the seed so that ``ab`` and ``abc``
    differ) and counted in column ``hash % n_features``.

    Returns
    -------
    indptr : int64 (n + 1,)
    indices : int32 (nnz,), sorted within each row
    counts : float64 (nnz,)
    """
    n = offsets.shape[0] - 1
    total = 0
    for i in range(n):
        length = offsets[i + 1] - offsets[i]
        for g in range(n_min, n_max + 1):
            if length >= g:
                total += length - g + 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices = np.empty(total, dtype=np.int32)
    counts = np.empty(total, dtype=np.float64)
    nnz = 0
    for i in range(n):
        start = offsets[i]
        stop = offsets[i + 1]
        m = 0
        for g in range(n_min, n_max + 1):
            if stop - start >= g:
                m += stop - start - g + 1
        cols = np.empty(m, dtype=np.int64)
        j = 0
        for g in range(n_min, n_max + 1):
            for s in range(start, stop - g + 1):
                cols[j] = fnv1a_32(data, s, s + g, seed + g) % n_features
                j += 1
        nnz = append_sorted_counts(cols, indices, counts, nnz)
        indptr[i + 1] = nnz
    return indptr, indices[:nnz].copy(), counts[:nnz].copy()


@njit
def append_sorted_counts(cols, indices, counts, nnz):
    """Sort one row's column ids, append each distinct id and its count at ``nnz``; return the new ``nnz``.

    The shared tail of every kernel that writes hashed counts into CSR arrays.
    """
    cols.sort()
    m = cols.shape[0]
    j = 0
    while j < m:
        c = cols[j]
        run = 1
        while j + run < m and cols[j + run] == c:
            run += 1
        indices[nnz] = c
        counts[nnz] = run
        nnz += 1
        j += run
    return nnz


@njit
def byte_frequency_distance(data, offsets, mean, inv_scale):
    """PAYL's simplified Mahalanobis distance of each item's byte frequencies.

    ``sum_b |f_b - mean_b| * inv_scale_b`` where ``f`` is the item's relative
    byte frequency (an empty item has all-zero frequencies).
    """
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.float64)
    hist = np.zeros(256, dtype=np.float64)
    for i in range(n):
        hist[:] = 0.0
        length = offsets[i + 1] - offsets[i]
        for k in range(offsets[i], offsets[i + 1]):
            hist[data[k]] += 1.0
        norm = 1.0 / length if length > 0 else 0.0
        d = 0.0
        for b in range(256):
            d += abs(hist[b] * norm - mean[b]) * inv_scale[b]
        out[i] = d
    return out


@njit
def byte_frequency_moments(data, offsets):
    """Sum and sum of squares over items of their relative byte frequencies."""
    n = offsets.shape[0] - 1
    s1 = np.zeros(256, dtype=np.float64)
    s2 = np.zeros(256, dtype=np.float64)
    hist = np.zeros(256, dtype=np.float64)
    for i in range(n):
        hist[:] = 0.0
        length = offsets[i + 1] - offsets[i]
        for k in range(offsets[i], offsets[i + 1]):
            hist[data[k]] += 1.0
        if length > 0:
            for b in range(256):
                f = hist[b] / length
                s1[b] += f
                s2[b] += f * f
    return s1, s2
