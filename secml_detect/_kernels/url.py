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


def _char_tables():
    cls = np.full(256, 4, dtype=np.uint8)  # 0 digit, 1 lower, 2 upper, 3 non-ASCII, 4 other
    cls[48:58] = 0
    cls[97:123] = 1
    cls[65:91] = 2
    cls[128:] = 3
    special = np.zeros(256, dtype=np.uint8)  # url_dots .. url_tilde -> 1..9
    for k, ch in enumerate(".-_/@%=&~"):
        special[ord(ch)] = k + 1
    lower = np.arange(256, dtype=np.uint8)
    lower[65:91] += 32
    return cls, special, lower


CHAR_CLASS, SPECIAL_INDEX, LOWER = _char_tables()
#: ``c * log2(c)`` for ``c < 4096`` (entropy without a logarithm per byte value).
XLOGX = np.zeros(4096, dtype=np.float64)
XLOGX[1:] = np.arange(1, 4096) * np.log2(np.arange(1, 4096, dtype=np.float64))


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


SFX_EXACT = 1
SFX_WILD = 2
SFX_EXC = 4


def build_suffix_table(exact, wild, exc):
    """Open-addressing table of the three suffix hash sets, one ``uint64`` per slot.

    A slot holds the hash with its low 3 bits replaced by the flags
    ``SFX_EXACT | SFX_WILD | SFX_EXC`` (0 = empty slot); size: the next power
    of two >= 2x the keys (one array, so one cache miss per probe).
    """
    hashes = np.concatenate([exact, wild, exc]).astype(np.uint64)
    bits = np.concatenate([np.full(len(exact), SFX_EXACT), np.full(len(wild), SFX_WILD),
                           np.full(len(exc), SFX_EXC)]).astype(np.uint64)
    size = 16
    while size < 2 * max(len(hashes), 1):
        size *= 2
    table = np.zeros(size, dtype=np.uint64)
    _fill_table(hashes, bits, table)
    return table


_LOW3 = np.uint64(7)
_HIGH = ~np.uint64(7)


@njit
def _slot(h, mask):
    return np.int64(((h >> np.uint64(3)) ^ (h >> np.uint64(31))) & np.uint64(mask))


@njit
def _fill_table(hashes, bits, table):
    mask = table.shape[0] - 1
    for i in range(hashes.shape[0]):
        key = hashes[i] & _HIGH
        j = _slot(hashes[i], mask)
        while table[j] != 0 and (table[j] & _HIGH) != key:
            j = (j + 1) & mask
        table[j] = key | (table[j] & _LOW3) | bits[i]


@njit
def _lookup(table, h):
    """Flags of hash ``h`` (0 when absent)."""
    mask = table.shape[0] - 1
    key = h & _HIGH
    j = _slot(h, mask)
    while table[j] != 0:
        if (table[j] & _HIGH) == key:
            return np.int64(table[j] & _LOW3)
        j = (j + 1) & mask
    return 0


@njit
def _is_scheme_char(b):
    return (48 <= b <= 57) or (65 <= b <= 90) or (97 <= b <= 122) or b == 43 or b == 45 or b == 46


@njit
def _is_hex(b):
    return (48 <= b <= 57) or (65 <= b <= 70) or (97 <= b <= 102)


@njit
def _xlogx(c):
    if c < XLOGX.shape[0]:
        return XLOGX[c]
    return c * np.log2(np.float64(c))


@njit
def _entropy_of_histogram(counts, seen, n_seen, n):
    """Shannon entropy (bits per byte) ``(n log2 n - sum_b c_b log2 c_b) / n`` of a span of ``n`` bytes.

    ``counts`` holds the span's byte histogram and ``seen[:n_seen]`` its
    distinct bytes in order of first occurrence (the order of the sum); ``c
    log2 c`` comes from the :data:`XLOGX` table (no logarithm per byte value).
    ``counts`` is reset to zero.
    """
    acc = 0.0
    for j in range(n_seen):
        b = seen[j]
        acc += _xlogx(counts[b])
        counts[b] = 0
    if n <= 0:
        return 0.0
    return (_xlogx(n) - acc) / n


@njit(inline="always")
def _count_byte(b, counts, seen, n_seen):
    """Add byte ``b`` to a histogram; returns the new number of distinct bytes (no branch)."""
    seen[n_seen] = b
    n_seen += counts[b] == 0
    counts[b] += 1
    return n_seen


