"""Batches of strings, bytes or token sequences as flat buffers plus offsets.

Numba kernels never see Python objects: a batch is converted **once** into one
flat array (``uint8`` for text and bytes, ``int32`` for token ids) and an
``int64`` offsets array of length ``n_items + 1``; item ``i`` is
``data[offsets[i]:offsets[i + 1]]``.

Missing items (``None``, NaN) and items of an unusable type become empty items
and are flagged in ``missing`` so detectors can apply their fallback policy;
nothing is dropped and the batch keeps its length and order.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from types import MappingProxyType
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "RaggedArray",
    "Vocabulary",
    "to_ragged_bytes",
    "from_ragged_bytes",
    "to_ragged_tokens",
    "from_ragged_tokens",
]

UNKNOWN_TOKEN_ID = 0


@dataclass(frozen=True, eq=False)
class RaggedArray:
    """A batch of variable-length items stored as one flat buffer.

    Attributes
    ----------
    data : ndarray
        All items concatenated (``uint8`` bytes or ``int32`` token ids).
    offsets : ndarray of int64, shape (n_items + 1,)
        Item ``i`` is ``data[offsets[i]:offsets[i + 1]]``.
    missing : ndarray of bool, shape (n_items,)
        Items that were ``None``/NaN or of an unusable type (stored empty).
    truncated : ndarray of bool, shape (n_items,)
        Items cut to the ``max_len`` bound.
    """

    data: np.ndarray
    offsets: np.ndarray
    missing: np.ndarray
    truncated: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.truncated is None:
            object.__setattr__(self, "truncated", np.zeros(len(self), dtype=bool))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Length of each item, ``int64``."""
        return np.diff(self.offsets)

    def item(self, i: int) -> np.ndarray:
        """The ``i``-th item as a view into ``data``."""
        return self.data[self.offsets[i] : self.offsets[i + 1]]


def _is_missing(item: object) -> bool:
    return item is None or (isinstance(item, float) and math.isnan(item))


def _as_bytes(item: object, encoding: str) -> bytes | None:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        # surrogatepass keeps lone surrogates (seen in hostile input) lossless.
        return item.encode(encoding, "surrogatepass")
    if isinstance(item, (bytearray, memoryview)):
        return bytes(item)
    if isinstance(item, np.ndarray) and item.dtype == np.uint8:
        return item.tobytes()
    return None


def to_ragged_bytes(
    items: Iterable[object],
    *,
    max_len: int | None = None,
    encoding: str = "utf-8",
) -> RaggedArray:
    """Convert a batch of ``str``/``bytes`` to a :class:`RaggedArray` of ``uint8``.

    Parameters
    ----------
    items : iterable of str, bytes, bytearray, memoryview or None
        Text is encoded as UTF-8 (lone surrogates kept with ``surrogatepass``).
        ``None``, NaN and other types become empty items flagged ``missing``.
    max_len : int, optional
        Keep at most this many bytes of each item (bounded work on hostile
        input); cut items are flagged ``truncated``.
    encoding : str, default="utf-8"

    Returns
    -------
    RaggedArray

    Examples
    --------
    >>> r = to_ragged_bytes(["ab", None, "é"])
    >>> r.data.tolist(), r.offsets.tolist(), r.missing.tolist()
    ([97, 98, 195, 169], [0, 2, 2, 4], [False, True, False])
    """
    if isinstance(items, (str, bytes)):
        raise TypeError("expected a batch (a list of items), got a single str/bytes")
    items = items if isinstance(items, list) else list(items)
    fast = _ragged_from_str_list(items, max_len, encoding)
    if fast is not None:
        return fast
    chunks: list[bytes] = []
    missing: list[bool] = []
    truncated: list[bool] = []
    for item in items:
        raw = None if _is_missing(item) else _as_bytes(item, encoding)
        missing.append(raw is None)
        raw = raw or b""
        cut = max_len is not None and len(raw) > max_len
        truncated.append(cut)
        chunks.append(raw[:max_len] if cut else raw)
    lengths = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b"".join(chunks), dtype=np.uint8).copy()
    return RaggedArray(data, offsets, np.array(missing, dtype=bool), np.array(truncated, dtype=bool))


#: Items joined and encoded per step of :func:`_ragged_from_str_list`: small
#: enough that the temporary strings reuse freed heap memory instead of
#: faulting in fresh pages, large enough that the per-step overhead is nil.
_STR_CHUNK = 1024


def _ragged_from_str_list(items: list, max_len: int | None, encoding: str) -> RaggedArray | None:
    """The common case, every item a ``str`` and UTF-8, without encoding items one by one.

    Returns ``None`` when an item is not a ``str`` or for other encodings (a
    UTF-16 BOM would be written once per join, not per item). Byte lengths
    are the ``str`` lengths except for the (few) non-ASCII items; runs of
    items are joined, encoded and copied into one preallocated buffer.
    """
    if encoding.lower().replace("-", "").replace("_", "") != "utf8":
        return None
    n = len(items)
    try:
        ascii_items = np.fromiter(map(str.isascii, items), dtype=bool, count=n)
    except TypeError:  # an item is not a str
        return None
    lengths = np.fromiter(map(len, items), dtype=np.int64, count=n)
    for i in np.flatnonzero(~ascii_items).tolist():
        lengths[i] = len(items[i].encode("utf-8", "surrogatepass"))
    truncated = np.zeros(n, dtype=bool)
    if max_len is not None:
        truncated = lengths > max_len
        np.minimum(lengths, max_len, out=lengths)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    special = truncated | ~ascii_items
    data = np.empty(int(offsets[-1]), dtype=np.uint8)
    for a in range(0, n, _STR_CHUNK):
        b = min(a + _STR_CHUNK, n)
        if special[a:b].any():
            raw = b"".join([x.encode("utf-8", "surrogatepass")[:max_len] for x in items[a:b]])
        else:
            raw = "".join(items[a:b]).encode("ascii")
        data[offsets[a] : offsets[b]] = np.frombuffer(raw, dtype=np.uint8)
    return RaggedArray(data, offsets, np.zeros(n, dtype=bool), truncated)


