"""Kernels of the protocol anomaly model: per-field features and hierarchical likelihoods.

Fields (parameter values, header values, raw payloads) arrive as one ragged
``uint8`` buffer plus a ``chains`` array of shape ``(n_fields, n_levels)``:
the node id of the field at each level of the hierarchy (global, service,
endpoint, parameter), ``-1`` where the node is unknown. Known nodes always
form a prefix of the chain.

Counts live in open-addressing hash tables built from sorted ``int64`` keys
(:func:`table_build`, :func:`table_get`); a key packs ``(node, tag, code)``
(:func:`make_key`). Byte n-gram codes are exact (base 258: 256 byte values,
256 = "before the start of the value", 257 = "any next byte", so a context
total has its own code), so nothing is hashed except the structure shapes and
names, which use FNV-1a from :mod:`secml_detect._kernels.bytes`.

Every probability is a chain of Dirichlet posterior means,
``p_l = (c_l + a_l * p_{l-1}) / (t_l + a_l)``, first over n-gram orders at the
global node, then over the node levels (see :mod:`secml_detect.hierarchy`).
With ``loo=True`` every count is taken without the item's own contribution
(leave-one-out), which is how training items are scored for calibration.
"""

from __future__ import annotations

import numpy as np

from .bytes import fnv1a_32
from .config import njit

N_LEN_BINS = 48
NGRAM_BASE = 258
PAD = 256
ANY = 257
CTX_TAG = 8
_NODE_SHIFT = 40
_TAG_SHIFT = 34


def _build_class_table() -> tuple[np.ndarray, list[str]]:
    """Byte -> character class: letters, digits, blanks, controls, high bytes, each punctuation."""
    names = ["lower", "upper", "digit", "space", "tab/newline", "control", "non-ascii"]
    table = np.zeros(256, dtype=np.uint8)
    punct = [c for c in range(33, 127) if not chr(c).isalnum()]
    for b in range(256):
        if 97 <= b <= 122:
            table[b] = 0
        elif 65 <= b <= 90:
            table[b] = 1
        elif 48 <= b <= 57:
            table[b] = 2
        elif b == 32:
            table[b] = 3
        elif b in (9, 10, 13):
            table[b] = 4
        elif b < 32 or b == 127:
            table[b] = 5
        elif b >= 128:
            table[b] = 6
    for j, b in enumerate(punct):
        table[b] = 7 + j
        names.append(chr(b))
    return table, names


CLASS_OF, CLASS_NAMES = _build_class_table()
N_CLASSES = len(CLASS_NAMES)
#: Representative text of each class in structure shapes.
SHAPE_SYMBOLS = ["a", "A", "9", " ", "\\n", "\\x", "\\u"] + CLASS_NAMES[7:]


@njit
def make_key(node, tag, code):
    """Pack ``(node >= 0, tag < 64, code < 2**34)`` into a positive ``int64`` (never 0)."""
    return ((np.int64(node) + 1) << _NODE_SHIFT) | (np.int64(tag) << _TAG_SHIFT) | np.int64(code)


@njit
def _mix(key):
    z = np.uint64(key)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit
def table_build(keys, values):
    """Open-addressing table of distinct positive ``keys`` (linear probing, load <= 0.5)."""
    cap = 16
    while cap < 2 * keys.shape[0]:
        cap *= 2
    tkeys = np.zeros(cap, dtype=np.int64)
    tvals = np.zeros(cap, dtype=np.float64)
    mask = np.uint64(cap - 1)
    for i in range(keys.shape[0]):
        slot = np.int64(_mix(keys[i]) & mask)
        while tkeys[slot] != 0 and tkeys[slot] != keys[i]:
            slot = (slot + 1) & (cap - 1)
        tkeys[slot] = keys[i]
        tvals[slot] += values[i]
    return tkeys, tvals


@njit
def table_get(tkeys, tvals, key):
    """Value stored for ``key`` (0.0 when absent)."""
    cap = tkeys.shape[0]
    slot = np.int64(_mix(key) & np.uint64(cap - 1))
    while True:
        k = tkeys[slot]
        if k == key:
            return tvals[slot]
        if k == 0:
            return 0.0
        slot = (slot + 1) & (cap - 1)


