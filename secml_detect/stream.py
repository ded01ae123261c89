"""Score an unbounded stream in chunks, with memory bounded by the chunk size."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import numpy as np

from .exceptions import BadInputWarning

__all__ = ["iter_scores"]


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