def from_ragged_bytes(ragged: RaggedArray) -> list[bytes]:
    """Inverse of :func:`to_ragged_bytes` (missing items come back as ``b""``)."""
    buf = ragged.data.tobytes()
    off = ragged.offsets
    return [buf[off[i] : off[i + 1]] for i in range(len(ragged))]


class Vocabulary:
    """Map hashable tokens to ``int32`` ids; id 0 is reserved for unknown tokens.

    Parameters
    ----------
    tokens : iterable of hashable, optional
        Initial tokens, numbered from 1 in order of first appearance.

    Examples
    --------
    >>> v = Vocabulary(["open", "read"])
    >>> v.encode(["read", "write"], grow=False).tolist()
    [2, 0]
    >>> v.encode(["write"], grow=True).tolist(), len(v)
    ([3], 4)
    """

    def __init__(self, tokens: Iterable[Hashable] = ()) -> None:
        self._ids: dict[Hashable, int] = {}
        self._tokens: list[Hashable | None] = [None]
        for tok in tokens:
            self.add(tok)

    def __len__(self) -> int:
        """Number of ids, including the unknown id 0."""
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def add(self, token: Hashable) -> int:
        """Return the id of ``token``, adding it if new."""
        tid = self._ids.get(token)
        if tid is None:
            tid = len(self._tokens)
            self._ids[token] = tid
            self._tokens.append(token)
        return tid

    def encode(self, tokens: Iterable[Hashable], *, grow: bool = False) -> np.ndarray:
        """Ids of ``tokens`` (unknown ones map to 0 unless ``grow``)."""
        if grow:
            return np.array([self.add(t) for t in tokens], dtype=np.int32)
        get = self._ids.get
        return np.array([get(t, UNKNOWN_TOKEN_ID) for t in tokens], dtype=np.int32)

    @property
    def mapping(self) -> Mapping[Hashable, int]:
        """Read-only token -> id mapping (for fast batch lookups with ``.get``)."""
        return MappingProxyType(self._ids)

    def decode(self, ids: Iterable[int]) -> list[Hashable | None]:
        """Tokens of ``ids`` (``None`` for the unknown id)."""
        return [self._tokens[int(i)] for i in ids]

    @property
    def tokens(self) -> list[Hashable]:
        """Known tokens in id order (id 1 first)."""
        return list(self._tokens[1:])

    def __getstate__(self) -> dict:
        # Stored as a plain token list so safe persistence can write it.
        return {"tokens": list(self._tokens[1:])}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["tokens"])


def to_ragged_tokens(
    sequences: Iterable[Sequence[Hashable] | None],
    vocabulary: Vocabulary,
    *,
    grow: bool = False,
    max_len: int | None = None,
) -> RaggedArray:
    """Convert a batch of token sequences to a :class:`RaggedArray` of ``int32`` ids.

    Parameters
    ----------
    sequences : iterable of sequences of hashable tokens, or None
        ``None``/NaN entries become empty sequences flagged ``missing``.
    vocabulary : Vocabulary
        Token-to-id map; unknown tokens get id 0 unless ``grow=True``.
    grow : bool, default=False
        Add unseen tokens to ``vocabulary``.
    max_len : int, optional
        Keep at most this many tokens of each sequence.

    Examples
    --------
    >>> v = Vocabulary()
    >>> r = to_ragged_tokens([["a", "b"], [], ["b"]], v, grow=True)
    >>> r.data.tolist(), r.offsets.tolist()
    ([1, 2, 2], [0, 2, 2, 3])
    """
    parts: list[np.ndarray] = []
    missing: list[bool] = []
    truncated: list[bool] = []
    for seq in sequences:
        if _is_missing(seq) or isinstance(seq, (str, bytes)):
            # A bare string is not a token sequence; flag instead of iterating chars.
            missing.append(True)
            truncated.append(False)
            parts.append(np.zeros(0, dtype=np.int32))
            continue
        try:
            seq = list(seq)
        except TypeError:  # a number or an object: not a sequence, flagged like None
            missing.append(True)
            truncated.append(False)
            parts.append(np.zeros(0, dtype=np.int32))
            continue
        cut = max_len is not None and len(seq) > max_len
        if cut:
            seq = seq[:max_len]
        missing.append(False)
        truncated.append(cut)
        parts.append(vocabulary.encode(seq, grow=grow))
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.concatenate(parts).astype(np.int32, copy=False) if parts else np.zeros(0, np.int32)
    return RaggedArray(data, offsets, np.array(missing, dtype=bool), np.array(truncated, dtype=bool))


def from_ragged_tokens(ragged: RaggedArray, vocabulary: Vocabulary) -> list[list[Hashable | None]]:
    """Inverse of :func:`to_ragged_tokens` (unknown ids decode to ``None``)."""
    return [vocabulary.decode(ragged.item(i)) for i in range(len(ragged))]