#: Multiplier of the hash of a byte trigram into the 2**16 slots of the token filter.
TRIGRAM_MULT = 0x9E3779B1


@njit(inline="always")
def _trigram_slot(tri):
    return (tri * TRIGRAM_MULT >> 16) & 0xFFFF


@njit
def _tokens_at(data, k, e, bucket, bucket_start, bucket_tokens, tok_data, tok_offsets):
    """Tokens of ``bucket`` that occur (lower-cased) at ``data[k:e]``."""
    hits = 0
    for j in range(bucket_start[bucket], bucket_start[bucket + 1]):
        t = bucket_tokens[j]
        ts = tok_offsets[t]
        tl = tok_offsets[t + 1] - ts
        if k + tl <= e:
            ok = True
            for m in range(tl):
                if LOWER[data[k + m]] != tok_data[ts + m]:
                    ok = False
                    break
            if ok:
                hits += 1
    return hits


@njit
def _find_suffix(data, hs, he, sfx_table):
    """Start of the public suffix inside host ``[hs, he)`` (``he`` when none matches).

    The suffix set holds FNV-1a 64 hashes of the **reversed**, lower-cased
    rules, so one right-to-left pass hashes every candidate suffix
    ``data[p:he]`` (``p`` the host start or just after a dot). The answer is
    the leftmost candidate that is an exception (its parent is the suffix),
    an exact rule, or whose parent is a wildcard ``*.parent`` rule.
    """
    best = he
    h = FNV64_OFFSET
    parent_flags = 0  # flags of the candidate right of the current one
    k = he - 1
    while k >= hs - 1:
        if k < hs or data[k] == 46:
            p = k + 1  # candidate data[p:he]
            fl = 0
            if p < he:
                fl = _lookup(sfx_table, h)
                if fl & SFX_EXC:
                    q = p
                    while q < he and data[q] != 46:
                        q += 1
                    best = q + 1 if q < he else he
                elif fl & SFX_EXACT:
                    best = p
                elif parent_flags & SFX_WILD:
                    best = p
            parent_flags = fl
            if k < hs:
                break
        h = (h ^ np.uint64(LOWER[data[k]])) * FNV64_PRIME
        k -= 1
    return best


def url_lexical(data, offsets, sfx_table, tok_data, tok_offsets, tok_single, tok_bits, tok_bucket, bucket_start,
                bucket_tokens):
    """Lexical statistics of each URL and the spans of its host parts.

    Parameters
    ----------
    data, offsets : ragged ``uint8`` buffer of URLs (UTF-8 bytes).
    sfx_table : suffix hash table from :func:`build_suffix_table`.
    tok_data, tok_offsets : ragged buffer of suspicious tokens (lower-case).
    tok_single : uint8 (256,) 1 for each one-byte token.
    tok_bits : uint8 (8192,) bit set over the :func:`_trigram_slot` of the
        byte trigrams that start a longer token (a two-byte token marks its
        256 trigrams); ``tok_bucket`` : uint16 (65536,) the bucket of each
        slot, whose tokens are ``bucket_tokens[bucket_start[j]:bucket_start[j + 1]]``.

    Returns
    -------
    feats : float64 (n, N_LEXICAL), columns :data:`LEXICAL_FEATURES`
    spans : int64 (n, 5), columns :data:`SPAN_FIELDS` (absolute positions in ``data``)

    The outputs are allocated here, by numpy, not inside the kernel: numpy
    asks for huge pages for large arrays, so writing a fresh (n, 49) array
    takes a fraction of the page faults of numba's allocation.
    """
    n = offsets.shape[0] - 1
    feats = np.empty((n, N_LEXICAL), dtype=np.float64)
    spans = np.empty((n, 5), dtype=np.int64)
    _url_lexical_into(data, offsets, sfx_table, tok_data, tok_offsets, tok_single, tok_bits, tok_bucket,
                      bucket_start, bucket_tokens, feats, spans)
    return feats, spans


