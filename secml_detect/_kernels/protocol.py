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
def _known_prefix(chains, i, nodes):
    """Copy the known nodes of ``chains[i]`` (global first) into ``nodes``; return how many."""
    m = 0
    for lvl in range(chains.shape[1]):
        if chains[i, lvl] < 0:
            break
        nodes[m] = chains[i, lvl]
        m += 1
    return m


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
        m = _known_prefix(chains, i, nodes)
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
def _ngram_key_probs(keys, node_parent, tkeys, tvals, order, alphas, betas, include_self):
    """Smoothed probability of each n-gram cell key, through its node's ancestors and, with
    ``include_self``, through its own node (order) too; without it, the prior mean ``p_parent``."""
    out = np.empty(keys.shape[0], dtype=np.float64)
    chain = np.empty(64, dtype=np.int64)
    zeros = np.zeros(order + 1, dtype=np.float64)
    own = 0 if include_self else 1
    for i in range(keys.shape[0]):
        node = (keys[i] >> _NODE_SHIFT) - 1
        tag = (keys[i] >> _TAG_SHIFT) & 63
        code = keys[i] & ((np.int64(1) << _TAG_SHIFT) - 1)
        if tag >= CTX_TAG:
            out[i] = 0.0
            continue
        m = 0
        while node >= 0 and m < 64:
            chain[m] = node
            m += 1
            node = node_parent[node]
        chain[:m] = chain[:m][::-1].copy()
        if m == 1:  # global node: orders up to its own (or the previous one)
            out[i] = _ngram_chain_prob(tkeys, tvals, chain, 1, code, tag, tag - own, alphas, betas, zeros, zeros)
        else:
            out[i] = _ngram_chain_prob(tkeys, tvals, chain, m - own, code, order, order, alphas, betas, zeros, zeros)
    return out


@njit
def ngram_parent_probs(keys, node_parent, tkeys, tvals, order, alphas, betas):
    """Prior mean ``p_parent`` of each n-gram cell key (used to fit the concentrations).

    A global cell of order ``k`` has the order ``k - 1`` global estimate as
    parent; a cell at a deeper node has its parent node's estimate.
    """
    return _ngram_key_probs(keys, node_parent, tkeys, tvals, order, alphas, betas, False)


@njit
def _dense_chain(hist, chains, counts, totals, alphas, base, loo, ref, clip):
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
            lp = np.log(p)
            out[i] += h * (min(lp - ref[i], 0.0) if clip else lp)
    return out


@njit
def dense_chain_loglik(hist, chains, counts, totals, alphas, base, loo):
    """``sum_b hist[i, b] * log p_chain(b)`` for categorical components stored densely.

    ``counts[node, b]`` and ``totals[node]`` per node; the global estimate is
    ``(c_0 + alphas[0] * base) / (t_0 + alphas[0])`` and deeper levels shrink
    towards their parent with ``alphas[level]``. Returns (n,) log-likelihoods.
    """
    return _dense_chain(hist, chains, counts, totals, alphas, base, loo, np.zeros(hist.shape[0]), False)


@njit
def dense_chain_excess(hist, chains, counts, totals, alphas, base, loo, ref):
    """Like :func:`dense_chain_loglik`, but each count only adds its surprise beyond
    ``ref[i]``: ``sum_b hist[i, b] * min(log p_chain(b) - ref[i], 0)``."""
    return _dense_chain(hist, chains, counts, totals, alphas, base, loo, ref, True)


