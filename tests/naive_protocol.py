"""Slow, obvious references for secml_detect._kernels.protocol."""

from __future__ import annotations

import math

import numpy as np

from naive import fnv1a_32

BASE = 258
PAD = 256
ANY = 257
CTX_TAG = 8


def key(node: int, tag: int, code: int) -> int:
    return ((node + 1) << 40) | (tag << 34) | code


def length_bins(items: list[bytes], n_bins: int) -> list[int]:
    return [min((len(x) * len(x)).bit_length(), n_bins - 1) for x in items]


def class_histograms(items: list[bytes], class_of, n_classes: int) -> np.ndarray:
    out = np.zeros((len(items), n_classes))
    for i, item in enumerate(items):
        for b in item:
            out[i, class_of[b]] += 1
    return out


def shape_hashes(items: list[bytes], class_of, seed: int) -> list[int]:
    out = []
    for item in items:
        seq = []
        for b in item:
            c = int(class_of[b])
            if not seq or seq[-1] != c:
                seq.append(c)
        out.append(fnv1a_32(bytes(seq), seed))
    return out


def code(item: bytes, pos: int, order: int, nxt: int) -> int:
    c = 0
    for j in range(pos - order, pos):
        c = c * BASE + (item[j] if j >= 0 else PAD)
    return c * BASE + nxt


def known_nodes(chain) -> list[int]:
    """The known prefix of a node chain."""
    nodes = []
    for nd in chain:
        if nd < 0:
            break
        nodes.append(int(nd))
    return nodes


def ngram_counts(items: list[bytes], chains, order: int) -> dict[int, int]:
    counts: dict[int, int] = {}
    for item, chain in zip(items, chains):
        nodes = known_nodes(chain)
        if not nodes:
            continue
        for pos in range(len(item)):
            keys = []
            for k in range(order + 1):
                keys += [key(nodes[0], k, code(item, pos, k, item[pos])),
                         key(nodes[0], CTX_TAG + k, code(item, pos, k, ANY))]
            for nd in nodes[1:]:
                keys += [key(nd, order, code(item, pos, order, item[pos])),
                         key(nd, CTX_TAG + order, code(item, pos, order, ANY))]
            for k in keys:
                counts[k] = counts.get(k, 0) + 1
    return counts


def ngram_logprobs(items: list[bytes], chains, counts: dict[int, int], order: int, alphas, betas, loo: bool):
    """log p of each byte: orders at the global node, then node levels; loo removes the item's own counts."""
    out = []
    for item, chain in zip(items, chains):
        nodes = known_nodes(chain)
        own = ngram_counts([item], [nodes], order) if loo and nodes else {}
        row = []
        for pos in range(len(item)):
            if not nodes:
                row.append(math.log(1 / 256))
                continue
            p = 1 / 256

            def get(k):
                return counts.get(k, 0) - own.get(k, 0)

            for k in range(order + 1):
                c = get(key(nodes[0], k, code(item, pos, k, item[pos])))
                t = get(key(nodes[0], CTX_TAG + k, code(item, pos, k, ANY)))
                p = (c + betas[k] * p) / (t + betas[k])
            for lvl, nd in enumerate(nodes[1:], start=1):
                c = get(key(nd, order, code(item, pos, order, item[pos])))
                t = get(key(nd, CTX_TAG + order, code(item, pos, order, ANY)))
                p = (c + alphas[lvl] * p) / (t + alphas[lvl])
            row.append(math.log(p))
        out.append(row)
    return out


def dense_chain_loglik(hist, chains, counts, totals, alphas, base, loo):
    return dense_chain_excess(hist, chains, counts, totals, alphas, base, loo, None)


def vocab_logprob(symbols, tags, chains, counts: dict[int, int], totals, alphas, loo):
    out = []
    own = 1 if loo else 0
    for s, tag, chain in zip(symbols, tags, chains):
        p = 1.0
        for lvl, nd in enumerate(chain):
            if nd < 0:
                break
            c = counts.get(key(int(nd), int(tag), int(s)), 0) - own
            t = totals[nd, tag] - own
            a = alphas[tag, lvl]
            p = (c if c > 0 else a) / (t + a) if lvl == 0 else (c + a * p) / (t + a)
        out.append(math.log(p))
    return np.array(out)


def dense_chain_excess(hist, chains, counts, totals, alphas, base, loo, ref):
    out = np.zeros(len(hist))
    for i in range(len(hist)):
        for b in range(hist.shape[1]):
            h = hist[i, b]
            if h == 0:
                continue
            p = base[b]
            for lvl, nd in enumerate(chains[i]):
                if nd < 0:
                    break
                c = counts[nd, b] - (h if loo else 0)
                t = totals[nd] - (hist[i].sum() if loo else 0)
                p = (c + alphas[lvl] * p) / (t + alphas[lvl])
            out[i] += h * (math.log(p) if ref is None else min(math.log(p) - ref[i], 0.0))
    return out