@njit
def length_bins(offsets, n_bins):
    """Half-octave length bin of each item: 0 for empty, else ``bit_length(L * L)`` (capped)."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        length = offsets[i + 1] - offsets[i]
        sq = length * length
        b = 0
        while sq > 0:
            b += 1
            sq >>= 1
        out[i] = min(b, n_bins - 1)
    return out


@njit
def class_histograms(data, offsets, class_of, n_classes):
    """Count of each character class per item: ``float64`` (n, n_classes)."""
    n = offsets.shape[0] - 1
    out = np.zeros((n, n_classes), dtype=np.float64)
    for i in range(n):
        for k in range(offsets[i], offsets[i + 1]):
            out[i, class_of[data[k]]] += 1.0
    return out


@njit
def shape_hashes(data, offsets, class_of, seed):
    """FNV-1a hash of each item's structure: its class sequence with runs collapsed."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.int64)
    buf = np.empty(max(data.shape[0], 1), dtype=np.uint8)
    for i in range(n):
        m = 0
        for k in range(offsets[i], offsets[i + 1]):
            c = class_of[data[k]]
            if m == 0 or buf[m - 1] != c:
                buf[m] = c
                m += 1
        out[i] = np.int64(fnv1a_32(buf, 0, m, seed))
    return out


@njit
def ngram_code(data, start, pos, order, nxt):
    """Base-258 code of ``(order previous bytes, nxt)``; bytes before ``start`` are ``PAD``."""
    code = np.int64(0)
    for j in range(pos - order, pos):
        s = np.int64(data[j]) if j >= start else np.int64(PAD)
        code = code * NGRAM_BASE + s
    return code * NGRAM_BASE + np.int64(nxt)


@njit
def ngram_keys(data, offsets, chains, order):
    """Every n-gram count key of a training batch (one entry per occurrence).

    At the global node (``chains[i, 0]``) each byte adds a cell key (tag ``k``)
    and a context key (tag ``CTX_TAG + k``) for every order ``k <= order``; at
    the deeper known nodes it adds the top-order cell and context keys.
    """
    n = offsets.shape[0] - 1
    depth = chains.shape[1]
    total = 0
    for i in range(n):
        if chains[i, 0] < 0:
            continue
        known = 0
        for lvl in range(1, depth):
            if chains[i, lvl] >= 0:
                known += 1
        total += (offsets[i + 1] - offsets[i]) * 2 * (order + 1 + known)
    out = np.empty(total, dtype=np.int64)
    j = 0
    for i in range(n):
        root = chains[i, 0]
        if root < 0:
            continue
        start = offsets[i]
        for pos in range(start, offsets[i + 1]):
            for k in range(order + 1):
                out[j] = make_key(root, k, ngram_code(data, start, pos, k, data[pos]))
                out[j + 1] = make_key(root, CTX_TAG + k, ngram_code(data, start, pos, k, ANY))
                j += 2
            cell = ngram_code(data, start, pos, order, data[pos])
            ctx = ngram_code(data, start, pos, order, ANY)
            for lvl in range(1, depth):
                node = chains[i, lvl]
                if node < 0:
                    break
                out[j] = make_key(node, order, cell)
                out[j + 1] = make_key(node, CTX_TAG + order, ctx)
                j += 2
    return out


@njit
def _suffix_code(code, k):
    """Order-``k`` cell code from a higher-order cell code (its last ``k + 1`` digits)."""
    m = np.int64(1)
    for _ in range(k + 1):
        m *= NGRAM_BASE
    return code % m


