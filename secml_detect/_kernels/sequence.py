"""Kernels over ragged ``int32`` token buffers: n-gram keys, count tables, surprise.

Token ids come from :class:`secml_detect._ragged.Vocabulary` (``0`` = unknown,
``1..`` known). Two more codes are used inside the kernels: ``BOS = -1`` pads
contexts before the first call and ``EOS = -2`` is the "sequence ended" event
predicted after the last call.

Every count of the n-gram model lives in **one** open-addressing hash table
keyed by 64-bit hashes:

* ``cell_key(node, context, x)``: how often token ``x`` followed ``context``
  in the sequences of ``node`` (node 0 = the global model; groups and entities
  have their own node ids);
* ``ctx_key(node, context)``: how often ``context`` was followed by anything;
* ``gth_key(node, context)``: the count of the ``g``-th most frequent successor
  of ``context`` (for the DeepLog-style top-g rule).

A context of length ``j`` ending before position ``t`` is hashed most recent
call first, so the hash of length ``j + 1`` extends the one of length ``j``.
"""

from __future__ import annotations

import numpy as np

from .bytes import append_sorted_counts
from .config import njit

BOS = -1
EOS = -2
_PRIME = np.uint64(1099511628211)
_SEED = np.uint64(14695981039346656037)
_CTX_MARK = np.uint64(0)
_GTH_MARK = np.uint64(1)
_CODE_SHIFT = 4  # token code = id + 4 >= 2 for every id >= EOS


@njit
def _mix(h, v):
    return np.uint64((h ^ np.uint64(v)) * _PRIME)


@njit
def _finish(h):
    # splitmix64 finaliser: spreads the bits for the table slots; 0 marks empty slots.
    z = np.uint64(h)
    z = np.uint64((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9))
    z = np.uint64((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB))
    z = np.uint64(z ^ (z >> np.uint64(31)))
    if z == np.uint64(0):
        z = np.uint64(1)
    return z


@njit
def node_seed(node):
    """Hash state of the empty context of ``node``."""
    return _mix(_SEED, np.uint64(node + 1))


@njit
def token_at(data, start, length, p):
    """Token at position ``p`` of an item: ``BOS`` before it, ``EOS`` at its end."""
    if p < 0:
        return BOS
    if p >= length:
        return EOS
    return data[start + p]


@njit
def extend(h, token):
    """Hash of a context extended one call further back by ``token``."""
    return _mix(h, np.uint64(token + _CODE_SHIFT))


@njit
def cell_key(h, x):
    return _finish(_mix(h, np.uint64(x + _CODE_SHIFT)))


@njit
def ctx_key(h):
    return _finish(_mix(h, _CTX_MARK))


@njit
def gth_key(h):
    return _finish(_mix(h, _GTH_MARK))


@njit
def count_targets(offsets, eos):
    """Number of predicted events: every call, plus one end event per item if ``eos``."""
    n = offsets.shape[0] - 1
    return offsets[n] - offsets[0] + (n if eos else 0)


@njit
def target_offsets(offsets, eos):
    """Offsets of each item's predicted events in the flat target arrays."""
    n = offsets.shape[0] - 1
    out = np.empty(n + 1, dtype=np.int64)
    out[0] = 0
    for i in range(n):
        out[i + 1] = out[i] + offsets[i + 1] - offsets[i] + (1 if eos else 0)
    return out