@njit
def _url_lexical_into(data, offsets, sfx_table, tok_data, tok_offsets, tok_single, tok_bits, tok_bucket,
                      bucket_start, bucket_tokens, feats, spans):
    """:func:`url_lexical` writing every cell of ``feats`` and ``spans``.

    Each URL is walked in few passes: one over the whole URL (byte histogram
    and suspicious tokens; character classes, special characters and the
    entropy then come from the histogram's distinct bytes), the parse of
    scheme, authority, path and query, one over the host (shape, dots and its
    histogram) and one over the registered label.
    """
    n = offsets.shape[0] - 1
    counts = np.zeros(256, dtype=np.int64)
    seen = np.empty(256, dtype=np.uint8)
    char_class = np.zeros(5, dtype=np.int64)
    special = np.zeros(10, dtype=np.int64)
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
        # --- authority (the host starts after its last '@')
        ae = a
        hs = a
        has_userinfo = False
        while ae < e:
            b = data[ae]
            if b == 47 or b == 63 or b == 35 or b == 92:
                break
            if b == 64:
                hs = ae + 1
                has_userinfo = True
            ae += 1
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
        # --- path (with its shape) / query (with its parameters) / fragment
        q = ae
        depth = 0
        dbl = 0
        prev_slash = False
        while q < e:
            b = data[q]
            if b == 63 or b == 35:
                break
            slash = b == 47 or b == 92
            if slash:
                depth += 1
                if prev_slash:
                    dbl += 1
            prev_slash = slash
            q += 1
        path_len = q - ae
        query_len = 0
        frag_len = 0
        n_params = 0
        if q < e and data[q] == 63:
            r = q + 1
            seps = 0
            while r < e and data[r] != 35:
                if data[r] == 38 or data[r] == 59:
                    seps += 1
                r += 1
            query_len = r - q - 1
            if query_len > 0:
                n_params = 1 + seps
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
            sfx = _find_suffix(data, hs, he, sfx_table)
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
        # --- whole URL: byte histogram and suspicious tokens in one pass
        n_seen = 0
        n_tok = 0
        tri = 0  # lower-cased bytes k, k + 1, k + 2 (0 past the end)
        for k in range(s, min(s + 3, e)):
            tri |= np.int64(LOWER[data[k]]) << (16 - 8 * (k - s))
        for k in range(s, e):
            n_seen = _count_byte(data[k], counts, seen, n_seen)
            n_tok += tok_single[tri >> 16]
            slot = _trigram_slot(tri)
            if (tok_bits[slot >> 3] >> (slot & 7)) & 1:
                n_tok += _tokens_at(data, k, e, tok_bucket[slot], bucket_start, bucket_tokens, tok_data, tok_offsets)
            tri = ((tri << 8) & 0xFFFFFF) | (np.int64(LOWER[data[k + 3]]) if k + 3 < e else 0)
        # character classes and special characters from the distinct bytes
        char_class[:] = 0
        special[:] = 0
        acc = 0.0
        for jj in range(n_seen):
            b = seen[jj]
            c = counts[b]
            acc += _xlogx(c)
            char_class[CHAR_CLASS[b]] += c
            special[SPECIAL_INDEX[b]] += c
            counts[b] = 0
        url_entropy = (_xlogx(e - s) - acc) / (e - s) if e > s else 0.0
        bad_esc = 0
        if special[6] > 0:  # some '%': count those not followed by two hex digits
            for k in range(s, e):
                if data[k] == 37 and not (k + 2 < e and _is_hex(data[k + 1]) and _is_hex(data[k + 2])):
                    bad_esc += 1
        # --- host shape, subdomain / suffix dots and the host histogram in one pass
        h_dots = 0
        h_hyph = 0
        h_dig = 0
        sub_depth = 0
        sfx_dots = 0
        max_label = 0
        cur = 0
        puny = False
        n_seen = 0
        for k in range(hs, he):
            b = data[k]
            n_seen = _count_byte(b, counts, seen, n_seen)
            if b == 46:
                h_dots += 1
                if k < ds:
                    sub_depth += 1
                elif k >= sfx:
                    sfx_dots += 1
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
        host_entropy = _entropy_of_histogram(counts, seen, n_seen, he - hs)
        sfx_labels = sfx_dots + 1 if sfx < he else 0
        # --- registered label shape and histogram
        d_dig = 0
        d_hyph = 0
        run_d = 0
        max_d = 0
        run_c = 0
        max_c = 0
        vowels = 0
        letters = 0
        n_seen = 0
        for k in range(ds, de):
            n_seen = _count_byte(data[k], counts, seen, n_seen)
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
        domain_entropy = _entropy_of_histogram(counts, seen, n_seen, de - ds)
        f[0] = e - s
        f[1] = he - hs
        f[2] = path_len
        f[3] = query_len
        f[4] = frag_len
        f[5] = char_class[0]
        f[6] = char_class[1] + char_class[2]
        f[7] = char_class[2]
        f[8] = char_class[4]
        f[9] = char_class[3]
        for c in range(9):
            f[10 + c] = special[c + 1]
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
        f[35] = url_entropy
        f[36] = host_entropy
        f[37] = domain_entropy
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


