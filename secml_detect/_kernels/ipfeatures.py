"""Spatial IP-address feature kernels over sorted integer tables.

Everything here takes flat numpy arrays; nothing sees a Python object.

* :func:`split_lines` turns one ``"\\n"``-joined byte buffer into a ragged
  batch (the fast path from a list of ``str`` to the parser, without touching
  each string from Python).
* :func:`ipv4_block` computes every IPv4 neighbourhood column in one pass:
  counts and smoothed rates of a
  :class:`~secml_detect.hierarchy.BetaBinomialHierarchy` at /8, /16, /20,
  /24, /32 (unseen nodes back off to the parent's rate, as
  :meth:`BetaBinomialHierarchy.rates` does), the nearest known-bad address
  and Tor-exit counts, with optional leave-one-out removal of the query's own
  label. Tables are laid out for memory latency (one record per /16).
* :func:`provider_block` writes the provider-range columns from the innermost
  range of each address, found by :func:`segment_lookup` over the elementary
  segments of the nested published ranges.
* :func:`hierarchy_lookup`, :func:`nearest_distance` and :func:`prefix_counts`
  are the generic versions (any key width, optional bucket index) used for
  IPv6 and for the provider hierarchy; :func:`bucket_offsets` builds the
  bucket index of a sorted table.
* :func:`pairwise_scores` is the classifier's single-threaded score: a dot
  product plus weighted products of chosen feature pairs.

IPv4 addresses are ``uint32`` (``1.2.3.4`` -> ``0x01020304``); IPv6 addresses
enter as their top 64 bits (``uint64``).
"""

from __future__ import annotations

import numpy as np

from .config import njit

__all__ = [
    "split_lines",
    "bucket_offsets",
    "ipv4_block",
    "provider_block",
    "segment_lookup",
    "hierarchy_lookup",
    "nearest_distance",
    "prefix_counts",
    "pairwise_scores",
]

#: Bucket shift meaning "no bucket index: search the whole table".
NO_BUCKETS = -1


@njit
def split_lines(buf, n_items):
    """Ragged ``(data, offsets, ok)`` of the ``n_items`` items of a ``b"\\n"``-joined buffer.

    The newlines are dropped from ``data``. ``ok`` is False when the buffer
    does not hold exactly ``n_items`` items (an item contained a newline);
    the caller must then convert item by item.
    """
    offsets = np.empty(n_items + 1, dtype=np.int64)
    data = np.empty(buf.shape[0], dtype=np.uint8)
    offsets[0] = 0
    k = 1
    w = 0
    for j in range(buf.shape[0]):
        c = buf[j]
        if c == 10:
            if k >= n_items:
                return data[:0], offsets, False
            offsets[k] = w
            k += 1
        else:
            data[w] = c
            w += 1
    if k != n_items:
        return data[:0], offsets, False
    offsets[n_items] = w
    return data[:w], offsets, True


@njit
def bucket_offsets(keys, shift):
    """Start of each bucket ``key >> shift`` in a sorted non-negative key table.

    Returns an ``int64`` array of length ``(keys[-1] >> shift) + 2``; the keys
    of bucket ``b`` are ``keys[off[b]:off[b + 1]]``. Queries whose bucket lies
    past the end are handled by :func:`_find` (empty range).
    """
    n = keys.shape[0]
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    n_buckets = (np.int64(keys[n - 1]) >> shift) + 1
    off = np.zeros(n_buckets + 1, dtype=np.int64)
    for j in range(n):
        off[(np.int64(keys[j]) >> shift) + 1] += 1
    for b in range(n_buckets):
        off[b + 1] += off[b]
    return off


