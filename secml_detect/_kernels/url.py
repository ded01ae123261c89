"""Kernels over ragged UTF-8 URL buffers: lexical statistics, hashed n-grams, char LM.

Every kernel takes flat arrays only (a ``uint8`` buffer plus ``int64``
offsets, see :mod:`secml_detect._ragged`). The slow reference of each one is
in ``tests/naive_url.py``.

URL anatomy used throughout (byte positions, leading/trailing ASCII
whitespace and control bytes ignored)::

    scheme://userinfo@host:port/path?query#fragment

* scheme: one or more of ``[A-Za-z0-9+.-]`` followed by ``://``; a leading
  ``//`` (protocol-relative) also starts the authority; otherwise the URL has
  no scheme and the authority starts at the first byte.
* authority ends at the first ``/``, ``?``, ``#`` or ``\\``; the host starts
  after its last ``@``; a port follows the first ``:`` (after ``]`` for a
  bracketed IPv6 literal); one trailing ``.`` of the host is ignored.
* path runs to the first ``?`` or ``#``; query to the first ``#``.

Public suffixes are looked up in three sorted ``uint64`` hash sets built from
the Public Suffix List (exact rules, wildcard parents ``*.X`` stored as ``X``,
exceptions ``!X`` stored as ``X``) using FNV-1a 64 over lower-cased bytes.
The registered label is the label left of the suffix (the last label when no
rule matches, as tldextract does); IP-literal hosts have none.
"""

from __future__ import annotations

import numpy as np

from .bytes import fnv1a_32
from .config import njit

FNV64_OFFSET = np.uint64(14695981039346656037)
FNV64_PRIME = np.uint64(1099511628211)

#: Names of the columns of :func:`url_lexical` (in order).
LEXICAL_FEATURES = (
    "url_len", "host_len", "path_len", "query_len", "fragment_len",
    "url_digits", "url_letters", "url_upper", "url_special", "url_non_ascii",
    "url_dots", "url_hyphens", "url_underscores", "url_slashes", "url_at",
    "url_percent", "url_equals", "url_amp", "url_tilde", "query_params",
    "path_depth", "path_double_slash", "host_dots", "host_hyphens", "host_digits",
    "subdomain_depth", "suffix_len", "suffix_labels", "domain_len", "domain_digits",
    "domain_hyphens", "domain_digit_run", "domain_consonant_run", "domain_vowel_ratio", "host_max_label",
    "url_entropy", "host_entropy", "domain_entropy", "ip_host", "has_port",
    "port_nonstandard", "has_scheme", "is_https", "has_userinfo", "punycode",
    "no_suffix", "suspicious_tokens", "invalid_escapes", "bare_host",
)
N_LEXICAL = len(LEXICAL_FEATURES)

#: Columns of the ``spans`` array returned by :func:`url_lexical`.
SPAN_FIELDS = ("host_start", "host_stop", "suffix_start", "domain_start", "domain_stop")


@njit
def _lower(b):
    if 65 <= b <= 90:
        return b + 32
    return b


@njit
def fnv1a_64_lower(data, start, stop):
    """FNV-1a 64 of the lower-cased bytes ``data[start:stop]``."""
    h = FNV64_OFFSET
    for k in range(start, stop):
        h = (h ^ np.uint64(_lower(data[k]))) * FNV64_PRIME
    return h


@njit
def span_hashes(data, starts, stops):
    """FNV-1a 64 (lower-cased) of each span ``data[starts[i]:stops[i]]``."""
    n = starts.shape[0]
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out[i] = fnv1a_64_lower(data, starts[i], stops[i])
    return out


@njit
def _contains(sorted_set, h):
    if sorted_set.shape[0] == 0:
        return False
    j = np.searchsorted(sorted_set, h)
    return j < sorted_set.shape[0] and sorted_set[j] == h


@njit
def _is_scheme_char(b):
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b == 43 or b == 45 or b == 46