#: ``log1p(c)`` of the counts ``c < 4096`` (the lexical count columns are integers).
LOG1P = np.log1p(np.arange(4096, dtype=np.float64))


@njit
def log1p_columns(x, columns, out):
    """``out = x`` with ``log1p`` applied to the columns where ``columns`` (bool) is set.

    One pass instead of numpy's gather, ``log1p`` and scatter; small whole
    numbers read :data:`LOG1P`, others call ``log1p`` (the same C library
    function numpy calls, so the results are numpy's).
    """
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            if columns[j]:
                k = np.int64(v) if 0.0 <= v < 4096.0 else -1
                out[i, j] = LOG1P[k] if k >= 0 and k == v else np.log1p(v)
            else:
                out[i, j] = v


# ---------------------------------------------------------------------------
# Hashed n-grams straight into CSR (or straight into a linear score)
# ---------------------------------------------------------------------------

MARK_START = 2  # byte framing the registered label / suffix in hashed tokens
MARK_STOP = 3
FNV32_OFFSET = np.uint32(2166136261)
FNV32_PRIME = np.uint32(16777619)


@njit
def _framed_byte(data, ds, de, r):
    """Byte ``r`` of ``MARK_START + lower(data[ds:de]) + MARK_STOP``."""
    if r == 0:
        return MARK_START
    if r == de - ds + 1:
        return MARK_STOP
    return LOWER[data[ds + r - 1]]


@njit(inline="always")
def _column(h, n_features):
    """``h % n_features`` (a mask when ``n_features`` is a power of two: no division)."""
    if n_features & (n_features - 1) == 0:
        return np.int64(h & np.uint32(n_features - 1))
    return np.int64(h % np.uint32(n_features))


@njit
def _row_grams(data, s, e, ds, de, ss, se, n_min, n_max, n_features, seed, domain_weight, with_domain, col0, value,
               cols, vals, m):
    """Hashed block of one URL: ``(column, value)`` of every gram, duplicates kept.

    Gram hashes: FNV-1a 32 from ``OFFSET ^ seed`` over the gram's bytes, then
    one more FNV round with the gram length ``g`` (so the grams starting at one
    position share their prefix work); column ``col0 + hash % n_features``.

    * URL grams: lower-cased ``data[s:e]``, lengths ``n_min..n_max``, seed
      ``seed``, value ``value``;
    * when ``with_domain``, label grams: framed registered label, lengths
      2..4, seed ``seed + 100``, value ``domain_weight * value``;
    * and the suffix token: the whole framed suffix, seed ``seed + 200``,
      value ``domain_weight * value``.

    Writes ``cols[m:m_end]``, ``vals[m:m_end]`` (straight into the CSR arrays
    or into a scratch row) and returns ``m_end``.
    """
    for p in range(s, e):
        h = np.uint32(FNV32_OFFSET ^ np.uint32(seed))
        for g in range(1, n_max + 1):
            if p + g > e:
                break
            h = np.uint32((h ^ np.uint32(LOWER[data[p + g - 1]])) * FNV32_PRIME)
            if g >= n_min:
                cols[m] = col0 + _column(np.uint32((h ^ np.uint32(g)) * FNV32_PRIME), n_features)
                vals[m] = value
                m += 1
    if not with_domain:
        return m
    dvalue = domain_weight * value
    dl = de - ds + 2
    for p in range(dl):
        h = np.uint32(FNV32_OFFSET ^ np.uint32(seed + 100))
        for g in range(1, 5):
            if p + g > dl:
                break
            h = np.uint32((h ^ np.uint32(_framed_byte(data, ds, de, p + g - 1))) * FNV32_PRIME)
            if g >= 2:
                cols[m] = col0 + _column(np.uint32((h ^ np.uint32(g)) * FNV32_PRIME), n_features)
                vals[m] = dvalue
                m += 1
    h = np.uint32(FNV32_OFFSET ^ np.uint32(seed + 200))
    for r in range(se - ss + 2):
        h = np.uint32((h ^ np.uint32(_framed_byte(data, ss, se, r))) * FNV32_PRIME)
    cols[m] = col0 + _column(h, n_features)
    vals[m] = dvalue
    return m + 1