@njit
def emit_keys(data, offsets, nodes, order, level_from, eos):
    """Cell and context keys of every predicted event, for levels ``level_from..order``.

    Parameters
    ----------
    data, offsets : int32 tokens and int64 offsets of the ragged batch
    nodes : int64 (n_items,)
        Node of each item (0 = global); items with a negative node emit nothing
        (their rows hold 0).
    order : int
        Longest context length ``k``.
    level_from : int
        Shortest context length emitted.
    eos : bool
        Also emit the end-of-sequence event after the last call.

    Returns
    -------
    cells, contexts : uint64 arrays (n_targets, order - level_from + 1)
        Column ``j - level_from`` holds the keys for context length ``j``.
    """
    n = offsets.shape[0] - 1
    n_levels = order - level_from + 1
    total = count_targets(offsets, eos)
    cells = np.zeros((total, n_levels), dtype=np.uint64)
    ctxs = np.zeros((total, n_levels), dtype=np.uint64)
    row = 0
    for i in range(n):
        start = offsets[i]
        length = offsets[i + 1] - start
        stop_t = length + 1 if eos else length
        if nodes[i] < 0:
            row += stop_t
            continue
        seed = node_seed(nodes[i])
        for t in range(stop_t):
            x = token_at(data, start, length, t)
            h = seed
            for j in range(order + 1):
                if j > 0:
                    h = extend(h, token_at(data, start, length, t - j))
                if j >= level_from:
                    cells[row, j - level_from] = cell_key(h, x)
                    ctxs[row, j - level_from] = ctx_key(h)
            row += 1
    return cells, ctxs


@njit
def build_table(keys, values):
    """Open-addressing table (linear probing) of distinct non-zero ``keys``."""
    n = keys.shape[0]
    cap = 16
    while cap < 2 * n:
        cap *= 2
    tkeys = np.zeros(cap, dtype=np.uint64)
    tvals = np.zeros(cap, dtype=np.float64)
    mask = np.uint64(cap - 1)
    for i in range(n):
        k = keys[i]
        s = np.int64(k & mask)
        while tkeys[s] != np.uint64(0) and tkeys[s] != k:
            s = (s + 1) & (cap - 1)
        tkeys[s] = k
        tvals[s] += values[i]
    return tkeys, tvals


@njit
def lookup(tkeys, tvals, key):
    """Value stored under ``key`` (0.0 when absent)."""
    cap = tkeys.shape[0]
    s = np.int64(key & np.uint64(cap - 1))
    while True:
        k = tkeys[s]
        if k == key:
            return tvals[s]
        if k == np.uint64(0):
            return 0.0
        s = (s + 1) & (cap - 1)


@njit
def lookup_many(tkeys, tvals, keys):
    out = np.empty(keys.shape[0], dtype=np.float64)
    for i in range(keys.shape[0]):
        out[i] = lookup(tkeys, tvals, keys[i])
    return out


@njit
def _adjust(p, data, start, length, t, x, node, order, beta, tkeys, tvals):
    # One entity/group step at the longest context: pull the parent's p toward the node's counts.
    h = node_seed(node)
    for j in range(1, order + 1):
        h = extend(h, token_at(data, start, length, t - j))
    c = lookup(tkeys, tvals, ctx_key(h))
    if c > 0.0:
        cx = lookup(tkeys, tvals, cell_key(h, x))
        p = (cx + beta * p) / (c + beta)
    return p


@njit
def event_prob(data, start, length, t, top, order, alphas, p0, c0, tkeys, tvals,
               group, beta_group, entity, beta_entity, top_g):
    """Smoothed probability of the event at position ``t`` of one item.

    Back-off chain over context lengths ``0..top`` of the global model::

        p_0 = (c(x) + a_0 * uniform) / (c + a_0)
        p_j = (c(ctx_j, x) + a_j * p_{j-1}) / (c(ctx_j) + a_j)

    stopping at the first unseen context (its longer contexts are unseen too).
    When ``top == order``, a group node and then an entity node (``>= 0``)
    pull the result toward their own counts at the longest context with
    strengths ``beta_group`` and ``beta_entity``.

    ``p0`` and ``c0`` hold ``p_0`` and the unigram count of every id
    (index ``id + 2``; see :func:`level0`).

    Returns
    -------
    p : float
    outside : int
        1 when ``top_g > 0`` and ``x`` is not among the ``top_g`` most frequent
        successors of the longest seen context (DeepLog's rule), else 0.
    """
    x = token_at(data, start, length, t)
    h = node_seed(0)
    xi = x + 2 if x + 2 < p0.shape[0] else 2  # level 0 is precomputed per id (2 = unknown)
    p = p0[xi]
    seen_cx = c0[xi]
    seen_gth = 1.0
    if top_g > 0:
        seen_gth = lookup(tkeys, tvals, gth_key(h))
    for j in range(1, top + 1):
        h = extend(h, token_at(data, start, length, t - j))
        c = lookup(tkeys, tvals, ctx_key(h))
        if c == 0.0:
            break
        cx = lookup(tkeys, tvals, cell_key(h, x))
        p = (cx + alphas[j] * p) / (c + alphas[j])
        seen_cx = cx
        if top_g > 0:
            seen_gth = lookup(tkeys, tvals, gth_key(h))
    if top == order:
        if group >= 0:
            p = _adjust(p, data, start, length, t, x, group, order, beta_group, tkeys, tvals)
        if entity >= 0:
            p = _adjust(p, data, start, length, t, x, entity, order, beta_entity, tkeys, tvals)
    outside = 0
    if top_g > 0 and (seen_cx <= 0.0 or seen_cx < seen_gth):
        outside = 1
    return p, outside