@njit
def _is_hex(b):
    return (48 <= b <= 57) or (65 <= b <= 70) or (97 <= b <= 102)


@njit
def _entropy(data, start, stop, counts):
    n = stop - start
    if n <= 0:
        return 0.0
    for k in range(start, stop):
        counts[data[k]] += 1
    h = 0.0
    for k in range(start, stop):
        c = counts[data[k]]
        if c > 0:
            p = c / n
            h -= p * np.log2(p)
            counts[data[k]] = 0
    return h


@njit
def _find_suffix(data, hs, he, sfx_exact, sfx_wild, sfx_exc):
    """Start of the public suffix inside host ``[hs, he)`` (``he`` when none matches)."""
    p = hs
    while p < he:
        q = p
        while q < he and data[q] != 46:
            q += 1
        # q: the dot ending the first label of data[p:he] (or he)
        h = fnv1a_64_lower(data, p, he)
        if _contains(sfx_exc, h):
            return q + 1 if q < he else he
        if _contains(sfx_exact, h):
            return p
        if q < he and _contains(sfx_wild, fnv1a_64_lower(data, q + 1, he)):
            return p
        p = q + 1
    return he


@njit
def url_lexical(data, offsets, sfx_exact, sfx_wild, sfx_exc, tok_data, tok_offsets, tok_first):
    """Lexical statistics of each URL and the spans of its host parts.

    Parameters
    ----------
    data, offsets : ragged ``uint8`` buffer of URLs (UTF-8 bytes).
    sfx_exact, sfx_wild, sfx_exc : sorted ``uint64`` arrays
        Public-suffix hash sets (see the module docstring).
    tok_data, tok_offsets : ragged buffer of suspicious tokens (lower-case),
        sorted by first byte; ``tok_first`` (257,) indexes tokens by first byte.

    Returns
    -------
    feats : float64 (n, N_LEXICAL), columns :data:`LEXICAL_FEATURES`
    spans : int64 (n, 5), columns :data:`SPAN_FIELDS` (absolute positions in ``data``)
    """
    n = offsets.shape[0] - 1
    feats = np.zeros((n, N_LEXICAL), dtype=np.float64)
    spans = np.zeros((n, 5), dtype=np.int64)
    counts = np.zeros(256, dtype=np.int64)
    for i in range(n):
        s = offsets[i]
        e = offsets[i + 1]
        while s < e and data[s] <= 32:
            s += 1
        while e > s and data[e - 1] <= 32:
            e -= 1
        f = feats[i]
        # --- scheme
        j = s
        while j < e and _is_scheme_char(data[j]):
            j += 1
        a = s
        has_scheme = False
        is_https = False
        if j > s and j + 2 < e + 0 and data[j] == 58 and data[j + 1] == 47 and data[j + 2] == 47:
            has_scheme = True
            a = j + 3
            if j - s == 5 and _lower(data[s]) == 104 and _lower(data[s + 1]) == 116 and _lower(data[s + 2]) == 116 \
                    and _lower(data[s + 3]) == 112 and _lower(data[s + 4]) == 115:
                is_https = True
        elif e - s >= 2 and data[s] == 47 and data[s + 1] == 47:
            a = s + 2
        # --- authority
        ae = a
        while ae < e and data[ae] != 47 and data[ae] != 63 and data[ae] != 35 and data[ae] != 92:
            ae += 1
        hs = a
        has_userinfo = False
        for k in range(a, ae):
            if data[k] == 64:
                hs = k + 1
                has_userinfo = True
        he = ae
        has_port = False
        port_nonstd = False
        cstart = hs
        if hs < ae and data[hs] == 91:  # [IPv6]
            k = hs
            while k < ae and data[k] != 93:
                k += 1
            cstart = k
        for k in range(cstart, ae):
            if data[k] == 58:
                he = k
                has_port = True
                break
        if has_port:
            val = 0
            digits = he + 1 < ae
            for k in range(he + 1, ae):
                if 48 <= data[k] <= 57:
                    if val < 100000:
                        val = val * 10 + (data[k] - 48)
                else:
                    digits = False
            port_nonstd = not (digits and (val == 80 or val == 443))
        if he > hs and data[he - 1] == 46:
            he -= 1
        # --- path / query / fragment
        q = ae
        while q < e and data[q] != 63 and data[q] != 35:
            q += 1
        path_len = q - ae
        query_len = 0
        frag_len = 0
        if q < e and data[q] == 63:
            r = q + 1
            while r < e and data[r] != 35:
                r += 1
            query_len = r - q - 1
            if r < e:
                frag_len = e - r - 1
        elif q < e:
            frag_len = e - q - 1
        # --- host kind
        ip_host = False
        if he > hs:
            if data[hs] == 91:
                ip_host = True
            else:
                all_num = True
                any_digit = False
                for k in range(hs, he):
                    b = data[k]
                    if 48 <= b <= 57:
                        any_digit = True
                    elif b != 46:
                        all_num = False
                        break
                if all_num and any_digit:
                    ip_host = True
                elif he - hs > 2 and data[hs] == 48 and _lower(data[hs + 1]) == 120:
                    ok = True
                    for k in range(hs + 2, he):
                        b = data[k]
                        if not (_is_hex(b) or b == 46 or _lower(b) == 120):
                            ok = False
                            break
                    ip_host = ok
        # --- suffix and registered label
        if ip_host or he == hs:
            sfx = he
            ds = hs
            de = hs
            no_suffix = he > hs and not ip_host
        else:
            sfx = _find_suffix(data, hs, he, sfx_exact, sfx_wild, sfx_exc)
            no_suffix = sfx == he
            if sfx == hs:
                ds = hs
                de = hs
            else:
                de = sfx - 1 if sfx < he else he
                ds = de
                while ds > hs and data[ds - 1] != 46:
                    ds -= 1
        spans[i, 0] = hs
        spans[i, 1] = he
        spans[i, 2] = sfx
        spans[i, 3] = ds
        spans[i, 4] = de
        # --- whole-URL counts
        n_digits = 0
        n_letters = 0
        n_upper = 0
        n_special = 0
        n_non_ascii = 0
        n_dots = 0
        n_hyph = 0
        n_under = 0
        n_slash = 0
        n_at = 0
        n_pct = 0
        n_eq = 0
        n_amp = 0
        n_tilde = 0
        bad_esc = 0
        n_tok = 0
        for k in range(s, e):
            b = data[k]
            if 48 <= b <= 57:
                n_digits += 1
            elif 97 <= b <= 122:
                n_letters += 1
            elif 65 <= b <= 90:
                n_letters += 1
                n_upper += 1
            elif b >= 128:
                n_non_ascii += 1
            else:
                n_special += 1
                if b == 46:
                    n_dots += 1
                elif b == 45:
                    n_hyph += 1
                elif b == 95:
                    n_under += 1
                elif b == 47:
                    n_slash += 1
                elif b == 64:
                    n_at += 1
                elif b == 37:
                    n_pct += 1
                    if not (k + 2 < e and _is_hex(data[k + 1]) and _is_hex(data[k + 2])):
                        bad_esc += 1
                elif b == 61:
                    n_eq += 1
                elif b == 38:
                    n_amp += 1
                elif b == 126:
                    n_tilde += 1
            lb = _lower(b)
            for t in range(tok_first[lb], tok_first[lb + 1]):
                ts = tok_offsets[t]
                tl = tok_offsets[t + 1] - ts
                if k + tl <= e:
                    ok = True
                    for m in range(1, tl):
                        if _lower(data[k + m]) != tok_data[ts + m]:
                            ok = False
                            break
                    if ok:
                        n_tok += 1
        # --- path shape
        depth = 0
        dbl = 0
        for k in range(ae, q):
            if data[k] == 47 or data[k] == 92:
                depth += 1
                if k + 1 < q and (data[k + 1] == 47 or data[k + 1] == 92):
                    dbl += 1
        n_params = 0
        if query_len > 0:
            n_params = 1
            for k in range(q + 1, q + 1 + query_len):
                if data[k] == 38 or data[k] == 59:
                    n_params += 1
        # --- host shape
        h_dots = 0
        h_hyph = 0
        h_dig = 0
        max_label = 0
        cur = 0
        puny = False
        for k in range(hs, he):
            b = data[k]
            if b == 46:
                h_dots += 1
                cur = 0
            else:
                cur += 1
                if cur > max_label:
                    max_label = cur
                if b == 45:
                    h_hyph += 1
                    if cur == 4 and _lower(data[k - 3]) == 120 and _lower(data[k - 2]) == 110 and data[k - 1] == 45:
                        puny = True
                elif 48 <= b <= 57:
                    h_dig += 1
        sub_depth = 0
        for k in range(hs, ds):
            if data[k] == 46:
                sub_depth += 1
        sfx_labels = 0
        if sfx < he:
            sfx_labels = 1
            for k in range(sfx, he):
                if data[k] == 46:
                    sfx_labels += 1
        # --- registered label shape
        d_dig = 0
        d_hyph = 0
        run_d = 0
        max_d = 0
        run_c = 0
        max_c = 0
        vowels = 0
        letters = 0
        for k in range(ds, de):
            b = _lower(data[k])
            if 48 <= b <= 57:
                d_dig += 1
                run_d += 1
                if run_d > max_d:
                    max_d = run_d
                run_c = 0
            else:
                run_d = 0
                if 97 <= b <= 122:
                    letters += 1
                    if b == 97 or b == 101 or b == 105 or b == 111 or b == 117:
                        vowels += 1
                        run_c = 0
                    else:
                        run_c += 1
                        if run_c > max_c:
                            max_c = run_c
                else:
                    run_c = 0
                    if b == 45:
                        d_hyph += 1
        f[0] = e - s
        f[1] = he - hs
        f[2] = path_len
        f[3] = query_len
        f[4] = frag_len
        f[5] = n_digits
        f[6] = n_letters
        f[7] = n_upper
        f[8] = n_special
        f[9] = n_non_ascii
        f[10] = n_dots
        f[11] = n_hyph
        f[12] = n_under
        f[13] = n_slash
        f[14] = n_at
        f[15] = n_pct
        f[16] = n_eq
        f[17] = n_amp
        f[18] = n_tilde
        f[19] = n_params
        f[20] = depth
        f[21] = dbl
        f[22] = h_dots
        f[23] = h_hyph
        f[24] = h_dig
        f[25] = sub_depth
        f[26] = he - sfx
        f[27] = sfx_labels
        f[28] = de - ds
        f[29] = d_dig
        f[30] = d_hyph
        f[31] = max_d
        f[32] = max_c
        f[33] = vowels / letters if letters > 0 else 0.0
        f[34] = max_label
        f[35] = _entropy(data, s, e, counts)
        f[36] = _entropy(data, hs, he, counts)
        f[37] = _entropy(data, ds, de, counts)
        f[38] = 1.0 if ip_host else 0.0
        f[39] = 1.0 if has_port else 0.0
        f[40] = 1.0 if port_nonstd else 0.0
        f[41] = 1.0 if has_scheme else 0.0
        f[42] = 1.0 if is_https else 0.0
        f[43] = 1.0 if has_userinfo else 0.0
        f[44] = 1.0 if puny else 0.0
        f[45] = 1.0 if no_suffix else 0.0
        f[46] = n_tok
        f[47] = bad_esc
        f[48] = 1.0 if (path_len <= 1 and query_len == 0 and frag_len == 0) else 0.0
    return feats, spans