@njit
def _trim(data, s, e):
    while s < e and data[s] <= 32:
        s += 1
    while e > s and data[e - 1] <= 32:
        e -= 1
    return s, e


@njit
def _n_grams(length, n_min, n_max):
    """Number of grams of lengths ``n_min..n_max`` in ``length`` bytes."""
    m = 0
    for g in range(n_min, n_max + 1):
        if length >= g:
            m += length - g + 1
    return m


@njit
def _row_bound(offsets, spans, i, n_min, n_max):
    return _n_grams(offsets[i + 1] - offsets[i], n_min, n_max) + 3 * (spans[i, 4] - spans[i, 3] + 2) + 1


@njit
def _csr_row_sizes(data, offsets, spans, dense, n_min, n_max, with_domain, sizes):
    """Exact entries of each CSR row (dense non-zeros + grams) into ``sizes``."""
    for i in range(offsets.shape[0] - 1):
        m = 0
        for c in range(dense.shape[1]):
            if dense[i, c] != 0.0:
                m += 1
        s, e = _trim(data, offsets[i], offsets[i + 1])
        m += _n_grams(e - s, n_min, n_max)
        if with_domain:
            m += _n_grams(spans[i, 4] - spans[i, 3] + 2, 2, 4) + 1
        sizes[i] = m


def url_hashed_csr(data, offsets, spans, dense, n_min, n_max, n_features, seed, domain_weight, with_domain=True):
    """One CSR row per URL: dense columns, then the hashed n-gram block.

    Columns ``[0, d)`` hold the non-zero entries of ``dense`` (n, d); column
    ``d + c`` gets each gram of :func:`_row_grams` hashed to ``c``, scaled by
    ``1 / sqrt(sum of squared gram values)`` (the L2 norm of the block when
    no two grams share a column). A column hit by several grams appears
    several times in the row (CSR consumers add duplicates up, as
    ``sum_duplicates`` does); indices are not sorted. ``with_domain=False``
    leaves out the label grams and the suffix token (``spans`` is then not
    read): the URL's char n-grams alone, as ``HashingVectorizer`` makes them.

    Two passes: the exact size of each row, then the entries written straight
    into arrays that numpy allocates (numpy asks for huge pages, so the
    first touch of a large fresh array costs few page faults).

    Returns
    -------
    indptr : int32 (int64 past 2**31 entries) (n + 1,), indices : int32 (nnz,), values : float64 (nnz,)
    """
    n = offsets.shape[0] - 1
    sizes = np.empty(n, dtype=np.int64)
    _csr_row_sizes(data, offsets, spans, dense, n_min, n_max, with_domain, sizes)
    total = int(sizes.sum())
    indptr = np.zeros(n + 1, dtype=np.int32 if total < 2**31 else np.int64)
    np.cumsum(sizes, out=indptr[1:])
    indices = np.empty(total, dtype=np.int32)
    values = np.empty(total, dtype=np.float64)
    _fill_hashed_csr(data, offsets, spans, dense, n_min, n_max, n_features, seed, domain_weight, with_domain,
                     indptr, indices, values)
    return indptr, indices, values


@njit
def _fill_hashed_csr(data, offsets, spans, dense, n_min, n_max, n_features, seed, domain_weight, with_domain,
                     indptr, indices, values):
    """The entries of :func:`url_hashed_csr`, row ``i`` at ``indptr[i]:indptr[i + 1]``."""
    d = dense.shape[1]
    w2 = domain_weight * domain_weight
    for i in range(offsets.shape[0] - 1):
        nnz = indptr[i]
        for c in range(d):
            if dense[i, c] != 0.0:
                indices[nnz] = c
                values[nnz] = dense[i, c]
                nnz += 1
        s, e = _trim(data, offsets[i], offsets[i + 1])
        sq = np.float64(_n_grams(e - s, n_min, n_max))
        if with_domain:
            sq += (_n_grams(spans[i, 4] - spans[i, 3] + 2, 2, 4) + 1) * w2
        inv = 1.0 / np.sqrt(sq) if sq > 0.0 else 0.0
        _row_grams(data, s, e, spans[i, 3], spans[i, 4], spans[i, 2], spans[i, 1], n_min, n_max, n_features, seed,
                   domain_weight, with_domain, d, inv, indices, values, nnz)