@njit
def level0(tkeys, tvals, alpha0, uniform, max_id):
    """Base-level probability ``p_0`` and count of ids ``-2..max_id`` (index ``id + 2``)."""
    h = node_seed(0)
    total = lookup(tkeys, tvals, ctx_key(h))
    n = max_id + 3
    p0 = np.empty(n, dtype=np.float64)
    c0 = np.empty(n, dtype=np.float64)
    for xi in range(n):
        c = lookup(tkeys, tvals, cell_key(h, xi - 2))
        c0[xi] = c
        p0[xi] = (c + alpha0 * uniform) / (total + alpha0)
    return p0, c0


@njit
def _max_id(data):
    m = 0
    for k in range(data.shape[0]):
        if data[k] > m:
            m = data[k]
    return m


@njit
def surprises(data, offsets, groups, entities, order, alphas, uniform, tkeys, tvals,
              beta_group, beta_entity, eos, top_g):
    """Surprise ``-log p`` of every predicted event, and DeepLog's outside-top-g flags.

    Returns
    -------
    surprise : float64 (n_targets,)
        Laid out by :func:`target_offsets`.
    outside : uint8 (n_targets,)
    """
    n = offsets.shape[0] - 1
    total = count_targets(offsets, eos)
    out = np.empty(total, dtype=np.float64)
    flags = np.zeros(total, dtype=np.uint8)
    p0, c0 = level0(tkeys, tvals, alphas[0], uniform, _max_id(data))
    row = 0
    for i in range(n):
        start = offsets[i]
        length = offsets[i + 1] - start
        stop_t = length + 1 if eos else length
        for t in range(stop_t):
            p, o = event_prob(data, start, length, t, order, order, alphas, p0, c0, tkeys, tvals,
                              groups[i], beta_group, entities[i], beta_entity, top_g)
            out[row] = -np.log(p)
            flags[row] = o
            row += 1
    return out, flags


@njit
def aggregate(values, flags, toffsets, mode, window):
    """One score per item from its per-event surprises.

    ``mode`` 0: mean surprise; 1: largest mean over ``window`` consecutive
    events (the whole item when shorter); 2: total surprise; 3: number of
    events outside the top-g predictions (``flags``). Items without events
    score 0.
    """
    n = toffsets.shape[0] - 1
    out = np.zeros(n, dtype=np.float64)
    for i in range(n):
        a = toffsets[i]
        b = toffsets[i + 1]
        m = b - a
        if m == 0:
            continue
        if mode == 0 or mode == 2:
            s = 0.0
            for r in range(a, b):
                s += values[r]
            out[i] = s / m if mode == 0 else s
        elif mode == 1:
            w = window if window < m else m
            s = 0.0
            for r in range(a, a + w):
                s += values[r]
            best = s
            for r in range(a + w, b):
                s += values[r] - values[r - w]
                if s > best:
                    best = s
            out[i] = best / w
        else:
            c = 0
            for r in range(a, b):
                c += flags[r]
            out[i] = c
    return out


PAD = -3  # unused slots of a representative row


