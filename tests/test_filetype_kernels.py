"""File-type kernels against the plain references in tests/naive_filetype.py."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import naive_filetype as naive
from secml_detect.filetype.features import FeatureSpec, feature_matrix, linear_scores
from secml_detect.filetype.reading import read_windows

items = st.lists(st.one_of(st.binary(max_size=200), st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass"))),
                 max_size=6)
specs = st.builds(FeatureSpec, head_size=st.integers(1, 96), tail_size=st.integers(0, 48),
                  ngram_max=st.integers(1, 3), n_pos=st.integers(0, 20), n_hash=st.sampled_from([1, 7, 64, 1 << 14]))


def _expected(batch, spec):
    w = read_windows(batch, spec.head_size, spec.tail_size)
    return w, [naive.features(bytes(w.head.item(i)), bytes(w.tail.item(i)), int(w.sizes[i]), spec.head_size,
                              spec.tail_size, spec.ngram_max, spec.n_pos, spec.n_hash) for i in range(len(batch))]


@given(items, specs)
def test_feature_matrix_matches_reference(batch, spec):
    w, expected = _expected(batch, spec)
    X = feature_matrix(w, spec)
    assert X.shape == (len(batch), spec.n_features)
    for i, row in enumerate(expected):
        got = X[i].toarray().ravel()
        ref = np.zeros(spec.n_features)
        for k, v in row.items():
            ref[k] = v
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@given(items, specs, st.integers(1, 5), st.integers(0, 2**16))
def test_fused_scores_match_matrix_product(batch, spec, k, seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(spec.n_features, k)).astype(np.float32)
    b = rng.normal(size=k)
    w = read_windows(batch, spec.head_size, spec.tail_size)
    ref = feature_matrix(w, spec) @ W.astype(np.float64) + b
    np.testing.assert_allclose(linear_scores(w, spec, W, b), ref, rtol=1e-9, atol=1e-9)


def test_long_and_non_ascii_items():
    spec = FeatureSpec(head_size=1024, tail_size=512, ngram_max=3, n_pos=32, n_hash=1 << 14)
    batch = ["é€😀".encode() * 500, bytes(range(256)) * 40, b"", b"\xff"]
    w, expected = _expected(batch, spec)
    X = feature_matrix(w, spec)
    for i, row in enumerate(expected):
        cols = X[i].indices
        assert sorted(cols.tolist()) == sorted(row)
        np.testing.assert_allclose(X[i].data, [row[c] for c in cols], rtol=1e-12)
    # the windows are bounded however long the item is
    assert len(w.head.item(0)) == 1024 and len(w.tail.item(0)) == 512


@given(st.lists(st.one_of(st.binary(max_size=40), st.builds(lambda b, n: bytes([b]) * n, st.integers(0, 255),
                                                              st.integers(0, 90))), max_size=8),
       st.integers(1, 32), st.integers(0, 16))
def test_uniform_windows(batch, head_size, tail_size):
    from secml_detect._kernels.filetype import uniform_windows

    w = read_windows(batch, head_size, tail_size)
    got = uniform_windows(w.head.data, w.head.offsets, w.tail.data, w.tail.offsets)
    expected = [naive.uniform_window(bytes(w.head.item(i)), bytes(w.tail.item(i))) for i in range(len(batch))]
    assert got.tolist() == expected


@given(items, specs)
def test_explanation_names_cover_exactly_the_set_columns(batch, spec):
    from secml_detect.filetype.features import named_features

    w = read_windows(batch, spec.head_size, spec.tail_size)
    X = feature_matrix(w, spec)
    for i in range(len(batch)):
        names = named_features(bytes(w.head.item(i)), bytes(w.tail.item(i)), spec)
        hashed = {c for c in names if c < spec.n_hash}
        assert set(X[i].indices[X[i].indices < spec.n_hash].tolist()) == hashed