@njit
def _ngram_chain_prob(tkeys, tvals, nodes, n_nodes, code, order, max_order, alphas, betas, own_cell, own_ctx):
    """Smoothed ``p(next byte | context)`` along a chain of nodes (see module docstring).

    ``nodes[:n_nodes]`` are the known nodes, global first; orders ``0..max_order``
    are used at the global node (``max_order = -1``: none, the uniform base).
    """
    x = code % NGRAM_BASE
    p = 1.0 / 256.0
    if n_nodes == 0:
        return p
    root = nodes[0]
    for k in range(max_order + 1):
        ck = _suffix_code(code, k)
        ctx = ck - x + ANY
        c = table_get(tkeys, tvals, make_key(root, k, ck)) - own_cell[k]
        t = table_get(tkeys, tvals, make_key(root, CTX_TAG + k, ctx)) - own_ctx[k]
        p = (c + betas[k] * p) / (t + betas[k])
    ctx = code - x + ANY
    for lvl in range(1, n_nodes):
        c = table_get(tkeys, tvals, make_key(nodes[lvl], order, code)) - own_cell[order]
        t = table_get(tkeys, tvals, make_key(nodes[lvl], CTX_TAG + order, ctx)) - own_ctx[order]
        p = (c + alphas[lvl] * p) / (t + alphas[lvl])
    return p


@njit
def _run_counts(codes):
    """For each position, how many positions hold the same code."""
    m = codes.shape[0]
    out = np.empty(m, dtype=np.float64)
    order = np.argsort(codes)
    j = 0
    while j < m:
        r = 1
        while j + r < m and codes[order[j + r]] == codes[order[j]]:
            r += 1
        for q in range(j, j + r):
            out[order[q]] = r
        j += r
    return out


@njit
def ngram_logprobs(data, offsets, chains, tkeys, tvals, order, alphas, betas, loo):
    """``log p`` of every byte given its context: ``float64`` aligned with ``data``.

    The field log-likelihood is the sum over its bytes. ``loo`` removes each
    field's own n-gram counts from every level (leave-one-out).
    """
    n = offsets.shape[0] - 1
    depth = chains.shape[1]
    out = np.zeros(data.shape[0], dtype=np.float64)
    nodes = np.empty(depth, dtype=np.int64)
    own_cell = np.zeros(order + 1, dtype=np.float64)
    own_ctx = np.zeros(order + 1, dtype=np.float64)
    for i in range(n):
        start = offsets[i]
        stop = offsets[i + 1]
        m = 0
        for lvl in range(depth):
            if chains[i, lvl] < 0:
                break
            nodes[m] = chains[i, lvl]
            m += 1
        if loo and m > 0 and stop > start:
            cell_runs = np.empty((order + 1, stop - start), dtype=np.float64)
            ctx_runs = np.empty((order + 1, stop - start), dtype=np.float64)
            for k in range(order + 1):
                cc = np.empty(stop - start, dtype=np.int64)
                xc = np.empty(stop - start, dtype=np.int64)
                for pos in range(start, stop):
                    cc[pos - start] = ngram_code(data, start, pos, k, data[pos])
                    xc[pos - start] = ngram_code(data, start, pos, k, ANY)
                cell_runs[k] = _run_counts(cc)
                ctx_runs[k] = _run_counts(xc)
        else:
            cell_runs = np.zeros((order + 1, 1), dtype=np.float64)
            ctx_runs = np.zeros((order + 1, 1), dtype=np.float64)
        for pos in range(start, stop):
            if loo and m > 0:
                for k in range(order + 1):
                    own_cell[k] = cell_runs[k, pos - start]
                    own_ctx[k] = ctx_runs[k, pos - start]
            code = ngram_code(data, start, pos, order, data[pos])
            p = _ngram_chain_prob(tkeys, tvals, nodes, m, code, order, order, alphas, betas, own_cell, own_ctx)
            out[pos] = np.log(p)
    return out


