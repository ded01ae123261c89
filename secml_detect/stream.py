"""Score an unbounded stream in chunks, with memory bounded by the chunk size."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import numpy as np

from .exceptions import BadInputWarning

__all__ = ["iter_scores", "threaded_scores"]


def iter_scores(detector: Any, items: Iterable, *, chunk_size: int = 65_536, method: str = "threat_score",
                on_warning: Any = None) -> Iterator[np.ndarray]:
    """Yield the scores of ``items`` chunk by chunk, in order.

    Memory holds one chunk of items and its buffers, whatever the length of
    the stream (a generator over a 10 M-line log is fine).

    Parameters
    ----------
    detector : fitted detector
    items : iterable
        Any iterable (a generator, a file's lines...).
    chunk_size : int, default=65536
    method : str, default="threat_score"
    on_warning : callable, optional
        Called with ``(chunk_start, warning)`` for each ``BadInputWarning``,
        with indices shifted to positions in the whole stream; by default the
        warnings are re-issued with shifted indices.

    Examples
    --------
    >>> from secml_detect import ByteFrequencyModel
    >>> model = ByteFrequencyModel().fit([f"id={i}" for i in range(50)])
    >>> stream = (f"id={i}" for i in range(10))
    >>> [len(s) for s in iter_scores(model, stream, chunk_size=4)]
    [4, 4, 2]
    """
    iterator = iter(items)
    start = 0
    score = getattr(detector, method)
    while True:
        chunk = list(islice(iterator, chunk_size))
        if not chunk:
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BadInputWarning)
            scores = score(chunk)
        for w in caught:
            if isinstance(w.message, BadInputWarning):
                shifted = BadInputWarning(f"{w.message} (chunk starting at item {start})",
                                          [start + i for i in w.message.indices])
                if on_warning is not None:
                    on_warning(start, shifted)
                else:
                    warnings.warn(shifted, stacklevel=2)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        yield scores
        start += len(chunk)


def threaded_scores(detector: Any, items, *, n_jobs: int | None = -1, chunk_size: int = 65_536,
                    method: str = "threat_score") -> np.ndarray:
    """Score a batch in contiguous chunks on ``n_jobs`` threads, in order.

    The numba kernels release the GIL, so threads share the fitted model
    without copying it; the Python parts of a detector still take turns.
    Bad-item warnings are re-issued once with indices in the whole batch.

    Examples
    --------
    >>> from secml_detect import ByteFrequencyModel
    >>> model = ByteFrequencyModel().fit([f"id={i}" for i in range(50)])
    >>> batch = [f"id={i}" for i in range(10)]
    >>> bool((threaded_scores(model, batch, n_jobs=2, chunk_size=3) == model.threat_score(batch)).all())
    True
    """
    from concurrent.futures import ThreadPoolExecutor

    from ._parallel import effective_n_jobs

    items = list(items)
    starts = list(range(0, len(items), chunk_size))
    score = getattr(detector, method)
    # Warning filters are process-wide, so only this thread touches them.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BadInputWarning)
        with ThreadPoolExecutor(max_workers=effective_n_jobs(n_jobs)) as pool:
            parts = list(pool.map(lambda start: np.asarray(score(items[start:start + chunk_size])), starts))
    for w in caught:
        if not isinstance(w.message, BadInputWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if any(isinstance(w.message, BadInputWarning) for w in caught):
        # A warning's indices are relative to a chunk it does not name: find them chunk by chunk
        # (only when there were bad items, which are rare).
        bad = []
        for start in starts:
            with warnings.catch_warnings(record=True) as chunk_caught:
                warnings.simplefilter("always", BadInputWarning)
                score(items[start:start + chunk_size])
            bad += [start + i for w in chunk_caught if isinstance(w.message, BadInputWarning) for i in w.message.indices]
        warnings.warn(BadInputWarning(f"{len(bad)} item(s) scored with the fallback score: indices "
                                      + ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else ""), bad),
                      stacklevel=2)
    return np.concatenate(parts) if parts else np.zeros(0)