@njit
def gather_rows(data, offsets, occ_item, occ_pos, level, order, eos):
    """Representative token rows ``[pad.., c_j, .., c_1, x]`` (oldest first, ``x`` last).

    Row ``r`` describes the event at position ``occ_pos[r]`` of item
    ``occ_item[r]`` with a context of length ``level``.
    """
    m = occ_item.shape[0]
    out = np.full((m, order + 1), PAD, dtype=np.int32)
    for r in range(m):
        i = occ_item[r]
        start = offsets[i]
        length = offsets[i + 1] - start
        t = occ_pos[r]
        out[r, order] = token_at(data, start, length, t)
        for q in range(1, level + 1):
            out[r, order - q] = token_at(data, start, length, t - q)
    return out


@njit
def occurrences(offsets, eos):
    """Item index and position of every predicted event (target layout)."""
    n = offsets.shape[0] - 1
    total = count_targets(offsets, eos)
    items = np.empty(total, dtype=np.int64)
    pos = np.empty(total, dtype=np.int64)
    row = 0
    for i in range(n):
        stop_t = offsets[i + 1] - offsets[i] + (1 if eos else 0)
        for t in range(stop_t):
            items[row] = i
            pos[row] = t
            row += 1
    return items, pos


@njit
def row_keys(rows, levels, nodes, order):
    """Cell, context and top-g keys of representative rows."""
    m = rows.shape[0]
    cells = np.empty(m, dtype=np.uint64)
    ctxs = np.empty(m, dtype=np.uint64)
    gths = np.empty(m, dtype=np.uint64)
    for r in range(m):
        h = node_seed(nodes[r])
        for q in range(1, levels[r] + 1):
            h = extend(h, rows[r, order - q])
        cells[r] = cell_key(h, rows[r, order])
        ctxs[r] = ctx_key(h)
        gths[r] = gth_key(h)
    return cells, ctxs, gths


@njit
def row_probs(rows, levels, top, order, alphas, uniform, tkeys, tvals,
              groups, beta_group, entities, beta_entity):
    """Smoothed probability of each row's last token given its context (up to ``top``)."""
    m = rows.shape[0]
    out = np.empty(m, dtype=np.float64)
    max_id = 0
    for r in range(m):
        for q in range(rows.shape[1]):
            if rows[r, q] > max_id:
                max_id = rows[r, q]
    p0, c0 = level0(tkeys, tvals, alphas[0], uniform, max_id)
    for r in range(m):
        j = levels[r]
        tp = top if top < j else j
        # The row is an item of length j + 1 whose event sits at position j.
        p, o = event_prob(rows[r], order - j, j + 1, j, tp, order, alphas, p0, c0, tkeys, tvals,
                          groups[r], beta_group, entities[r], beta_entity, 0)
        out[r] = p
    return out


@njit
def hashed_ngram_features(data, offsets, order, eos, n_features):
    """Counts of every (context, call) n-gram of lengths 1..order+1, hashed into columns.

    The n-grams are the events the generative model counts (its cell keys at
    each context length, start padding and end event included), so the
    discriminative companion sees the same featurisation. Returns CSR arrays
    ``indptr`` (int64), ``indices`` (int32, sorted per row), ``counts`` (float64).
    """
    n = offsets.shape[0] - 1
    cells, _ = emit_keys(data, offsets, np.zeros(n, dtype=np.int64), order, 0, eos)
    toff = target_offsets(offsets, eos)
    width = order + 1
    total = cells.shape[0] * width
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices = np.empty(total, dtype=np.int32)
    counts = np.empty(total, dtype=np.float64)
    nnz = 0
    for i in range(n):
        m = (toff[i + 1] - toff[i]) * width
        cols = np.empty(m, dtype=np.int64)
        for r in range(toff[i], toff[i + 1]):
            for j in range(width):
                cols[(r - toff[i]) * width + j] = np.int64(cells[r, j] % np.uint64(n_features))
        nnz = append_sorted_counts(cols, indices, counts, nnz)
        indptr[i + 1] = nnz
    return indptr, indices[:nnz].copy(), counts[:nnz].copy()
