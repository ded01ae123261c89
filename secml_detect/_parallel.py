"""Threads around ``nogil`` numba kernels: ``n_jobs`` without process fan-out.

A ragged batch is split into contiguous ranges of items; each thread runs the
kernel on ``offsets[start:stop + 1]`` (offsets are absolute positions in the
shared ``data`` buffer, so nothing is copied) and the results are
concatenated in order. Because the kernels release the GIL, threads scale
across cores without pickling the model or the data.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

__all__ = ["effective_n_jobs", "map_ragged"]

MIN_ITEMS_PER_THREAD = 4096


def effective_n_jobs(n_jobs: int | None) -> int:
    """``None`` -> 1, ``-1`` -> all CPUs, ``-k`` -> all but ``k - 1``."""
    if n_jobs is None or n_jobs == 0:
        return 1
    cpus = os.cpu_count() or 1
    return max(1, cpus + 1 + n_jobs if n_jobs < 0 else min(n_jobs, cpus))


def map_ragged(kernel: Callable, data: np.ndarray, offsets: np.ndarray, *args, n_jobs: int | None = None):
    """``kernel(data, offsets, *args)`` over item ranges in threads, concatenated along axis 0.

    Examples
    --------
    >>> from secml_detect._kernels.bytes import byte_histograms
    >>> from secml_detect._ragged import to_ragged_bytes
    >>> r = to_ragged_bytes([b"ab", b"b"] * 5000)
    >>> out = map_ragged(byte_histograms, r.data, r.offsets, n_jobs=2)
    >>> out.shape, float(out[1, ord("b")])
    ((10000, 256), 1.0)
    """
    n_items = len(offsets) - 1
    jobs = min(effective_n_jobs(n_jobs), max(1, n_items // MIN_ITEMS_PER_THREAD))
    if jobs <= 1:
        return kernel(data, offsets, *args)
    bounds = np.linspace(0, n_items, jobs + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        parts = list(pool.map(lambda ab: kernel(data, offsets[ab[0] : ab[1] + 1], *args), zip(bounds[:-1], bounds[1:])))
    return np.concatenate(parts, axis=0)