# ---------------------------------------------------------------------------
# Hashed n-grams straight into CSR
# ---------------------------------------------------------------------------

MARK_START = 2  # byte written before the registered label / suffix in hashed tokens
MARK_STOP = 3


@njit
def _emit_sorted(cols, vals, m, indices, values, nnz):
    """Sort ``cols[:m]`` and write merged (column, summed value) pairs."""
    order = np.argsort(cols[:m], kind="mergesort")
    j = 0
    while j < m:
        c = cols[order[j]]
        v = vals[order[j]]
        r = j + 1
        while r < m and cols[order[r]] == c:
            v += vals[order[r]]
            r += 1
        indices[nnz] = c
        values[nnz] = v
        nnz += 1
        j = r
    return nnz


@njit
def url_hashed_csr(data, offsets, spans, dense, n_min, n_max, n_features, seed, domain_weight):
    """One CSR row per URL: dense columns, then hashed n-grams.

    Columns ``[0, d)`` hold the non-zero entries of ``dense`` (n, d); columns
    ``d + (hash % n_features)`` hold, L2-normalised together:

    * n-grams of length ``n_min..n_max`` of the lower-cased URL (without
      surrounding whitespace), hashed with ``fnv1a_32`` and seed ``seed + g``;
    * n-grams of length 2..4 of the registered label framed as
      ``\\x02label\\x03`` (seed ``seed + 100 + g``), with weight ``domain_weight``;
    * the public suffix as one token ``\\x02suffix\\x03`` (seed ``seed + 200``),
      with weight ``domain_weight`` (the empty suffix when none is known).

    Returns
    -------
    indptr : int64 (n + 1,), indices : int32 (nnz,), values : float64 (nnz,)
    """
    n = offsets.shape[0] - 1
    d = dense.shape[1]
    total = 0
    maxrow = 0
    for i in range(n):
        length = offsets[i + 1] - offsets[i]
        m = 0
        for g in range(n_min, n_max + 1):
            if length >= g:
                m += length - g + 1
        dl = spans[i, 4] - spans[i, 3] + 2
        for g in range(2, 5):
            if dl >= g:
                m += dl - g + 1
        m += 1
        total += m + d
        if m > maxrow:
            maxrow = m
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices = np.empty(total, dtype=np.int32)
    values = np.empty(total, dtype=np.float64)
    cols = np.empty(maxrow, dtype=np.int64)
    vals = np.empty(maxrow, dtype=np.float64)
    scratch = np.empty(0, dtype=np.uint8)
    lowered = np.empty(0, dtype=np.uint8)
    nnz = 0
    for i in range(n):
        s = offsets[i]
        e = offsets[i + 1]
        while s < e and data[s] <= 32:
            s += 1
        while e > s and data[e - 1] <= 32:
            e -= 1
        for c in range(d):
            if dense[i, c] != 0.0:
                indices[nnz] = c
                values[nnz] = dense[i, c]
                nnz += 1
        L = e - s
        if lowered.shape[0] < L:
            lowered = np.empty(max(L, 2 * lowered.shape[0]), dtype=np.uint8)
        for k in range(L):
            lowered[k] = _lower(data[s + k])
        m = 0
        for g in range(n_min, n_max + 1):
            for p in range(0, L - g + 1):
                cols[m] = fnv1a_32(lowered, p, p + g, seed + g) % n_features
                vals[m] = 1.0
                m += 1
        ds = spans[i, 3]
        de = spans[i, 4]
        dl = de - ds + 2
        need = max(dl, spans[i, 1] - spans[i, 2] + 2)
        if scratch.shape[0] < need:
            scratch = np.empty(max(need, 2 * scratch.shape[0]), dtype=np.uint8)
        scratch[0] = MARK_START
        for k in range(ds, de):
            scratch[k - ds + 1] = _lower(data[k])
        scratch[dl - 1] = MARK_STOP
        for g in range(2, 5):
            for p in range(0, dl - g + 1):
                cols[m] = fnv1a_32(scratch, p, p + g, seed + 100 + g) % n_features
                vals[m] = domain_weight
                m += 1
        ss = spans[i, 2]
        se = spans[i, 1]
        scratch[0] = MARK_START
        for k in range(ss, se):
            scratch[k - ss + 1] = _lower(data[k])
        scratch[se - ss + 1] = MARK_STOP
        cols[m] = fnv1a_32(scratch, 0, se - ss + 2, seed + 200) % n_features
        vals[m] = domain_weight
        m += 1
        for k in range(m):
            cols[k] += d
        row_start = nnz
        nnz = _emit_sorted(cols, vals, m, indices, values, nnz)
        sq = 0.0
        for k in range(row_start, nnz):
            sq += values[k] * values[k]
        if sq > 0.0:
            inv = 1.0 / np.sqrt(sq)
            for k in range(row_start, nnz):
                values[k] *= inv
        indptr[i + 1] = nnz
    return indptr, indices[:nnz].copy(), values[:nnz].copy()


