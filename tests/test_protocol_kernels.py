"""Protocol kernels against the slow references in tests/naive_protocol.py (arbitrary bytes)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import naive_protocol as ref
from secml_detect._kernels import protocol as kp
from secml_detect._ragged import to_ragged_bytes

_text = st.text(max_size=16).map(lambda s: s.encode("utf-8", "surrogatepass"))
items_st = st.lists(st.one_of(st.binary(max_size=40), _text,
                              st.sampled_from([b"", b"\x00" * 70, "é€😀".encode() * 5, b"%zz'--"])), max_size=8)


def _chains(n, data):
    rows = []
    for _ in range(n):
        depth = data.draw(st.integers(0, 4))
        # a tree: two branches [0, 1, 3, 5] and [0, 2, 4, 6] (parents -1, 0, 0, 1, 2, 3, 4)
        branch = data.draw(st.integers(0, 1))
        rows.append([0] + [2 * lvl - 1 + branch for lvl in range(1, depth)]
                    + [-1] * (4 - max(depth, 1)) if depth else [-1, -1, -1, -1])
    return np.array(rows, dtype=np.int64).reshape(n, 4)


@given(items_st)
def test_length_class_shape(items):
    r = to_ragged_bytes(items)
    assert kp.length_bins(r.offsets, kp.N_LEN_BINS).tolist() == ref.length_bins(items, kp.N_LEN_BINS)
    np.testing.assert_array_equal(kp.class_histograms(r.data, r.offsets, kp.CLASS_OF, kp.N_CLASSES),
                                  ref.class_histograms(items, kp.CLASS_OF, kp.N_CLASSES))
    assert kp.shape_hashes(r.data, r.offsets, kp.CLASS_OF, 7).tolist() == ref.shape_hashes(items, kp.CLASS_OF, 7)


def test_class_table_covers_every_byte():
    assert kp.CLASS_OF.max() == kp.N_CLASSES - 1 and len(kp.CLASS_NAMES) == kp.N_CLASSES
    assert kp.CLASS_OF[ord("'")] != kp.CLASS_OF[ord('"')] and kp.CLASS_OF[ord("a")] == kp.CLASS_OF[ord("z")]


@given(st.lists(st.integers(1, 2**60), max_size=200, unique=True), st.integers(0, 2**60))
def test_table_build_get(keys, probe):
    keys = np.array(keys, dtype=np.int64)
    vals = np.arange(len(keys), dtype=np.float64) + 1
    tk, tv = kp.table_build(keys, vals)
    for k, v in zip(keys, vals):
        assert kp.table_get(tk, tv, k) == v
    if probe not in set(keys.tolist()) and probe != 0:
        assert kp.table_get(tk, tv, probe) == 0.0


@given(items_st, st.integers(1, 3), st.data(), st.booleans())
def test_ngram_keys_and_logprobs(items, order, data, loo):
    r = to_ragged_bytes(items)
    chains = _chains(len(items), data)
    keys = kp.ngram_keys(r.data, r.offsets, chains, order)
    uniq, counts = np.unique(keys, return_counts=True)
    expected = ref.ngram_counts(items, chains, order)
    assert dict(zip(uniq.tolist(), counts.tolist())) == expected
    tk, tv = kp.table_build(uniq, counts.astype(np.float64))
    alphas = np.array([1.0, 0.5, 3.0, 20.0])
    betas = np.linspace(0.3, 4.0, order + 1)
    # score the training items themselves (loo) or fresh copies
    lp = kp.ngram_logprobs(r.data, r.offsets, chains, tk, tv, order, alphas, betas, loo)
    want = ref.ngram_logprobs(items, chains, expected, order, alphas, betas, loo)
    np.testing.assert_allclose(lp, np.concatenate([np.array(w, dtype=float) for w in want] + [np.zeros(0)]),
                               rtol=1e-9, atol=1e-12)
    assert np.all(np.isfinite(lp)) and np.all(lp <= 1e-12)
    # the scoring path (final values, fixed point) agrees with the count path
    parent = np.array([-1, 0, 0, 1, 2, 3, 4], dtype=np.int64)
    level = np.array([0, 1, 1, 2, 2, 3, 3], dtype=np.int64)
    final = kp.ngram_final_values(uniq, counts.astype(np.float64), parent, tk, tv, order, alphas, betas)
    table = kp.table_build_pairs(uniq, kp.ngram_score_values(uniq, final, level, alphas, betas))
    fresh = kp.ngram_logprobs_fixed(r.data, r.offsets, chains, table, order)
    exact = kp.ngram_logprobs(r.data, r.offsets, chains, tk, tv, order, alphas, betas, False)
    np.testing.assert_allclose(fresh, exact, rtol=0, atol=1e-7)


@given(items_st, st.data(), st.booleans())
def test_dense_chain_loglik(items, data, loo):
    r = to_ragged_bytes(items)
    chains = _chains(len(items), data)
    hist = kp.class_histograms(r.data, r.offsets, kp.CLASS_OF, kp.N_CLASSES)
    counts = np.zeros((7, kp.N_CLASSES))
    for lvl in range(4):
        ok = chains[:, lvl] >= 0
        np.add.at(counts, chains[ok, lvl], hist[ok])
    totals = counts.sum(axis=1)
    alphas = np.array([1.0, 2.0, 0.5, 7.0])
    base = np.full(kp.N_CLASSES, 1 / kp.N_CLASSES)
    got = kp.dense_chain_loglik(hist, chains, counts, totals, alphas, base, loo)
    np.testing.assert_allclose(got, ref.dense_chain_loglik(hist, chains, counts, totals, alphas, base, loo), rtol=1e-9)
    thresholds = np.linspace(-4.0, -0.5, len(items))
    np.testing.assert_allclose(kp.dense_chain_excess(hist, chains, counts, totals, alphas, base, loo, thresholds),
                               ref.dense_chain_excess(hist, chains, counts, totals, alphas, base, loo, thresholds),
                               rtol=1e-9, atol=1e-12)


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=30), st.data(), st.booleans())
def test_vocab_logprob(pairs, data, loo):
    symbols = np.array([p[0] for p in pairs], dtype=np.int64)
    tags = np.array([p[1] for p in pairs], dtype=np.int64)
    chains = _chains(len(pairs), data)
    chains[:, 0] = 0  # every symbol hangs at the global node
    counts, totals = {}, np.zeros((7, 4))
    for s, t, ch in zip(symbols, tags, chains):
        for nd in ch:
            if nd < 0:
                break
            k = ref.key(int(nd), int(t), int(s))
            counts[k] = counts.get(k, 0) + 1
            totals[nd, t] += 1
    table = kp.table_build_pairs(np.array(sorted(counts), dtype=np.int64),
                                 np.array([counts[k] for k in sorted(counts)], dtype=np.int64))
    alphas = np.array([[0.5, 1, 2, 3], [1, 1, 1, 1], [2, 5, 0.1, 1], [3, 3, 3, 3]], dtype=float)
    got = kp.vocab_logprob(symbols, tags, chains, table, totals, alphas, loo)
    np.testing.assert_allclose(got, ref.vocab_logprob(symbols, tags, chains, counts, totals, alphas, loo), rtol=1e-9)


def test_long_item():
    item = [b"ab" * 50_000]
    r = to_ragged_bytes(item)
    chains = np.array([[0, 1, -1, -1]], dtype=np.int64)
    keys = kp.ngram_keys(r.data, r.offsets, chains, 2)
    uniq, counts = np.unique(keys, return_counts=True)
    tk, tv = kp.table_build(uniq, counts.astype(float))
    lp = kp.ngram_logprobs(r.data, r.offsets, chains, tk, tv, 2, np.ones(4), np.ones(3), True)
    assert lp.shape == (100_000,) and np.all(np.isfinite(lp))
