"""Slow, obvious reference implementations that the numba kernels must match."""

from __future__ import annotations

import numpy as np

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619


def fnv1a_32(data: bytes, seed: int) -> int:
    h = (FNV_OFFSET ^ seed) & 0xFFFFFFFF
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def byte_histograms(items: list[bytes]) -> np.ndarray:
    out = np.zeros((len(items), 256))
    for i, item in enumerate(items):
        for b in item:
            out[i, b] += 1
    return out


def hashed_ngram_counts(items: list[bytes], n_min: int, n_max: int, n_features: int, seed: int) -> list[dict[int, int]]:
    rows = []
    for item in items:
        counts: dict[int, int] = {}
        for g in range(n_min, n_max + 1):
            for s in range(len(item) - g + 1):
                col = fnv1a_32(item[s : s + g], seed + g) % n_features
                counts[col] = counts.get(col, 0) + 1
        rows.append(counts)
    return rows


def byte_frequency_distance(items: list[bytes], mean: np.ndarray, inv_scale: np.ndarray) -> np.ndarray:
    out = []
    for item in items:
        freq = np.zeros(256)
        for b in item:
            freq[b] += 1
        if item:
            freq /= len(item)
        out.append(float(np.sum(np.abs(freq - mean) * inv_scale)))
    return np.array(out)