@njit(inline="always")
def _lower_bound(table, lo, hi, key):
    while lo < hi:
        mid = (lo + hi) >> 1
        if table[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(inline="always")
def _range_of(off, shift, n, key):
    """Bounds ``[lo, hi)`` of the bucket holding ``key`` (whole table when ``shift < 0``)."""
    if shift < 0:
        return 0, n
    if key < 0:
        return 0, 0
    b = np.int64(key) >> shift
    if b + 1 >= off.shape[0]:
        return n, n
    return off[b], off[b + 1]


@njit
def hierarchy_lookup(keys, exclude, tab_keys, tab_succ, tab_trials, tab_rates,
                     tab_start, tab_off, off_start, shifts, global_rate):
    """Counts and smoothed rates of every query at every hierarchy level.

    Parameters
    ----------
    keys : int64 array (n, L)
        The query's node key at each level, coarsest first.
    exclude : int8 array (n,)
        ``-1``: plain query. ``0``/``1``: the query is a training observation
        with that label, removed from the counts of every node it belongs to
        (leave-one-out). Rates are then left as ``nan`` for the caller to
        fill with :meth:`BetaBinomialHierarchy.rates` (``exclude_y``).
    tab_keys, tab_succ, tab_trials, tab_rates : concatenated level tables
        Level ``l`` occupies ``tab_start[l]:tab_start[l + 1]``.
    tab_off, off_start, shifts : bucket index per level
        Level ``l``'s bucket offsets are ``tab_off[off_start[l]:off_start[l + 1]]``
        for buckets ``key >> shifts[l]`` (``shifts[l] < 0``: no index).
    global_rate : float
        The root rate (parent of level 0).

    Returns
    -------
    bad, benign, rate : float64 arrays (n, L)
        Successes, failures (trials minus successes) and the smoothed rate.
    """
    n = keys.shape[0]
    n_levels = keys.shape[1]
    bad = np.zeros((n, n_levels), dtype=np.float64)
    benign = np.zeros((n, n_levels), dtype=np.float64)
    rate = np.empty((n, n_levels), dtype=np.float64)
    for i in range(n):
        parent = global_rate
        ex = exclude[i]
        for lev in range(n_levels):
            base = tab_start[lev]
            size = tab_start[lev + 1] - base
            key = keys[i, lev]
            o0 = off_start[lev]
            lo, hi = _range_of(tab_off[o0:off_start[lev + 1]], shifts[lev], size, key)
            pos = _lower_bound(tab_keys[base:base + size], lo, hi, key)
            s = 0.0
            t = 0.0
            found = pos < hi and tab_keys[base + pos] == key
            if found:
                s = tab_succ[base + pos]
                t = tab_trials[base + pos]
            if ex >= 0:
                if found:
                    s -= ex
                    t -= 1.0
                rate[i, lev] = np.nan
            else:
                if found:
                    parent = tab_rates[base + pos]
                rate[i, lev] = parent
            bad[i, lev] = s
            benign[i, lev] = t - s
    return bad, benign, rate


@njit
def nearest_distance(queries, valid, exclude_self, table, off, shift, width):
    """Distance and longest common prefix to the nearest table entry.

    Parameters
    ----------
    queries : uint32 or uint64 array (n,)
    valid : bool array (n,)
        Invalid queries get distance ``2**width`` and prefix 0.
    exclude_self : bool array (n,)
        Leave-one-out: one copy of the query itself is ignored in the table.
    table : sorted array of the same dtype (duplicates allowed)
    off, shift : bucket index from :func:`bucket_offsets` (``shift < 0``: none;
        64-bit tables must not be bucketed)
    width : int
        Address width in bits (32 or 64).

    Returns
    -------
    log_distance : float64 (n,)
        ``log2(1 + |query - nearest|)``; ``width`` when the table is empty.
    common_prefix : float64 (n,)
        Longest common prefix (bits) with any nearest-side neighbour.
    """
    n = queries.shape[0]
    m = table.shape[0]
    logd = np.full(n, float(width), dtype=np.float64)
    cpl = np.zeros(n, dtype=np.float64)
    for i in range(n):
        if not valid[i] or m == 0:
            continue
        q = np.uint64(queries[i])
        lo, hi = _range_of(off, shift, m, np.int64(q))
        a = _lower_bound_u64(table, lo, hi, q)
        b = a
        while b < m and np.uint64(table[b]) == q:
            b += 1
        same = b - a
        if exclude_self[i] and same > 0:
            same -= 1
        best_d = -1.0
        best_cpl = 0
        if same > 0:
            best_d = 0.0
            best_cpl = width
        else:
            if a > 0:
                p = np.uint64(table[a - 1])
                best_d = float(q - p)
                best_cpl = _common_prefix(q, p, width)
            if b < m:
                s = np.uint64(table[b])
                d = float(s - q)
                c = _common_prefix(q, s, width)
                if best_d < 0 or d < best_d:
                    best_d = d
                if c > best_cpl:
                    best_cpl = c
        if best_d >= 0:
            logd[i] = np.log2(1.0 + best_d)
            cpl[i] = best_cpl
    return logd, cpl


@njit(inline="always")
def _common_prefix(a, b, width):
    x = np.uint64(a) ^ np.uint64(b)
    bits = 0
    while x != 0:
        x = x >> np.uint64(1)
        bits += 1
    return width - bits


@njit
def prefix_counts(queries, valid, table, prefix_bits, width):
    """How many entries of a sorted address table share each query's top bits.

    ``prefix_bits`` is an ``int64`` array of prefix lengths; the result has one
    column per length. ``width`` is 32 or 64.
    """
    n = queries.shape[0]
    k = prefix_bits.shape[0]
    out = np.zeros((n, k), dtype=np.float64)
    m = table.shape[0]
    if m == 0:
        return out
    for i in range(n):
        if not valid[i]:
            continue
        q = np.uint64(queries[i])
        for j in range(k):
            host = width - prefix_bits[j]
            if host >= 64:
                lo_v = np.uint64(0)
                hi_v = np.uint64(0xFFFFFFFFFFFFFFFF)
            elif host <= 0:
                lo_v = q
                hi_v = q
            else:
                mask = (np.uint64(1) << np.uint64(host)) - np.uint64(1)
                lo_v = q & ~mask
                hi_v = q | mask
            a = _lower_bound_u64(table, 0, m, lo_v)
            b = _upper_bound_u64(table, a, m, hi_v)
            out[i, j] = b - a
    return out


@njit(inline="always")
def _lower_bound_u64(table, lo, hi, key):
    while lo < hi:
        mid = (lo + hi) >> 1
        if np.uint64(table[mid]) < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(inline="always")
def _upper_bound_u64(table, lo, hi, key):
    while lo < hi:
        mid = (lo + hi) >> 1
        if np.uint64(table[mid]) <= key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(inline="always")
def _logit(p):
    if p < 1e-6:
        p = 1e-6
    elif p > 1.0 - 1e-6:
        p = 1.0 - 1e-6
    return np.log(p / (1.0 - p))


@njit(inline="always")
def _find_in(keys, lo, hi, key):
    pos = _lower_bound(keys, lo, hi, key)
    if pos < hi and keys[pos] == key:
        return pos
    return -1


@njit(inline="always")
def _loo_counts(out, i, col, node, succ, trials, e):
    """``log1p`` of a node's bad and benign counts with label ``e`` (0/1; -1: none) removed."""
    s = 0.0
    t = 0.0
    if node >= 0:
        s = succ[node]
        t = trials[node]
        if e >= 0:
            s -= e
            t -= 1.0
    out[i, col] = np.log1p(s)
    out[i, col + 1] = np.log1p(t - s)


#: Columns of the per-/16 record used by :func:`ipv4_block`.
B16_PRESENT, B16_LOG_BAD, B16_LOG_BENIGN, B16_LOGIT, B16_NODE = 0, 1, 2, 3, 4
B16_CHILD_LO, B16_CHILD_HI, B16_BAD_LO, B16_BAD_HI, B16_TOR_LO, B16_TOR_HI = 5, 6, 7, 8, 9, 10
B8_LOG_BAD, B8_LOG_BENIGN, B8_LOGIT, B8_NODE = 11, 12, 13, 14
B16_WIDTH = 16


@njit
def ipv4_block(q, order, ex, out, loo, block16, keys, succ, trials, node_values, bad, tor, log1p_table):
    """All IPv4 neighbourhood columns of a batch in one pass.

    Writes into ``out`` (n, >= 33): per level /8, /16, /20, /24, /32 the
    columns ``log1p(bad)``, ``log1p(benign)``, ``logit(rate)`` (0-14), then
    the nearest-bad distance and common prefix scaled by 1/32 (15, 16) and the
    Tor columns (30: exact exit, 31: ``log1p`` exits in the /24, 32: in the /16).

    Random addresses make this a memory-latency problem, so everything a
    query needs about its /16 sits in one 128-byte record ``block16[key16]``
    (float64, ``B16_WIDTH`` columns): the /16 node's precomputed column values
    and position, the /8 node's values and position, the child range of the
    /16 node among the /20 nodes, and the bounds of the /16 in the sorted
    known-bad (``bad``) and Tor-exit (``tor``) tables. Deeper levels are found
    by binary search among the children of the level above in the
    concatenated sorted node ``keys``; ``node_values`` (n_nodes, 5) holds
    each node's ``log1p(bad)``, ``log1p(benign)``, ``logit(rate)`` and its own
    child range. ``succ``/``trials`` are the raw counts (leave-one-out only)
    and ``log1p_table[k] = log1p(k)`` for small counts.

    Queries are visited in the order ``order`` (a permutation of ``range(n)``;
    sorting the addresses first turns random table reads into a sweep, about
    five times faster on a million random addresses); row ``i`` of ``out``
    always describes ``q[i]``.

    When ``loo`` is true, ``ex[i]`` (0/1, or -1 for none) is removed from the
    counts, the rate columns are left untouched (the caller fills them with
    the hierarchy's leave-one-out rates) and one copy of a bad address is
    ignored by the nearest-bad search.
    """
    n = q.shape[0]
    m_bad = bad.shape[0]
    m_log = log1p_table.shape[0]
    for j in range(n):
        i = order[j]
        v = np.int64(q[i])
        e = ex[i]
        b16 = v >> 16
        # /8 and /16 from the record
        if loo:
            for lev in range(2):
                node = np.int64(block16[b16, B8_NODE if lev == 0 else B16_NODE])
                _loo_counts(out, i, 3 * lev, node, succ, trials, e)
        else:
            out[i, 0] = block16[b16, B8_LOG_BAD]
            out[i, 1] = block16[b16, B8_LOG_BENIGN]
            out[i, 2] = block16[b16, B8_LOGIT]
            out[i, 3] = block16[b16, B16_LOG_BAD]
            out[i, 4] = block16[b16, B16_LOG_BENIGN]
            out[i, 5] = block16[b16, B16_LOGIT]
        parent_logit = block16[b16, B16_LOGIT]
        present = block16[b16, B16_PRESENT] > 0.0
        lo = np.int64(block16[b16, B16_CHILD_LO])
        hi = np.int64(block16[b16, B16_CHILD_HI])
        pos = -1
        for lev in range(2, 5):
            if present:
                key = v >> (12 if lev == 2 else (8 if lev == 3 else 0))
                pos = _find_in(keys, lo, hi, key)
                present = pos >= 0
                if present:
                    lo = np.int64(node_values[pos, 3])
                    hi = np.int64(node_values[pos, 4])
            if not loo:
                if present:
                    out[i, 3 * lev] = node_values[pos, 0]
                    out[i, 3 * lev + 1] = node_values[pos, 1]
                    parent_logit = node_values[pos, 2]
                else:
                    out[i, 3 * lev] = 0.0
                    out[i, 3 * lev + 1] = 0.0
                out[i, 3 * lev + 2] = parent_logit
            else:
                _loo_counts(out, i, 3 * lev, pos if present else -1, succ, trials, e)
        # nearest known-bad address
        logd = 32.0
        cpl = 0.0
        if m_bad > 0:
            a = _lower_bound(bad, np.int64(block16[b16, B16_BAD_LO]), np.int64(block16[b16, B16_BAD_HI]), v)
            z = a
            while z < m_bad and np.int64(bad[z]) == v:
                z += 1
            same = z - a
            if loo and e == 1 and same > 0:
                same -= 1
            if same > 0:
                logd = 0.0
                cpl = 32.0
            else:
                best = -1.0
                c = 0
                if a > 0:
                    p = np.int64(bad[a - 1])
                    best = float(v - p)
                    c = _common_prefix(v, p, 32)
                if z < m_bad:
                    s2 = np.int64(bad[z])
                    d = float(s2 - v)
                    c2 = _common_prefix(v, s2, 32)
                    if best < 0 or d < best:
                        best = d
                    if c2 > c:
                        c = c2
                if best >= 0:
                    logd = np.log2(1.0 + best)
                    cpl = float(c)
        out[i, 15] = logd / 32.0
        out[i, 16] = cpl / 32.0
        # Tor exits: exact, same /24, same /16
        lo = np.int64(block16[b16, B16_TOR_LO])
        hi = np.int64(block16[b16, B16_TOR_HI])
        n16 = hi - lo
        n24 = 0
        exact = 0
        if n16 > 0:
            k24 = (v >> 8) << 8
            a = _lower_bound(tor, lo, hi, k24)
            z = _lower_bound(tor, a, hi, k24 + 256)
            n24 = z - a
            x = _lower_bound(tor, a, z, v)
            if x < z and np.int64(tor[x]) == v:
                exact = 1
        out[i, 30] = exact
        out[i, 31] = log1p_table[n24] if n24 < m_log else np.log1p(n24)
        out[i, 32] = log1p_table[n16] if n16 < m_log else np.log1p(n16)


@njit
def provider_block(rid, ex, out, loo, range_provider, provider_category, provider_node, range_node,
                   succ, trials, node_values, root_logit):
    """Provider-range columns 17-29 of a batch (see ``IPSpatialFeatures``).

    ``rid`` is the innermost published range holding each address (-1: none);
    ``range_provider[rid]`` its provider, ``provider_category[provider]`` the
    category (one-hot in columns 18-23). The provider hierarchy (level 0:
    provider, level 1: range) is indexed directly: ``provider_node[p]`` and
    ``range_node[rid]`` are node positions (-1: no training address there).
    Counts and rates follow :func:`ipv4_block` (``loo``: own label removed,
    rate columns left for the caller).
    """
    n = rid.shape[0]
    for i in range(n):
        for c in range(17, 30):
            out[i, c] = 0.0
        r = rid[i]
        parent_logit = root_logit
        if r < 0:
            out[i, 26] = root_logit
            out[i, 29] = root_logit
            continue
        p = range_provider[r]
        out[i, 17] = 1.0
        out[i, 18 + provider_category[p]] = 1.0
        e = ex[i]
        for lev in range(2):
            pos = provider_node[p] if lev == 0 else range_node[r]
            col = 24 + 3 * lev
            if pos < 0:
                out[i, col + 2] = parent_logit
                continue
            if loo and e >= 0:
                s = succ[pos] - e
                t = trials[pos] - 1.0
                out[i, col] = np.log1p(s)
                out[i, col + 1] = np.log1p(t - s)
            else:
                out[i, col] = node_values[pos, 0]
                out[i, col + 1] = node_values[pos, 1]
                parent_logit = node_values[pos, 2]
                out[i, col + 2] = parent_logit


@njit
def segment_lookup(queries, valid, seg_starts, seg_values, off, shift):
    """Value of the last segment starting at or before each query.

    ``seg_starts`` (sorted, unique) cut the address line into elementary
    segments, each carrying one value (for nested ranges: the innermost range
    id, -1 in gaps), so a point query is one bucketed binary search. Queries
    before the first segment, or flagged invalid, get -1.
    """
    n = queries.shape[0]
    m = seg_starts.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    if m == 0:
        return out
    for i in range(n):
        if not valid[i]:
            continue
        q = np.uint64(queries[i])
        lo, hi = _range_of(off, shift, m, np.int64(q))
        # first position in [lo, hi) with start > q; everything before lo is <= q
        a = _upper_bound_u64(seg_starts, lo, hi, q)
        if a > 0:
            out[i] = seg_values[a - 1]
    return out


@njit
def pairwise_scores(Z, w, b, left, right, w_pair, out):
    """``out[i] = Z[i] @ w + b + sum_p w_pair[p] * Z[i, left[p]] * Z[i, right[p]]``.

    Single-threaded; rows with nan give nan. With no pairs it is the plain
    linear score.
    """
    n, k = Z.shape
    n_pairs = left.shape[0]
    for i in range(n):
        acc = b
        for j in range(k):
            acc += Z[i, j] * w[j]
        for p in range(n_pairs):
            acc += w_pair[p] * Z[i, left[p]] * Z[i, right[p]]
        out[i] = acc
