"""Feature extraction for :class:`~secml_detect.filetype.FileTypeDetector`.

Thin wrappers around the numba kernels in :mod:`secml_detect._kernels.filetype`
(the layout of the feature vector is described there), plus the slow path that
names features for explanations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._kernels import filetype as kft
from .reading import WindowBatch

__all__ = ["FeatureSpec", "feature_matrix", "linear_scores", "named_features"]


@dataclass(frozen=True)
class FeatureSpec:
    """Parameters of the feature map (all stored by the detector)."""

    head_size: int = 1024
    tail_size: int = 1024
    ngram_max: int = 3
    n_pos: int = 32
    n_hash: int = 1 << 14

    @property
    def n_features(self) -> int:
        return self.n_hash + kft.N_DENSE


def _args(w: WindowBatch, spec: FeatureSpec) -> tuple:
    return (w.head.data, w.head.offsets, w.tail.data, w.tail.offsets, w.sizes.astype(np.int64),
            int(spec.head_size), int(spec.tail_size), int(spec.ngram_max), int(spec.n_pos), int(spec.n_hash))


def feature_matrix(w: WindowBatch, spec: FeatureSpec) -> sp.csr_matrix:
    """CSR feature matrix ``(n_items, spec.n_features)`` of a window batch.

    Examples
    --------
    >>> from secml_detect.filetype.reading import read_windows
    >>> X = feature_matrix(read_windows([b"#!/bin/sh\\necho hi\\n", b""]), FeatureSpec(n_hash=256))
    >>> X.shape, bool(X[0].nnz > 10)
    ((2, 282), True)
    """
    lengths = np.diff(w.head.offsets) + np.diff(w.tail.offsets)
    per = kft.max_nnz_per_item(0, 0, spec.ngram_max, spec.n_pos)
    cap = int((spec.ngram_max + 1) * lengths.sum() + len(w) * per) + 1
    indptr, indices, values = kft.window_features_csr(*_args(w, spec), cap)
    X = sp.csr_matrix((values, indices, indptr), shape=(len(w), spec.n_features))
    X.sum_duplicates()
    return X


def linear_scores(w: WindowBatch, spec: FeatureSpec, W: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``feature_matrix(w) @ W + bias`` computed without building the matrix."""
    return kft.window_scores(*_args(w, spec), W, bias)


def _printable(gram: bytes) -> str:
    return gram.decode("latin-1").encode("unicode_escape").decode("ascii")


def named_features(head: bytes, tail: bytes, spec: FeatureSpec) -> dict[int, list[str]]:
    """Column -> human-readable names of the features one item sets (slow; for ``explain``)."""
    names: dict[int, list[str]] = {}

    def put(col: int, name: str) -> None:
        lst = names.setdefault(int(col), [])
        if name not in lst and len(lst) < 3:
            lst.append(name)

    for where, data, block in (("head", head, kft.BLOCK_HEAD), ("tail", tail, kft.BLOCK_TAIL)):
        for g in range(1, spec.ngram_max + 1):
            for s in range(len(data) - g + 1):
                key = kft.ngram_key(int.from_bytes(data[s:s + g], "big"), g, block)
                put(int(kft.mix32(key)) % spec.n_hash, f"{where} '{_printable(data[s:s + g])}'")
    for p in range(min(spec.n_pos, len(head))):
        put(int(kft.mix32(kft.pos_key(p, head[p], kft.BLOCK_HPOS))) % spec.n_hash, f"byte {p} = 0x{head[p]:02x}")
    for p in range(min(spec.n_pos, len(tail))):
        put(int(kft.mix32(kft.pos_key(p, tail[-1 - p], kft.BLOCK_TPOS))) % spec.n_hash,
            f"byte -{p + 1} = 0x{tail[-1 - p]:02x}")
    for data in (head, tail):
        for mt in re.finditer(rb"[A-Za-z0-9_]{2,}", data):
            token = mt.group()[:kft.MAX_TOKEN]
            h = 0
            for b in token:
                h = int(kft.token_step(h, b))
            put(int(kft.mix32(h | (kft.BLOCK_TOKEN << 26))) % spec.n_hash, f"token {token.decode('ascii')}")
    for d, name in enumerate(kft.DENSE_NAMES):
        put(spec.n_hash + d, name)
    return names
