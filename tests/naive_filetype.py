"""Slow, obvious references for the file-type kernels (secml_detect/_kernels/filetype.py)."""

from __future__ import annotations

import math
import re

HEAD, TAIL, HPOS, TPOS, TOKEN = 0, 1, 2, 3, 4
MAX_TOKEN = 32


def mix32(key: int) -> int:
    h = (key * 2654435761) % 2**32
    return h ^ (h >> 15)


def _normalised(counts: dict[int, float]) -> dict[int, float]:
    norm = math.sqrt(sum(v * v for v in counts.values()))
    return {k: v / norm for k, v in counts.items()} if norm else {}


def _ngrams(data: bytes, ngram_max: int, n_hash: int, block: int) -> dict[int, float]:
    counts: dict[int, float] = {}
    for g in range(1, ngram_max + 1):
        for s in range(len(data) - g + 1):
            key = int.from_bytes(data[s:s + g], "big") + (g << 24) + (block << 26)
            c = mix32(key) % n_hash
            counts[c] = counts.get(c, 0.0) + 1.0
    return _normalised(counts)


def _positions(data: bytes, n_pos: int, from_end: bool, n_hash: int, block: int) -> dict[int, float]:
    counts: dict[int, float] = {}
    for p in range(min(n_pos, len(data))):
        b = data[len(data) - 1 - p] if from_end else data[p]
        c = mix32((p << 8) + b + (block << 26)) % n_hash
        counts[c] = counts.get(c, 0.0) + 1.0
    return _normalised(counts)


def _tokens(windows: tuple[bytes, ...], n_hash: int) -> dict[int, float]:
    counts: dict[int, float] = {}
    for data in windows:
        for tok in re.findall(rb"[A-Za-z0-9_]{2,}", data):
            h = 0
            for b in tok[:MAX_TOKEN]:
                h = (h * 16777619 + b) % 2**26
            c = mix32(h + (TOKEN << 26)) % n_hash
            counts[c] = counts.get(c, 0.0) + 1.0
    return _normalised(counts)


def _utf8_multibyte(data: bytes) -> int:
    k, multi = 0, 0
    while k < len(data):
        b = data[k]
        need = 1 if 0xC2 <= b <= 0xDF else 2 if 0xE0 <= b <= 0xEF else 3 if 0xF0 <= b <= 0xF4 else 0
        if need and all(k + j < len(data) and data[k + j] & 0xC0 == 0x80 for j in range(1, need + 1)):
            multi += need + 1
            k += need + 1
        else:
            k += 1
    return multi


def window_stats(data: bytes) -> list[float]:
    n = len(data)
    if n == 0:
        return [0.0] * 12
    lines = data.count(b"\n")
    longest = max(len(part) for part in data.split(b"\n"))
    hist = [0] * 256
    for b in data:
        hist[b] += 1
    ent = -sum(c / n * math.log2(c / n) for c in hist if c)
    return [
        sum(1 for b in data if 32 <= b < 127) / n,
        sum(1 for b in data if b in (9, 10, 13, 32)) / n,
        data.count(0) / n,
        sum(1 for b in data if b >= 128) / n,
        sum(1 for b in data if 1 <= b < 32 and b not in (9, 10, 13)) / n,
        sum(1 for b in data if chr(b).isascii() and chr(b).isalpha()) / n,
        sum(1 for b in data if 48 <= b < 58) / n,
        min(lines / n * 10.0, 1.0),
        _utf8_multibyte(data) / n,
        ent / 8.0,
        min(n / (lines + 1.0) / 100.0, 1.0),
        min(longest / 1000.0, 1.0),
    ]


def features(head: bytes, tail: bytes, size: int, head_size: int, tail_size: int, ngram_max: int,
             n_pos: int, n_hash: int) -> dict[int, float]:
    """Column -> value of one item (the sum of the five hashed blocks, then the dense part)."""
    out: dict[int, float] = {}
    for block in (_ngrams(head, ngram_max, n_hash, HEAD), _ngrams(tail, ngram_max, n_hash, TAIL),
                  _positions(head, n_pos, False, n_hash, HPOS), _positions(tail, n_pos, True, n_hash, TPOS),
                  _tokens((head, tail), n_hash)):
        for k, v in block.items():
            out[k] = out.get(k, 0.0) + v
    dense = [len(head) / head_size if head_size else 0.0, len(tail) / tail_size if tail_size else 0.0]
    dense += window_stats(head) + window_stats(tail)
    for d, v in enumerate(dense):
        if v != 0.0:
            out[n_hash + d] = v
    return out


def uniform_window(head: bytes, tail: bytes) -> bool:
    """One repeated byte value across the (non-empty) head and the tail."""
    return len(head) > 0 and len(set(head + tail)) == 1