@njit
def vocab_logprob(symbols, tags, chains, table, totals, alphas, loo):
    """``log p`` of each (hashed) symbol under a hierarchical "seen / new" model.

    At the global node ``p = c / (t + a)`` for a seen symbol and ``a / (t + a)``
    (the probability of something new) otherwise; deeper known nodes shrink
    towards their parent: ``(c_l + a_l * p) / (t_l + a_l)``. Counts come from a
    :func:`table_build_pairs` table, ``totals[node, tag]`` and ``alphas[tag, level]``.
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
            found, c_int = table_get_pair(table, make_key(node, tag, symbols[i]))
            c = float(c_int) - own
            t = totals[node, tag] - own
            a = alphas[tag, lvl]
            if lvl == 0:
                p = (c if c > 0 else a) / (t + a)
            else:
                p = (c + a * p) / (t + a)
        out[i] = np.log(p)
    return out


@njit
def vocab_parent_probs(keys, node_parent, table, totals, alphas):
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
            found, c_int = table_get_pair(table, make_key(nd, tag, sym))
            c = float(c_int)
            a = alphas[tag, j]
            if j == 0:
                p = (c if c > 0 else a) / (totals[nd, tag] + a)
            else:
                p = (c + a * p) / (totals[nd, tag] + a)
        out[i] = p
    return out


# --------------------------------------------------------------------------------------------
# HTTP/1.x request parsing (mirrors secml_detect.protocol.parsing.parse_http_request exactly)
# --------------------------------------------------------------------------------------------

LOC_QUERY, LOC_BODY, LOC_COOKIE, LOC_HEADER, LOC_PATH, LOC_PAYLOAD = 0, 1, 2, 3, 4, 5
(F_REQUEST_LINE, F_VERSION, F_NO_END, F_HEADER_LINE, F_BARE_LF, F_FOLD, F_PERCENT, F_NON_UTF8, F_CONTROL,
 F_BODY_SHORT, F_BODY_LONG, F_HEADER_SIZE, F_FRAMING, F_TOO_MANY, F_VALUE_CUT, F_JSON) = (1 << i for i in range(16))
_CL_CAP = 10**18


@njit
def _is_ws(b):
    return b == 32 or b == 9 or b == 10 or b == 13 or b == 11 or b == 12


@njit
def _is_hex(b):
    return (48 <= b <= 57) or (65 <= b <= 70) or (97 <= b <= 102)


@njit
def _hexval(b):
    if b <= 57:
        return b - 48
    if b <= 70:
        return b - 55
    return b - 87


@njit
def _lower(b):
    return b + 32 if 65 <= b <= 90 else b


@njit
def utf8_valid(data, start, stop):
    """Whether ``data[start:stop]`` is strict UTF-8 (as Python's decoder accepts it)."""
    i = start
    while i < stop:
        c = data[i]
        if c < 0x80:
            i += 1
            continue
        lo, hi = 0x80, 0xBF
        if 0xC2 <= c <= 0xDF:
            n = 1
        elif c == 0xE0:
            n, lo = 2, 0xA0
        elif 0xE1 <= c <= 0xEC or c == 0xEE or c == 0xEF:
            n = 2
        elif c == 0xED:
            n, hi = 2, 0x9F
        elif c == 0xF0:
            n, lo = 3, 0x90
        elif 0xF1 <= c <= 0xF3:
            n = 3
        elif c == 0xF4:
            n, hi = 3, 0x8F
        else:
            return False
        if i + n >= stop:
            return False
        if not (lo <= data[i + 1] <= hi):
            return False
        for j in range(2, n + 1):
            if not (0x80 <= data[i + j] <= 0xBF):
                return False
        i += n + 1
    return True


@njit
def _decode(src, start, stop, plus, out, pos):
    """Percent-decode ``src[start:stop]`` into ``out[pos:]``: (new pos, whether an escape was invalid)."""
    bad = False
    i = start
    while i < stop:
        c = src[i]
        if c == 37:  # '%'
            if i + 2 < stop and _is_hex(src[i + 1]) and _is_hex(src[i + 2]):
                out[pos] = _hexval(src[i + 1]) * 16 + _hexval(src[i + 2])
                pos += 1
                i += 3
                continue
            bad = True
            out[pos] = 37
        elif plus and c == 43:
            out[pos] = 32
        else:
            out[pos] = c
        pos += 1
        i += 1
    return pos, bad


@njit
def _strip(data, start, stop):
    while start < stop and _is_ws(data[start]):
        start += 1
    while stop > start and _is_ws(data[stop - 1]):
        stop -= 1
    return start, stop


@njit
def _equals_lower(data, start, stop, word):
    if stop - start != word.shape[0]:
        return False
    for k in range(word.shape[0]):
        if _lower(data[start + k]) != word[k]:
            return False
    return True


@njit
def _contains_lower(data, start, stop, word):
    m = word.shape[0]
    for s in range(start, stop - m + 1):
        ok = True
        for k in range(m):
            if _lower(data[s + k]) != word[k]:
                ok = False
                break
        if ok:
            return True
    return False


@njit
def _find(data, start, stop, byte):
    for k in range(start, stop):
        if data[k] == byte:
            return k
    return -1


def _word(text: bytes) -> np.ndarray:
    return np.frombuffer(text, dtype=np.uint8).copy()


_W_COOKIE = _word(b"cookie")
_W_CLEN = _word(b"content-length")
_W_TE = _word(b"transfer-encoding")
_W_CTYPE = _word(b"content-type")
_W_HOST = _word(b"host")
_W_JSON = _word(b"json")
_W_FORM = _word(b"x-www-form-urlencoded")
_W_PATH = _word(b"#path")
_W_BODY = _word(b"#body")
_W_DEFAULT = _word(b"default")


@njit
def _push(i, loc, name_src, ns, ne, lower, src, vs, ve, first_field, max_fields, max_value_bytes, names, npos,
          values, vpos, f_req, f_loc, name_off, value_off, nf, flags):
    """Append one field (name copied, optionally lower-cased; value cut to ``max_value_bytes``)."""
    n_end = npos
    for q in range(ns, ne):
        names[n_end] = _lower(name_src[q]) if lower else name_src[q]
        n_end += 1
    v_end = vpos
    for q in range(vs, min(ve, vs + max_value_bytes + 1)):
        values[v_end] = src[q]
        v_end += 1
    return _commit(i, loc, npos, n_end, vpos, v_end, first_field, max_fields, max_value_bytes, f_req, f_loc,
                   name_off, value_off, nf, flags)


@njit
def _reserve(arr, need):
    """``arr`` itself when it holds ``need`` items, else a copy with at least twice the room."""
    if arr.shape[0] >= need:
        return arr
    out = np.empty(max(need, 2 * arr.shape[0]), dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@njit
def parse_http_batch(data, offsets, max_fields, max_value_bytes, max_header_bytes):
    """Parse a batch of raw HTTP/1.x requests (see ``parse_http_request`` for the rules).

    Returns
    -------
    req : tuple
        ``(flags, slow, svc_off, method_off, endpoint_off)`` per request, the
        offsets indexing ``svc``, ``method`` and ``endpoint`` buffers; ``slow``
        marks requests the kernel leaves to the Python parser (JSON bodies).
    buffers : tuple
        ``(svc, method, endpoint)`` ``uint8`` buffers.
    fields : tuple
        ``(field_req, field_loc, name_off, name, value_off, value)``.
    """
    n = offsets.shape[0] - 1
    total = data.shape[0]
    flags_out = np.zeros(n, dtype=np.int64)
    slow = np.zeros(n, dtype=np.bool_)
    # output buffers start small and double when a request could overflow them (bounded memory)
    guess = total // 4 + 64
    svc = np.empty(guess, dtype=np.uint8)
    svc_off = np.zeros(n + 1, dtype=np.int64)
    meth = np.empty(guess, dtype=np.uint8)
    meth_off = np.zeros(n + 1, dtype=np.int64)
    endp = np.empty(guess, dtype=np.uint8)
    endp_off = np.zeros(n + 1, dtype=np.int64)
    f_req = np.empty(guess, dtype=np.int64)
    f_loc = np.empty(guess, dtype=np.int64)
    name_off = np.empty(guess + 1, dtype=np.int64)
    name_off[0] = 0
    names = np.empty(guess, dtype=np.uint8)
    value_off = np.empty(guess + 1, dtype=np.int64)
    value_off[0] = 0
    values = np.empty(guess, dtype=np.uint8)
    longest = 1
    for i in range(n):
        longest = max(longest, offsets[i + 1] - offsets[i] + 2)
    line_s = np.empty(longest, dtype=np.int64)
    line_e = np.empty(longest, dtype=np.int64)
    tok_s = np.empty(longest, dtype=np.int64)
    tok_e = np.empty(longest, dtype=np.int64)
    tbuf = np.empty(longest, dtype=np.uint8)
    dbuf = np.empty(longest, dtype=np.uint8)
    w_cookie = _W_COOKIE
    w_clen = _W_CLEN
    w_te = _W_TE
    w_ctype = _W_CTYPE
    w_host = _W_HOST
    w_json = _W_JSON
    w_form = _W_FORM
    w_path = _W_PATH
    w_body = _W_BODY
    w_default = _W_DEFAULT
    nf = 0  # fields written
    npos = 0  # name bytes written
    vpos = 0  # value bytes written
    spos = 0
    mpos = 0
    epos = 0
    for i in range(n):
        a = offsets[i]
        b = offsets[i + 1]
        size = b - a
        # worst cases of one request: every byte a field, "{n}" for each digit, fixed names
        svc = _reserve(svc, spos + 262)
        meth = _reserve(meth, mpos + 33)
        endp = _reserve(endp, epos + 3 * size + 2)
        f_req = _reserve(f_req, nf + size + 3)
        f_loc = _reserve(f_loc, nf + size + 3)
        name_off = _reserve(name_off, nf + size + 4)
        value_off = _reserve(value_off, nf + size + 4)
        names = _reserve(names, npos + size + 10)
        values = _reserve(values, vpos + size + 1)
        flags = 0
        req_first_field = nf
        # ---- head / body split
        end = -1
        for k in range(a, b - 3):
            if data[k] == 13 and data[k + 1] == 10 and data[k + 2] == 13 and data[k + 3] == 10:
                end = k
                break
        if end >= 0:
            hs, he, bs, be = a, end, end + 4, b
        else:
            for k in range(a, b - 1):
                if data[k] == 10 and data[k + 1] == 10:
                    end = k
                    break
            if end >= 0:
                hs, he, bs, be = a, end, end + 2, b
                flags |= F_BARE_LF
            else:
                hs, he, bs, be = a, b, b, b
                flags |= F_NO_END
        if he - hs > max_header_bytes:
            flags |= F_HEADER_SIZE
            he = hs + max_header_bytes
        # ---- lines
        nl = 0
        pos = hs
        while True:
            j = _find(data, pos, he, 10)
            stop = he if j < 0 else j
            e_ = stop
            if e_ > pos and data[e_ - 1] == 13:
                e_ -= 1
            elif j >= 0:
                flags |= F_BARE_LF
            line_s[nl] = pos
            line_e[nl] = e_
            nl += 1
            if j < 0:
                break
            pos = j + 1
        for k in range(hs, he):
            c = data[k]
            if c <= 8 or c == 11 or c == 12 or (14 <= c <= 31) or c == 127:
                flags |= F_CONTROL
                break
        # ---- request line tokens
        nt = 0
        k = line_s[0]
        e0 = line_e[0]
        while k < e0:
            while k < e0 and _is_ws(data[k]):
                k += 1
            if k >= e0:
                break
            tok_s[nt] = k
            while k < e0 and not _is_ws(data[k]):
                k += 1
            tok_e[nt] = k
            nt += 1
        has_version = False
        if nt >= 3:
            vs = tok_s[nt - 1]
            ve = tok_e[nt - 1]
            if ve - vs >= 5 and data[vs] == 72 and data[vs + 1] == 84 and data[vs + 2] == 84 and data[vs + 3] == 80 \
                    and data[vs + 4] == 47:
                has_version = True
        if has_version:
            t_first, t_last = 1, nt - 2
            if nt > 3:
                flags |= F_REQUEST_LINE
            vs = tok_s[nt - 1]
            ve = tok_e[nt - 1]
            known = ve - vs == 8 and data[vs + 5] == 49 and data[vs + 6] == 46 and (
                data[vs + 7] == 49 or data[vs + 7] == 48)
            known = known or (ve - vs == 8 and data[vs + 5] == 48 and data[vs + 6] == 46 and data[vs + 7] == 57)
            if not known:
                flags |= F_VERSION
        else:
            flags |= F_REQUEST_LINE | F_VERSION
            t_first, t_last = 1, nt - 1
        # method
        if nt > 0:
            ms, me = tok_s[0], tok_e[0]
            ok = 1 <= me - ms <= 20 and 65 <= data[ms] <= 90
            for q in range(ms + 1, me):
                c = data[q]
                if not (65 <= c <= 90 or c == 95 or c == 45):
                    ok = False
            if not ok:
                flags |= F_REQUEST_LINE
            for q in range(ms, min(me, ms + 32)):
                meth[mpos] = data[q]
                mpos += 1
        else:
            flags |= F_REQUEST_LINE
        meth_off[i + 1] = mpos
        # target: tokens joined by one space
        tl = 0
        for t in range(t_first, t_last + 1):
            if t > t_first:
                tbuf[tl] = 32
                tl += 1
            for q in range(tok_s[t], tok_e[t]):
                tbuf[tl] = data[q]
                tl += 1
        ts = 0
        if tl >= 7 and tbuf[0] == 104 and tbuf[1] == 116 and tbuf[2] == 116 and tbuf[3] == 112 and (
                (tbuf[4] == 58 and tbuf[5] == 47 and tbuf[6] == 47)
                or (tl >= 8 and tbuf[4] == 115 and tbuf[5] == 58 and tbuf[6] == 47 and tbuf[7] == 47)):
            dslash = 5 if tbuf[4] == 58 else 6
            rest = dslash + 2
            slash = _find(tbuf, rest, tl, 47)
            if slash >= 0:
                ts = slash
            else:
                tbuf[0] = 47
                ts, tl = 0, 1
        hash_at = _find(tbuf, ts, tl, 35)
        if hash_at >= 0:
            tl = hash_at
        qmark = _find(tbuf, ts, tl, 63)
        path_end = tl if qmark < 0 else qmark
        dl, bad = _decode(tbuf, ts, path_end, False, dbuf, 0)
        if bad:
            flags |= F_PERCENT
        if not utf8_valid(tbuf, ts, path_end):
            flags |= F_NON_UTF8
        # endpoint: normalised decoded path
        e_start = epos
        seg = 0
        while True:
            slash = _find(dbuf, seg, dl, 47)
            seg_end = dl if slash < 0 else slash
            length = seg_end - seg
            digits = length > 0
            hexish = length >= 16
            any_digit = False
            for q in range(seg, seg_end):
                c = dbuf[q]
                if not (48 <= c <= 57):
                    digits = False
                else:
                    any_digit = True
                if not (_is_hex(c) or c == 45):
                    hexish = False
            if digits:
                endp[epos] = 123
                endp[epos + 1] = 110
                endp[epos + 2] = 125
                epos += 3
            elif hexish and any_digit:
                endp[epos] = 123
                endp[epos + 1] = 105
                endp[epos + 2] = 100
                endp[epos + 3] = 125
                epos += 4
            else:
                for q in range(seg, seg_end):
                    endp[epos] = dbuf[q]
                    epos += 1
            if slash < 0:
                break
            endp[epos] = 47
            epos += 1
            seg = slash + 1
        if epos == e_start:
            endp[epos] = 47
            epos += 1
        endp_off[i + 1] = epos
        # the path field and the query parameters
        if dl > 1:
            nf, npos, vpos, flags = _push(i, LOC_PATH, w_path, 0, w_path.shape[0], False, dbuf, 0, dl,
                                          req_first_field, max_fields, max_value_bytes, names, npos, values, vpos,
                                          f_req, f_loc, name_off, value_off, nf, flags)
        if qmark >= 0:
            nf, npos, vpos, flags = _form(tbuf, qmark + 1, tl, LOC_QUERY, i, req_first_field, max_fields,
                                          max_value_bytes, names, npos, values, vpos, f_req, f_loc, name_off,
                                          value_off, nf, flags)
        # ---- header lines
        cl = -1
        ct_s, ct_e = 0, 0
        host_s, host_e = 0, 0
        for ln in range(1, nl):
            ls_, le_ = line_s[ln], line_e[ln]
            if le_ == ls_:
                continue
            if data[ls_] == 32 or data[ls_] == 9:
                flags |= F_FOLD
                continue
            colon = _find(data, ls_, le_, 58)
            name_end = le_ if colon < 0 else colon
            ns, ne = _strip(data, ls_, name_end)
            has_space = _find(data, ns, ne, 32) >= 0
            if colon < 0 or ne == ns or has_space:
                flags |= F_HEADER_LINE
                if colon < 0:
                    continue
            if not utf8_valid(data, ls_, le_):
                flags |= F_NON_UTF8
            vs_, ve_ = _strip(data, colon + 1, le_)
            if _equals_lower(data, ns, ne, w_cookie):
                c0 = vs_
                while True:
                    semi = _find(data, c0, ve_, 59)
                    c1 = ve_ if semi < 0 else semi
                    cs, ce = _strip(data, c0, c1)
                    eq = _find(data, cs, ce, 61)
                    nm_end = ce if eq < 0 else eq
                    v_start = ce if eq < 0 else eq + 1
                    npos2 = npos
                    for q in range(cs, nm_end):
                        names[npos2] = data[q]
                        npos2 += 1
                    vpos2, bad = _decode(data, v_start, ce, False, values, vpos)
                    if bad:
                        flags |= F_PERCENT
                    nf, npos, vpos, flags = _commit(i, LOC_COOKIE, npos, npos2, vpos, vpos2, req_first_field,
                                                    max_fields, max_value_bytes, f_req, f_loc, name_off, value_off,
                                                    nf, flags)
                    if semi < 0:
                        break
                    c0 = semi + 1
                continue
            if _equals_lower(data, ns, ne, w_clen):
                digits = ve_ > vs_
                for q in range(vs_, ve_):
                    if not (48 <= data[q] <= 57):
                        digits = False
                if cl >= 0 or not digits:
                    flags |= F_FRAMING
                if digits:
                    cl = 0
                    for q in range(vs_, ve_):
                        if cl < _CL_CAP:
                            cl = cl * 10 + (data[q] - 48)
                    if cl > _CL_CAP:
                        cl = _CL_CAP
            elif _equals_lower(data, ns, ne, w_te):
                if cl >= 0:
                    flags |= F_FRAMING
            elif _equals_lower(data, ns, ne, w_ctype):
                ct_s, ct_e = vs_, ve_
            elif _equals_lower(data, ns, ne, w_host):
                host_s, host_e = vs_, ve_
            nf, npos, vpos, flags = _push(i, LOC_HEADER, data, ns, ne, True, data, vs_, ve_, req_first_field,
                                          max_fields, max_value_bytes, names, npos, values, vpos, f_req, f_loc,
                                          name_off, value_off, nf, flags)
        # ---- body
        if cl >= 0:
            if be - bs < cl:
                flags |= F_BODY_SHORT
            elif be - bs > cl:
                flags |= F_BODY_LONG
                be = bs + cl
        if be > bs:
            if _contains_lower(data, ct_s, ct_e, w_json):
                slow[i] = True
            else:
                probe = min(be, bs + 256)
                form = _contains_lower(data, ct_s, ct_e, w_form) or (
                    ct_e == ct_s and _find(data, bs, probe, 61) >= 0 and _find(data, bs, probe, 10) < 0)
                if form:
                    nf, npos, vpos, flags = _form(data, bs, be, LOC_BODY, i, req_first_field, max_fields,
                                                  max_value_bytes, names, npos, values, vpos, f_req, f_loc,
                                                  name_off, value_off, nf, flags)
                else:
                    nf, npos, vpos, flags = _push(i, LOC_BODY, w_body, 0, w_body.shape[0], False, data, bs, be,
                                                  req_first_field, max_fields, max_value_bytes, names, npos, values,
                                                  vpos, f_req, f_loc, name_off, value_off, nf, flags)
        # ---- service
        s0 = spos
        if host_e > host_s:
            colon = _find(data, host_s, host_e, 58)
            stop = host_e if colon < 0 else colon
            for q in range(host_s, min(stop, host_s + 255)):
                svc[spos] = _lower(data[q])
                spos += 1
        if spos == s0:
            for q in range(w_default.shape[0]):
                svc[spos] = w_default[q]
                spos += 1
        svc_off[i + 1] = spos
        flags_out[i] = flags
    return ((flags_out, slow, svc_off, meth_off, endp_off), (svc[:spos].copy(), meth[:mpos].copy(),
            endp[:epos].copy()), (f_req[:nf].copy(), f_loc[:nf].copy(), name_off[:nf + 1].copy(),
            names[:npos].copy(), value_off[:nf + 1].copy(), values[:vpos].copy()))


@njit
def _commit(i, loc, n_begin, n_end, v_begin, v_end, first_field, max_fields, max_value_bytes, f_req, f_loc, name_off,
            value_off, nf, flags):
    """Keep a field already written at ``names[n_begin:n_end]``, ``values[v_begin:v_end]`` (value cut to
    ``max_value_bytes``), or drop it when the request already has ``max_fields``: (nf, npos, vpos, flags)."""
    if nf - first_field >= max_fields:
        return nf, n_begin, v_begin, flags | F_TOO_MANY
    if v_end - v_begin > max_value_bytes:
        flags |= F_VALUE_CUT
        v_end = v_begin + max_value_bytes
    f_req[nf] = i
    f_loc[nf] = loc
    nf += 1
    name_off[nf] = n_end
    value_off[nf] = v_end
    return nf, n_end, v_end, flags


@njit
def _form(src, start, stop, loc, i, first_field, max_fields, max_value_bytes, names, npos, values, vpos, f_req,
          f_loc, name_off, value_off, nf, flags):
    """``name=value&...`` pairs of ``src[start:stop]`` as fields (``+`` and escapes decoded)."""
    p0 = start
    while p0 <= stop:
        amp = _find(src, p0, stop, 38)
        p1 = stop if amp < 0 else amp
        if p1 > p0:
            eq = _find(src, p0, p1, 61)
            nm_end = p1 if eq < 0 else eq
            v_start = p1 if eq < 0 else eq + 1
            n_begin = npos
            v_begin = vpos
            npos2, bad1 = _decode(src, p0, nm_end, True, names, npos)
            vpos2, bad2 = _decode(src, v_start, p1, True, values, vpos)
            if bad1 or bad2:
                flags |= F_PERCENT
            nf, npos, vpos, flags = _commit(i, loc, n_begin, npos2, v_begin, vpos2, first_field, max_fields,
                                            max_value_bytes, f_req, f_loc, name_off, value_off, nf, flags)
        if amp < 0:
            break
        p0 = amp + 1
    return nf, npos, vpos, flags


# --------------------------------------------------------------------------------------------
# Node identities, symbols, de-duplication and the fast scoring path
# --------------------------------------------------------------------------------------------

#: Group label of the locations that do not hang under an endpoint (index = location code).
_GROUP_LABELS = [b"", b"", b"#cookie", b"#header", b"#path", b"#payload"]
GROUP_DATA = np.frombuffer(b"".join(_GROUP_LABELS), dtype=np.uint8).copy()
GROUP_OFF = np.r_[0, np.cumsum([len(g) for g in _GROUP_LABELS])].astype(np.int64)
_MASK62 = (np.int64(1) << 62) - 1
_BIT62 = np.int64(1) << 62


@njit
def hash64(data, start, stop, parent):
    """Positive, non-zero 64-bit identity of ``data[start:stop]`` under ``parent`` (two FNV-1a passes)."""
    lo = np.int64(fnv1a_32(data, start, stop, np.uint32(parent & 0xFFFFFFFF)))
    hi = np.int64(fnv1a_32(data, start, stop, np.uint32(((parent >> 32) & 0xFFFFFFFF) ^ 0x9E3779B9)))
    return ((hi << 32) | lo) & _MASK62 | _BIT62


@njit
def batch_hashes(svc, svc_off, endp, endp_off, names, name_off, values, value_off, field_req, field_loc,
                 group_data, group_off):
    """Identities of every node and symbol of a flat batch.

    Returns ``svc_h`` (n,), ``group_h`` (m,), ``param_h`` (m,): chained 64-bit
    identities of the service, the field's group (its endpoint for query and
    body fields, else the location's group label) and the field's parameter;
    ``endp_h`` (n,): identity of the request's endpoint (as a group);
    ``endp_sym`` (n,) and ``name_sym`` (m,): 32-bit symbol hashes.
    """
    n = svc_off.shape[0] - 1
    m = field_req.shape[0]
    svc_h = np.empty(n, dtype=np.int64)
    endp_h = np.empty(n, dtype=np.int64)
    endp_sym = np.empty(n, dtype=np.int64)
    for i in range(n):
        svc_h[i] = hash64(svc, svc_off[i], svc_off[i + 1], np.int64(0))
        endp_h[i] = hash64(endp, endp_off[i], endp_off[i + 1], svc_h[i])
        endp_sym[i] = np.int64(fnv1a_32(endp, endp_off[i], endp_off[i + 1], np.uint32(1)))
    group_h = np.empty(m, dtype=np.int64)
    param_h = np.empty(m, dtype=np.int64)
    name_sym = np.empty(m, dtype=np.int64)
    for f in range(m):
        i = field_req[f]
        loc = field_loc[f]
        if loc <= 1:
            g = hash64(endp, endp_off[i], endp_off[i + 1], svc_h[i])
        else:
            g = hash64(group_data, group_off[loc], group_off[loc + 1], svc_h[i])
        group_h[f] = g
        param_h[f] = hash64(names, name_off[f], name_off[f + 1], g)
        name_sym[f] = np.int64(fnv1a_32(names, name_off[f], name_off[f + 1], np.uint32(2)))
    return svc_h, group_h, param_h, endp_h, endp_sym, name_sym


@njit
def method_symbols(meth, meth_off):
    n = meth_off.shape[0] - 1
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = np.int64(fnv1a_32(meth, meth_off[i], meth_off[i + 1], np.uint32(3)))
    return out


@njit
def lookup_ids(tkeys, tvals, hashes):
    """Node id of each identity (``-1`` when unknown); the table stores ``id + 1``."""
    out = np.empty(hashes.shape[0], dtype=np.int64)
    for k in range(hashes.shape[0]):
        out[k] = np.int64(table_get(tkeys, tvals, hashes[k])) - 1
    return out


@njit
def field_identity(values, value_off, deepest):
    """64-bit identity of each field's (deepest known node, value) for de-duplication."""
    m = value_off.shape[0] - 1
    out = np.empty(m, dtype=np.int64)
    for f in range(m):
        out[f] = hash64(values, value_off[f], value_off[f + 1], deepest[f] + 7)
    return out


@njit
def same_as_representative(values, value_off, deepest, rep):
    """Whether field ``f`` holds exactly the bytes and node of field ``rep[f]`` (guards hash collisions)."""
    m = value_off.shape[0] - 1
    out = np.ones(m, dtype=np.bool_)
    for f in range(m):
        r = rep[f]
        if r == f:
            continue
        a, b = value_off[f], value_off[f + 1]
        c, d = value_off[r], value_off[r + 1]
        if deepest[f] != deepest[r] or b - a != d - c:
            out[f] = False
            continue
        for k in range(b - a):
            if values[a + k] != values[c + k]:
                out[f] = False
                break
    return out


@njit
def take_ragged(data, offsets, idx):
    """Items ``idx`` of a ragged buffer as a new (data, offsets) pair."""
    total = 0
    for k in range(idx.shape[0]):
        total += offsets[idx[k] + 1] - offsets[idx[k]]
    out = np.empty(total, dtype=np.uint8)
    off = np.zeros(idx.shape[0] + 1, dtype=np.int64)
    pos = 0
    for k in range(idx.shape[0]):
        for q in range(offsets[idx[k]], offsets[idx[k] + 1]):
            out[pos] = data[q]
            pos += 1
        off[k + 1] = pos
    return out, off


@njit
def ngram_final_values(keys, counts, node_parent, tkeys, tvals, order, alphas, betas):
    """Value of each n-gram key in the scoring table: the full smoothed probability for
    a cell (through all its node's ancestors), the raw count for a context total."""
    out = _ngram_key_probs(keys, node_parent, tkeys, tvals, order, alphas, betas, True)
    for i in range(keys.shape[0]):
        if ((keys[i] >> _TAG_SHIFT) & 63) >= CTX_TAG:
            out[i] = counts[i]
    return out


FIXED_ONE = float(1 << 32)  # log-probabilities are stored as int64 fixed point, 2**-32 nats per unit


@njit
def ngram_score_values(keys, final, node_level, alphas, betas):
    """Fixed-point log value of each n-gram key for :func:`ngram_logprobs_fixed`.

    A cell stores ``log p`` (its full smoothed probability, ``final``); a
    context total ``t`` stores the log shrinkage factor ``log(a / (t + a))``
    applied when a byte was never seen after that context at that node.
    """
    out = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        node = (keys[i] >> _NODE_SHIFT) - 1
        tag = (keys[i] >> _TAG_SHIFT) & 63
        if tag >= CTX_TAG:
            lvl = node_level[node]
            a = betas[tag - CTX_TAG] if lvl == 0 else alphas[lvl]
            v = np.log(a / (final[i] + a))
        else:
            v = np.log(final[i])
        out[i] = np.int64(np.round(v * FIXED_ONE))
    return out


@njit
def table_build_pairs(keys, values):
    """Open-addressing table with keys and ``int64`` values interleaved (one cache line per probe)."""
    cap = 16
    while cap < 2 * keys.shape[0]:
        cap *= 2
    table = np.zeros(2 * cap, dtype=np.int64)
    mask = np.uint64(cap - 1)
    for i in range(keys.shape[0]):
        slot = np.int64(_mix(keys[i]) & mask)
        while table[2 * slot] != 0 and table[2 * slot] != keys[i]:
            slot = (slot + 1) & (cap - 1)
        table[2 * slot] = keys[i]
        table[2 * slot + 1] = values[i]
    return table


@njit
def table_get_pair(table, key):
    """``(found, value)`` for ``key`` in a :func:`table_build_pairs` table."""
    cap = table.shape[0] // 2
    slot = np.int64(_mix(key) & np.uint64(cap - 1))
    while True:
        k = table[2 * slot]
        if k == key:
            return True, table[2 * slot + 1]
        if k == 0:
            return False, np.int64(0)
        slot = (slot + 1) & (cap - 1)


@njit
def ngram_logprobs_fixed(data, offsets, chains, table, order):
    """``ngram_logprobs(..., loo=False)`` to within 1e-8 nats, from :func:`ngram_score_values`:
    one probe per byte when the n-gram was seen at the field's deepest node, else a walk
    up the chain adding the stored log shrinkage factors."""
    n = offsets.shape[0] - 1
    depth = chains.shape[1]
    out = np.zeros(data.shape[0], dtype=np.float64)
    nodes = np.empty(depth, dtype=np.int64)
    uniform = np.int64(np.round(np.log(1.0 / 256.0) * FIXED_ONE))
    for i in range(n):
        start = offsets[i]
        m = _known_prefix(chains, i, nodes)
        for pos in range(start, offsets[i + 1]):
            if m == 0:
                out[pos] = uniform / FIXED_ONE
                continue
            code = ngram_code(data, start, pos, order, data[pos])
            x = code % NGRAM_BASE
            acc = np.int64(0)
            done = False
            for lvl in range(m - 1, 0, -1):
                found, v = table_get_pair(table, make_key(nodes[lvl], order, code))
                if found:
                    acc += v
                    done = True
                    break
                found, v = table_get_pair(table, make_key(nodes[lvl], CTX_TAG + order, code - x + ANY))
                acc += v
            if not done:
                for k in range(order, -1, -1):
                    ck = _suffix_code(code, k)
                    found, v = table_get_pair(table, make_key(nodes[0], k, ck))
                    if found:
                        acc += v
                        done = True
                        break
                    found, v = table_get_pair(table, make_key(nodes[0], CTX_TAG + k, ck - x + ANY))
                    acc += v
                if not done:
                    acc += uniform
            out[pos] = acc / FIXED_ONE
    return out
