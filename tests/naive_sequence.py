"""Slow, obvious reference versions of the sequence kernels (dicts of tuples, no hashing)."""

from __future__ import annotations

import math
from collections import Counter

BOS, EOS, UNK = "<bos>", "<eos>", "<unk>"
MASK = (1 << 64) - 1
PRIME = 1099511628211
SEED = 14695981039346656037


class NaiveNgram:
    """Back-off n-gram model with entity/group adjustment, one strength ``a`` everywhere."""

    def __init__(self, order: int, strength: float, eos: bool = True, groups: dict | None = None):
        self.order = order
        self.a = strength
        self.eos = eos
        self.groups = groups or {}
        self.cells: Counter = Counter()
        self.ctx: Counter = Counter()
        self.vocab: set = set()

    def _events(self, seq):
        return list(seq) + ([EOS] if self.eos else [])

    @staticmethod
    def _context(seq, t, j):
        # Most recent call first, padded with BOS before the start.
        return tuple(seq[t - q] if t - q >= 0 else BOS for q in range(1, j + 1))

    def fit(self, seqs, entities=None):
        entities = entities or [None] * len(seqs)
        for seq, ent in zip(seqs, entities):
            self.vocab.update(seq)
            for t, x in enumerate(self._events(seq)):
                for j in range(self.order + 1):
                    c = self._context(seq, t, j)
                    self.cells[("global", c, x)] += 1
                    self.ctx[("global", c)] += 1
                ck = self._context(seq, t, self.order)
                for node in self._nodes(ent):
                    self.cells[(node, ck, x)] += 1
                    self.ctx[(node, ck)] += 1
        return self

    def _nodes(self, ent):
        if ent is None:
            return []
        out = []
        if ent in self.groups:
            out.append(("group", self.groups[ent]))
        out.append(("entity", ent))
        return out

    def _map(self, seq):
        return [t if t in self.vocab else UNK for t in seq]

    def prob(self, seq, t, ent=None, top_g=0):
        a = self.a
        x = self._events(seq)[t]
        uniform = 1.0 / (len(self.vocab) + 2)
        total = self.ctx[("global", ())]
        p = (self.cells[("global", (), x)] + a * uniform) / (total + a)
        seen = ()
        for j in range(1, self.order + 1):
            c = self._context(seq, t, j)
            n = self.ctx[("global", c)]
            if n == 0:
                break
            p = (self.cells[("global", c, x)] + a * p) / (n + a)
            seen = c
        ck = self._context(seq, t, self.order)
        for node in self._nodes(ent):
            if node[0] == "entity" and node[1] not in self._trained_entities():
                continue
            n = self.ctx[(node, ck)]
            if n > 0:
                p = (self.cells[(node, ck, x)] + a * p) / (n + a)
        outside = 0
        if top_g:
            succ = sorted((v for (nd, c, _), v in self.cells.items() if nd == "global" and c == seen), reverse=True)
            gth = succ[top_g - 1] if len(succ) >= top_g else 1
            cx = self.cells[("global", seen, x)]
            outside = int(cx <= 0 or cx < gth)
        return p, outside

    def _trained_entities(self):
        return {nd[1] for (nd, _) in self.ctx if nd != "global" and nd[0] == "entity"}

    def surprises(self, seq, ent=None, top_g=0):
        seq = self._map(seq)
        out, flags = [], []
        for t in range(len(self._events(seq))):
            p, o = self.prob(seq, t, ent, top_g)
            out.append(-math.log(p))
            flags.append(o)
        return out, flags


def aggregate(values, flags, mode: str, window: int) -> float:
    if not values:
        return 0.0
    if mode == "mean":
        return sum(values) / len(values)
    if mode == "sum":
        return sum(values)
    if mode == "max":
        w = min(window, len(values))
        return max(sum(values[i:i + w]) / w for i in range(len(values) - w + 1))
    return float(sum(flags))


def _mix(h: int, v: int) -> int:
    return ((h ^ (v & MASK)) * PRIME) & MASK


def _finish(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z = z ^ (z >> 31)
    return z or 1


def cell_key(node: int, context_ids, x: int) -> int:
    """The kernel's 64-bit key of (node, context most recent first, call), written out slowly."""
    h = _mix(SEED, node + 1)
    for tok in context_ids:
        h = _mix(h, tok + 4)
    return _finish(_mix(h, x + 4))


def hashed_ngram_features(items, order: int, eos: bool, n_features: int) -> list[dict[int, int]]:
    """Per item: column -> count of its (context, call) n-grams (ids; -1 BOS, -2 EOS)."""
    rows = []
    for seq in items:
        events = list(seq) + ([-2] if eos else [])
        counts: Counter = Counter()
        for t, x in enumerate(events):
            for j in range(order + 1):
                ctx = [seq[t - q] if t - q >= 0 else -1 for q in range(1, j + 1)]
                counts[cell_key(0, ctx, x) % n_features] += 1
        rows.append(dict(counts))
    return rows
