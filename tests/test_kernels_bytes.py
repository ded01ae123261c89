"""Numba byte kernels against the plain references in tests/naive.py."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import naive
from secml_detect._kernels import bytes as kb
from secml_detect._ragged import to_ragged_bytes

batches = st.lists(st.one_of(st.binary(max_size=64), st.text(max_size=32)), max_size=12)


def _as_bytes(items):
    return [i if isinstance(i, bytes) else i.encode("utf-8", "surrogatepass") for i in items]


@given(batches)
def test_byte_histograms(items):
    r = to_ragged_bytes(items)
    np.testing.assert_array_equal(kb.byte_histograms(r.data, r.offsets), naive.byte_histograms(_as_bytes(items)))


@given(batches, st.integers(1, 3), st.integers(0, 3), st.sampled_from([1, 7, 1 << 18]), st.integers(0, 2**31))
def test_hashed_ngram_counts(items, n_min, extra, n_features, seed):
    n_max = n_min + extra
    r = to_ragged_bytes(items)
    indptr, indices, counts = kb.hashed_ngram_counts(r.data, r.offsets, n_min, n_max, n_features, seed)
    expected = naive.hashed_ngram_counts(_as_bytes(items), n_min, n_max, n_features, seed)
    assert len(indptr) == len(items) + 1
    for i, row in enumerate(expected):
        cols = indices[indptr[i] : indptr[i + 1]]
        vals = counts[indptr[i] : indptr[i + 1]]
        assert list(cols) == sorted(row)
        assert dict(zip(cols.tolist(), vals.tolist())) == {k: float(v) for k, v in row.items()}


def test_long_item_hashing():
    r = to_ragged_bytes([b"ab" * 100_000])
    indptr, indices, counts = kb.hashed_ngram_counts(r.data, r.offsets, 3, 3, 1 << 20, 0)
    assert counts.sum() == 200_000 - 2
    assert len(indices) == 2  # "aba" and "bab"


@given(batches, st.integers(0, 2**16))
def test_byte_frequency_distance_and_moments(items, seed):
    rng = np.random.default_rng(seed)
    mean = rng.random(256)
    inv = rng.random(256) * 10
    r = to_ragged_bytes(items)
    got = kb.byte_frequency_distance(r.data, r.offsets, mean, inv)
    np.testing.assert_allclose(got, naive.byte_frequency_distance(_as_bytes(items), mean, inv), rtol=1e-12)
    s1, s2 = kb.byte_frequency_moments(r.data, r.offsets)
    freqs = [np.bincount(np.frombuffer(b, np.uint8), minlength=256) / len(b) for b in _as_bytes(items) if b]
    ref = np.sum(freqs, axis=0) if freqs else np.zeros(256)
    np.testing.assert_allclose(s1, ref, atol=1e-12)
    np.testing.assert_allclose(s2, np.sum(np.square(freqs), axis=0) if freqs else np.zeros(256), atol=1e-12)


def test_threaded_map_equals_single_thread():
    from secml_detect._parallel import effective_n_jobs, map_ragged

    rng = np.random.default_rng(0)
    items = [rng.integers(0, 256, rng.integers(0, 40), dtype=np.uint8).tobytes() for _ in range(20_000)]
    r = to_ragged_bytes(items)
    mean, inv = rng.random(256), rng.random(256)
    single = kb.byte_frequency_distance(r.data, r.offsets, mean, inv)
    np.testing.assert_array_equal(map_ragged(kb.byte_frequency_distance, r.data, r.offsets, mean, inv, n_jobs=3), single)
    assert effective_n_jobs(None) == 1 and effective_n_jobs(-1) >= 1