# ---------------------------------------------------------------------------
# Character language model of registered labels (hashed counts, Dirichlet smoothing)
# ---------------------------------------------------------------------------

LM_PAD = 2  # context padding byte before the label
LM_END = 3  # end-of-label symbol


@njit
def _lm_gram_hash(data, ds, de, pos, length, table_bits):
    """Hash of the gram of ``length`` symbols ending at symbol ``pos`` of the
    framed label ``PAD * (order-1) + label + END`` (symbol ``pos`` in
    ``[0, label_len]``; symbols before 0 are PAD)."""
    h = FNV64_OFFSET ^ np.uint64(length)
    for r in range(pos - length + 1, pos + 1):
        if r < 0:
            b = LM_PAD
        elif r >= de - ds:
            b = LM_END
        else:
            b = _lower(data[ds + r])
        h = (h ^ np.uint64(b)) * FNV64_PRIME
    # murmur3 finaliser: FNV's top bits barely depend on the last byte.
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return np.int64(h >> np.uint64(64 - table_bits))


@njit
def lm_update(data, starts, stops, cls, table, order):
    """Add the char n-gram counts (lengths 1..order) of each label to ``table[cls[i]]``.

    ``table`` is float64 (n_classes, 2**bits + 1); its last column counts symbols.
    Rows with ``cls[i] < 0`` are skipped.
    """
    size = table.shape[1] - 1
    bits = 0
    while (1 << bits) < size:
        bits += 1
    for i in range(starts.shape[0]):
        c = cls[i]
        if c < 0:
            continue
        ds = starts[i]
        de = stops[i]
        for length in range(1, order):  # all-padding contexts of the first symbols
            table[c, _lm_gram_hash(data, ds, de, -1, length, bits)] += 1.0
        for pos in range(0, de - ds + 1):
            table[c, size] += 1.0
            for length in range(1, order + 1):
                table[c, _lm_gram_hash(data, ds, de, pos, length, bits)] += 1.0


