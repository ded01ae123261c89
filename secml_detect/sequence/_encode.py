"""Batches of token sequences (and entity keys) as ragged ``int32`` buffers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping

import numpy as np

from .._ragged import RaggedArray, Vocabulary

__all__ = ["encode_sequences", "log_ngram_counts", "l2_rows", "ngram_names"]

_PLAIN = (list, tuple)


def _as_tokens(seq: object) -> list | None:
    """The tokens of one item as a list, or None when it is not a token sequence."""
    if seq is None or isinstance(seq, (str, bytes, bytearray, Mapping)):
        return None
    if isinstance(seq, float) and math.isnan(seq):
        return None
    if isinstance(seq, _PLAIN):
        return list(seq)
    if isinstance(seq, np.ndarray):
        return seq.ravel().tolist() if seq.dtype != object else list(seq.ravel())
    try:
        return list(seq)  # any other iterable (generator, deque, pandas Series...)
    except TypeError:
        return None


def encode_sequences(X, vocabulary: Vocabulary, *, grow: bool = False,
                     max_len: int | None = None) -> tuple[RaggedArray, list[str]]:
    """Encode a batch into a :class:`~secml_detect._ragged.RaggedArray` of token ids.

    Equivalent to :func:`secml_detect._ragged.to_ragged_tokens` but never
    raises on an item: items that are not sequences (``None``, NaN, a bare
    string, a number, an arbitrary object) or that hold an unhashable token
    become empty items flagged ``missing``, and the reason is returned.
    Well-formed batches take a fast path (one dictionary pass over all tokens).

    Returns
    -------
    ragged : RaggedArray
    reasons : list of str
        One reason per missing item, in index order.

    Examples
    --------
    >>> v = Vocabulary()
    >>> r, why = encode_sequences([["open", "read"], None, [["unhashable"]]], v, grow=True)
    >>> r.data.tolist(), r.missing.tolist(), why
    ([1, 2], [False, True, True], ['not a sequence of tokens', 'unhashable token'])
    """
    if isinstance(X, (str, bytes)):
        raise TypeError("expected a batch (a list of sequences), got a single str/bytes")
    items = X if isinstance(X, list) else list(X)
    n = len(items)
    if all(type(s) in _PLAIN for s in items):
        seqs = items
        if max_len is not None:
            truncated = np.array([len(s) > max_len for s in seqs], dtype=bool)
            if truncated.any():
                seqs = [s[:max_len] for s in seqs]
        else:
            truncated = np.zeros(n, dtype=bool)
        try:
            if grow:
                add = vocabulary.add
                ids = [add(t) for t in itertools.chain.from_iterable(seqs)]
            else:
                get = vocabulary.mapping.get
                ids = [get(t, 0) for t in itertools.chain.from_iterable(seqs)]
        except TypeError:  # an unhashable token somewhere: take the careful path
            pass
        else:
            lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=n)
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            data = np.array(ids, dtype=np.int32)
            return RaggedArray(data, offsets, np.zeros(n, dtype=bool), truncated), []
    parts: list[np.ndarray] = []
    missing = np.zeros(n, dtype=bool)
    truncated = np.zeros(n, dtype=bool)
    reasons: list[str] = []
    empty = np.zeros(0, dtype=np.int32)
    for i, seq in enumerate(items):
        toks = _as_tokens(seq)
        if toks is None:
            missing[i] = True
            reasons.append("not a sequence of tokens")
            parts.append(empty)
            continue
        if max_len is not None and len(toks) > max_len:
            toks = toks[:max_len]
            truncated[i] = True
        try:
            for t in toks:
                hash(t)  # check all before adding anything
            parts.append(vocabulary.encode(toks, grow=grow))
        except TypeError:
            missing[i] = True
            reasons.append("unhashable token")
            parts.append(empty)
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.concatenate(parts).astype(np.int32, copy=False) if parts else np.zeros(0, np.int32)
    return RaggedArray(data, offsets, missing, truncated), reasons


def entity_list(entities, n: int) -> list[Hashable | None]:
    """Validate an ``entities=`` argument: one hashable key (or None) per item."""
    if entities is None:
        return [None] * n
    out = list(entities)
    if len(out) != n:
        raise ValueError(f"entities has {len(out)} keys for {n} sequences")
    clean = []
    for e in out:
        if e is None or (isinstance(e, float) and math.isnan(e)):
            clean.append(None)
            continue
        try:
            hash(e)
        except TypeError:
            clean.append(None)
            continue
        clean.append(e.item() if isinstance(e, np.generic) else e)
    return clean


def ngram_names(raw, ragged: RaggedArray, i: int, order: int, n_features: int) -> dict[int, str]:
    """Hashed column -> text of the first n-gram of item ``i`` hashed there.

    The columns are those of :func:`secml_detect._kernels.sequence.hashed_ngram_features`
    (start padding and end event included).
    """
    from .._kernels.sequence import emit_keys

    toks = _as_tokens(raw) or []
    one = ragged.item(i)
    cells, _ = emit_keys(one, np.array([0, one.size], dtype=np.int64), np.zeros(1, dtype=np.int64), order, 0, True)
    cols = (cells % np.uint64(int(n_features))).astype(np.int64)
    names: dict[int, str] = {}
    for t in range(cols.shape[0]):
        x = "<end>" if t >= one.size else str(toks[t])
        for j in range(order + 1):
            c = int(cols[t, j])
            if c not in names:
                ctx = " ".join("<start>" if t - q < 0 else str(toks[t - q]) for q in range(j, 0, -1))
                names[c] = f"{ctx} -> {x}" if ctx else x
    return names


def log_ngram_counts(X: list, detector, grow: bool) -> tuple:
    """``log(1 + count)`` of each hashed n-gram event of a batch, as CSR, with the ragged batch.

    ``detector`` supplies ``vocabulary_`` (grown when ``grow``), ``order``, ``n_features``, ``max_len`` and ``on_bad_input``; bad
    items warn or raise as the detector says and get an empty row.
    """
    import scipy.sparse as sp

    from .._kernels.sequence import hashed_ngram_features
    from ..base import handle_bad_items

    ragged, reasons = encode_sequences(X, detector.vocabulary_, grow=grow, max_len=detector.max_len)
    if reasons:
        handle_bad_items(ragged.missing, reasons, detector.on_bad_input, items=X, fallback_desc="threat_score 1.0")
    indptr, indices, counts = hashed_ngram_features(ragged.data, ragged.offsets, int(detector.order), True,
                                                    int(detector.n_features))
    m = sp.csr_matrix((np.log1p(counts), indices, indptr), shape=(len(ragged), int(detector.n_features)))
    return m, ragged


def l2_rows(m):
    """Rows of a sparse matrix scaled to unit L2 norm (all-zero rows stay zero), as CSR."""
    import scipy.sparse as sp

    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m).tocsr()