@njit
def ngram_parent_probs(keys, node_parent, tkeys, tvals, order, alphas, betas):
    """Prior mean ``p_parent`` of each n-gram cell key (used to fit the concentrations).

    A global cell of order ``k`` has the order ``k - 1`` global estimate as
    parent; a cell at a deeper node has its parent node's estimate.
    """
    out = np.empty(keys.shape[0], dtype=np.float64)
    chain = np.empty(64, dtype=np.int64)
    zeros = np.zeros(order + 1, dtype=np.float64)
    for i in range(keys.shape[0]):
        node = (keys[i] >> _NODE_SHIFT) - 1
        tag = (keys[i] >> _TAG_SHIFT) & 63
        code = keys[i] & ((np.int64(1) << _TAG_SHIFT) - 1)
        m = 0
        while node >= 0 and m < 64:
            chain[m] = node
            m += 1
            node = node_parent[node]
        chain[:m] = chain[:m][::-1].copy()
        if m == 1:
            # global node: back off to the previous order, expressed in top-order code space
            out[i] = _ngram_chain_prob(tkeys, tvals, chain, 1, code, tag, tag - 1, alphas, betas, zeros, zeros)
        else:
            out[i] = _ngram_chain_prob(tkeys, tvals, chain, m - 1, code, order, order, alphas, betas, zeros, zeros)
    return out


@njit
def dense_chain_loglik(hist, chains, counts, totals, alphas, base, loo):
    """``sum_b hist[i, b] * log p_chain(b)`` for categorical components stored densely.

    ``counts[node, b]`` and ``totals[node]`` per node; the global estimate is
    ``(c_0 + alphas[0] * base) / (t_0 + alphas[0])`` and deeper levels shrink
    towards their parent with ``alphas[level]``. Returns (n,) log-likelihoods.
    """
    n = hist.shape[0]
    nb = hist.shape[1]
    depth = chains.shape[1]
    out = np.zeros(n, dtype=np.float64)
    for i in range(n):
        own_t = 0.0
        if loo:
            for b in range(nb):
                own_t += hist[i, b]
        for b in range(nb):
            h = hist[i, b]
            if h == 0.0:
                continue
            own = h if loo else 0.0
            p = base[b]
            for lvl in range(depth):
                node = chains[i, lvl]
                if node < 0:
                    break
                t = totals[node] - (own_t if loo else 0.0)
                p = (counts[node, b] - own + alphas[lvl] * p) / (t + alphas[lvl])
            out[i] += h * np.log(p)
    return out


@njit
def vocab_logprob(symbols, tags, chains, tkeys, tvals, totals, alphas, loo):
    """``log p`` of each (hashed) symbol under a hierarchical "seen / new" model.

    At the global node ``p = c / (t + a)`` for a seen symbol and ``a / (t + a)``
    (the probability of something new) otherwise; deeper known nodes shrink
    towards their parent: ``(c_l + a_l * p) / (t_l + a_l)``. ``totals[node, tag]``
    and ``alphas[tag, level]``.
    """
    n = symbols.shape[0]
    depth = chains.shape[1]
    out = np.zeros(n, dtype=np.float64)
    own = 1.0 if loo else 0.0
    for i in range(n):
        tag = tags[i]
        p = 1.0
        for lvl in range(depth):
            node = chains[i, lvl]
            if node < 0:
                break
            c = table_get(tkeys, tvals, make_key(node, tag, symbols[i])) - own
            t = totals[node, tag] - own
            a = alphas[tag, lvl]
            if lvl == 0:
                p = (c if c > 0 else a) / (t + a)
            else:
                p = (c + a * p) / (t + a)
        out[i] = np.log(p)
    return out


@njit
def vocab_parent_probs(keys, node_parent, tkeys, tvals, totals, alphas):
    """Prior mean of each (deeper than global) symbol key: its parent node's estimate."""
    out = np.empty(keys.shape[0], dtype=np.float64)
    chain = np.empty(64, dtype=np.int64)
    for i in range(keys.shape[0]):
        node = (keys[i] >> _NODE_SHIFT) - 1
        tag = (keys[i] >> _TAG_SHIFT) & 63
        sym = keys[i] & ((np.int64(1) << _TAG_SHIFT) - 1)
        node = node_parent[node]
        m = 0
        while node >= 0 and m < 64:
            chain[m] = node
            m += 1
            node = node_parent[node]
        p = 1.0
        for j in range(m):
            nd = chain[m - 1 - j]
            c = table_get(tkeys, tvals, make_key(nd, tag, sym))
            a = alphas[tag, j]
            if j == 0:
                p = (c if c > 0 else a) / (totals[nd, tag] + a)
            else:
                p = (c + a * p) / (totals[nd, tag] + a)
        out[i] = p
    return out