@njit
def lm_logprob(data, starts, stops, table, order, strength, base_prob):
    """Log-probability of each label (with its end symbol) under each class model.

    ``P(x | ctx_k) = (N(ctx_k x) + strength * P(x | ctx_{k-1})) / (N(ctx_k) + strength)``
    from the uniform ``base_prob`` up to contexts of ``order - 1`` symbols, where
    ``N(ctx_0) = `` the symbol count. Returns float64 (n, n_classes).
    """
    size = table.shape[1] - 1
    bits = 0
    while (1 << bits) < size:
        bits += 1
    n_classes = table.shape[0]
    out = np.zeros((starts.shape[0], n_classes), dtype=np.float64)
    for i in range(starts.shape[0]):
        ds = starts[i]
        de = stops[i]
        for c in range(n_classes):
            total = 0.0
            for pos in range(0, de - ds + 1):
                p = base_prob
                for length in range(1, order + 1):
                    joint = table[c, _lm_gram_hash(data, ds, de, pos, length, bits)]
                    if length == 1:
                        ctx = table[c, size]
                    else:
                        ctx = table[c, _lm_gram_hash(data, ds, de, pos - 1, length - 1, bits)]
                    p = (joint + strength * p) / (ctx + strength)
                total += np.log(p)
            out[i, c] = total
    return out