@njit
def url_linear_scores(data, offsets, spans, dense, n_min, n_max, n_features, seed, domain_weight, coef, intercept):
    """``url_hashed_csr(...) @ coef + intercept`` without building the matrix."""
    n = offsets.shape[0] - 1
    d = dense.shape[1]
    out = np.empty(n, dtype=np.float64)
    longest = 0
    for i in range(n):
        longest = max(longest, _row_bound(offsets, spans, i, n_min, n_max))
    cols = np.empty(longest, dtype=np.int64)
    vals = np.empty(longest, dtype=np.float64)
    for i in range(n):
        z = intercept
        for c in range(d):
            z += dense[i, c] * coef[c]
        s, e = _trim(data, offsets[i], offsets[i + 1])
        m = _row_grams(data, s, e, spans[i, 3], spans[i, 4], spans[i, 2], spans[i, 1], n_min, n_max, n_features,
                       seed, domain_weight, True, 0, 1.0, cols, vals, 0)
        sq = 0.0
        dot = 0.0
        for k in range(m):
            v = vals[k]
            sq += v * v
            dot += v * coef[d + cols[k]]
        out[i] = z + (dot / np.sqrt(sq) if sq > 0.0 else 0.0)
    return out


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

    ``table`` is float64 (2**bits + 1, n_classes) (the classes of one gram share
    a cache line); its last row counts symbols.
    Rows with ``cls[i] < 0`` are skipped.
    """
    size = table.shape[0] - 1
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
            table[_lm_gram_hash(data, ds, de, -1, length, bits), c] += 1.0
        for pos in range(0, de - ds + 1):
            table[size, c] += 1.0
            for length in range(1, order + 1):
                table[_lm_gram_hash(data, ds, de, pos, length, bits), c] += 1.0


@njit
def lm_logprob(data, starts, stops, table, order, strength, base_prob):
    """Log-probability of each label (with its end symbol) under each class model.

    ``P(x | ctx_k) = (N(ctx_k x) + strength * P(x | ctx_{k-1})) / (N(ctx_k) + strength)``
    from the uniform ``base_prob`` up to contexts of ``order - 1`` symbols, where
    ``N(ctx_0) = `` the symbol count. Returns float64 (n, n_classes).
    """
    size = table.shape[0] - 1
    bits = 0
    while (1 << bits) < size:
        bits += 1
    n_classes = table.shape[1]
    out = np.zeros((starts.shape[0], n_classes), dtype=np.float64)
    p = np.empty(n_classes, dtype=np.float64)
    prod = np.ones(n_classes, dtype=np.float64)
    prev = np.empty(order + 1, dtype=np.int64)  # gram buckets ending at the previous position
    cur = np.empty(order + 1, dtype=np.int64)
    for i in range(starts.shape[0]):
        ds = starts[i]
        de = stops[i]
        for length in range(1, order):
            prev[length] = _lm_gram_hash(data, ds, de, -1, length, bits)
        for pos in range(0, de - ds + 1):
            p[:] = base_prob
            for length in range(1, order + 1):
                jg = _lm_gram_hash(data, ds, de, pos, length, bits)
                cur[length] = jg
                # the context of this gram is the gram one shorter ending one position earlier
                jc = size if length == 1 else prev[length - 1]
                for c in range(n_classes):
                    p[c] = (table[jg, c] + strength * p[c]) / (table[jc, c] + strength)
            for c in range(n_classes):
                # one logarithm per label, not per symbol: multiply, and fold
                # into the log only before the product could underflow
                prod[c] *= p[c]
                if prod[c] < 1e-200:
                    out[i, c] += np.log(prod[c])
                    prod[c] = 1.0
            for length in range(1, order + 1):
                prev[length] = cur[length]
        for c in range(n_classes):
            out[i, c] += np.log(prod[c])
            prod[c] = 1.0
    return out
