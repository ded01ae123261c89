"""URL kernels against the plain references in tests/naive_url.py."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import naive_url
from secml_detect._kernels import url as ku
from secml_detect._ragged import to_ragged_bytes
from secml_detect.url import URLFeatures

FEATURES = URLFeatures(n_features=2**12).fit()
TOK = FEATURES._tok
TOKENS = sorted({t.lower().encode() for t in FEATURES.tokens_})
EXACT = {int(h) for h in FEATURES.suffix_exact_}
WILD = {int(h) for h in FEATURES.suffix_wild_}
EXC = {int(h) for h in FEATURES.suffix_exc_}

# URL-shaped text built from pieces that hit every parsing branch, plus arbitrary text and bytes.
pieces = st.sampled_from([
    "http", "https", "HTTPS", "ftp", "://", "//", ":", "@", "[", "]", "::1", ".", "..", "/", "\\", "?", "#", "&",
    ";", "=", "%", "%4", "%41", "%zz", "-", "_", "~", "xn--", "www", "example", "paypal", "login", "co", "uk",
    "com", "ck", "www.ck", "kitakyushu", "jp", "city", "azurewebsites", "net", "192", "168", "0x7f", "0X1A",
    "8080", "80", "443", " ", "\t", "é", "中国", "公司", "\x00", "\x7f", "A", "Z", "9", "q", "bdfgh", "aeiou",
])
url_text = st.lists(pieces, max_size=14).map("".join)
items = st.one_of(url_text, url_text, st.text(max_size=40), st.binary(max_size=40))
batches = st.lists(items, max_size=10)


def _bytes(item):
    return item if isinstance(item, bytes) else item.encode("utf-8", "surrogatepass")


def _lexical(batch):
    r = to_ragged_bytes(batch)
    feats, spans = ku.url_lexical(r.data, r.offsets, FEATURES.suffix_table_, *TOK)
    return r, feats, spans


@given(batches)
def test_url_lexical_matches_reference(batch):
    r, feats, spans = _lexical(batch)
    assert feats.shape == (len(batch), ku.N_LEXICAL)
    for i, item in enumerate(batch):
        expected, (suffix, label) = naive_url.url_lexical(_bytes(item), EXACT, WILD, EXC, TOKENS)
        got = dict(zip(ku.LEXICAL_FEATURES, feats[i].tolist()))
        assert got.keys() == expected.keys()
        for name in got:
            assert got[name] == pytest.approx(expected[name], abs=1e-12), (name, item)
        hs, he, ss, ds, de = spans[i]
        assert r.data[ss:he].tobytes() == suffix
        assert r.data[ds:de].tobytes() == label


@given(batches, st.integers(1, 3), st.integers(0, 2), st.sampled_from([1, 97, 1 << 16]), st.integers(0, 2**20),
       st.sampled_from([0.5, 1.0, 2.0, 0.3]), st.booleans())
def test_url_hashed_csr_matches_reference(batch, n_min, extra, n_features, seed, weight, with_domain):
    r, feats, spans = _lexical(batch)
    dense = np.log1p(feats[:, :3])
    indptr, indices, values = ku.url_hashed_csr(r.data, r.offsets, spans, dense, n_min, n_min + extra,
                                                n_features, seed, weight, with_domain)
    assert len(indptr) == len(batch) + 1 and indptr[-1] == len(indices) == len(values)
    for i, item in enumerate(batch):
        _, (suffix, label) = naive_url.url_lexical(_bytes(item), EXACT, WILD, EXC, TOKENS)
        expected = naive_url.url_hashed_row(_bytes(item), dense[i], label, suffix, n_min, n_min + extra,
                                            n_features, seed, weight, with_domain)
        row = {}
        for c, v in zip(indices[indptr[i]:indptr[i + 1]].tolist(), values[indptr[i]:indptr[i + 1]].tolist()):
            row[c] = row.get(c, 0.0) + v  # duplicates add up, as in any CSR consumer
        assert sorted(row) == sorted(expected)
        np.testing.assert_allclose([row[c] for c in sorted(row)], [expected[c] for c in sorted(row)], rtol=1e-12)
    if not with_domain:
        return
    # the fused linear score equals the matrix product
    coef = np.random.default_rng(seed).normal(size=dense.shape[1] + n_features)
    got = ku.url_linear_scores(r.data, r.offsets, spans, dense, n_min, n_min + extra, n_features, seed, weight,
                               coef, 0.25)
    import scipy.sparse as sp

    X = sp.csr_matrix((values, indices, indptr), shape=(len(batch), dense.shape[1] + n_features))
    np.testing.assert_allclose(got, X @ coef + 0.25, rtol=1e-9, atol=1e-12)


def test_suffix_table_agrees_with_sorted_sets():
    for name, bit in (("suffix_exact_", ku.SFX_EXACT), ("suffix_wild_", ku.SFX_WILD), ("suffix_exc_", ku.SFX_EXC)):
        for h in getattr(FEATURES, name)[:500]:
            assert ku._lookup(FEATURES.suffix_table_, h) & bit
    rng = np.random.default_rng(0)
    known = set(np.concatenate([FEATURES.suffix_exact_, FEATURES.suffix_wild_, FEATURES.suffix_exc_]).tolist())
    for h in rng.integers(0, 2**63, 2000, dtype=np.uint64):
        assert (ku._lookup(FEATURES.suffix_table_, h) != 0) == (int(h) in known)


@given(st.lists(st.one_of(st.text(max_size=12), st.binary(max_size=12)), max_size=12),
       st.lists(st.one_of(st.text(max_size=12), st.binary(max_size=12)), max_size=6),
       st.integers(1, 4), st.sampled_from([0.5, 2.0]))
def test_label_language_model_matches_reference(train, test, order, strength):
    r = to_ragged_bytes(train)
    cls = np.arange(len(train), dtype=np.int64) % 2
    table = np.zeros(((1 << 16) + 1, 2))
    ku.lm_update(r.data, r.offsets[:-1], r.offsets[1:], cls, table, order)
    refs = [naive_url.CharLM(order, strength, 1 / 64) for _ in range(2)]
    for item, c in zip(train, cls):
        refs[c].update(_bytes(item))
    t = to_ragged_bytes(test + train)
    got = ku.lm_logprob(t.data, t.offsets[:-1], t.offsets[1:], table, order, strength, 1 / 64)
    for i, item in enumerate(test + train):
        for c in range(2):
            assert got[i, c] == pytest.approx(refs[c].logprob(_bytes(item)), rel=1e-9)
            # a proper distribution over next symbols: every probability is in (0, 1]
            assert got[i, c] <= 1e-12


def test_language_model_probabilities_sum_to_one():
    # With order 2 and a tiny alphabet, P(x | ctx) summed over all 256 symbols is 1
    # once the base distribution covers every symbol (base_prob = 1/256).
    words = [b"abab", b"ba", b"aab"]
    r = to_ragged_bytes(words)
    table = np.zeros(((1 << 18) + 1, 1))
    ku.lm_update(r.data, r.offsets[:-1], r.offsets[1:], np.zeros(3, np.int64), table, 2)
    ref = naive_url.CharLM(2, 1.0, 1 / 256, bits=18)
    for w in words:
        ref.update(w)
    # one-symbol labels: P(x) * P(END | x) summed over x equals P(label has length 1)
    total = 0.0
    for x in range(256):
        if x in (2, 3) or 65 <= x <= 90:
            continue  # padding / end markers and upper-case (folded to lower) are not label symbols
        lp = ku.lm_logprob(np.array([x], np.uint8), np.array([0]), np.array([1]), table, 2, 1.0, 1 / 256)[0, 0]
        assert lp == pytest.approx(ref.logprob(bytes([x])), rel=1e-9)
        total += np.exp(lp)
    assert 0.0 < total < 1.0


def test_suffix_lookup_follows_the_public_suffix_list():
    urls = ["a.b.example.co.uk", "foo.ck", "www.ck", "x.city.kitakyushu.jp", "tenant.azurewebsites.net",
            "HTTP://WWW.EXAMPLE.COM.", "localhost", "intranet.corp", "1.2.3.4", "[::1]:80", "0x7f.1"]
    r, feats, spans = _lexical(urls)
    got = [(r.data[s[2]:s[1]].tobytes().decode(), r.data[s[3]:s[4]].tobytes().decode()) for s in spans]
    assert got == [("co.uk", "example"), ("foo.ck", ""), ("ck", "www"), ("kitakyushu.jp", "city"),
                   ("azurewebsites.net", "tenant"), ("COM", "EXAMPLE"), ("", "localhost"), ("", "corp"),
                   ("", ""), ("", ""), ("", "")]
    names = list(ku.LEXICAL_FEATURES)
    assert feats[:, names.index("ip_host")].tolist() == [0] * 8 + [1, 1, 1]
    assert feats[:, names.index("no_suffix")].tolist() == [0] * 6 + [1, 1] + [0] * 3


def test_long_and_hostile_items():
    long_url = "http://" + "a." * 20_000 + "com/" + "%" * 50_000
    batch = [long_url, "\x00" * 1000, "é" * 500, b"\xff" * 300]
    r, feats, spans = _lexical(batch)
    assert np.all(np.isfinite(feats))
    names = list(ku.LEXICAL_FEATURES)
    assert feats[0, names.index("subdomain_depth")] == 20_000 - 1
    assert feats[0, names.index("invalid_escapes")] == 50_000
    indptr, indices, values = ku.url_hashed_csr(r.data, r.offsets, spans, feats[:, :2], 3, 5, 1 << 20, 0, 1.0)
    assert indptr[-1] == len(indices) and np.all(np.isfinite(values))
    X = __import__("scipy.sparse", fromlist=["csr_matrix"]).csr_matrix((values, indices, indptr))
    X.sum_duplicates()
    assert X[0].nnz < 100  # "a." repeated: few distinct grams


@given(st.lists(st.one_of(st.integers(0, 5000).map(float), st.floats(allow_nan=True, allow_infinity=True)),
                min_size=0, max_size=24), st.integers(1, 4))
def test_log1p_columns_matches_numpy(values, width):
    x = np.array(values + [0.0] * (-len(values) % width), dtype=np.float64).reshape(-1, width)
    columns = np.arange(width) % 2 == 0
    out = np.empty_like(x)
    ku.log1p_columns(x, columns, out)
    expected = x.copy()
    with np.errstate(all="ignore"):
        expected[:, columns] = np.log1p(x[:, columns])
    np.testing.assert_array_equal(out, expected)  # bit for bit, NaN where numpy gives NaN
