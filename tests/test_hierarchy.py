import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from secml_detect.hierarchy import BetaBinomialHierarchy, fit_concentration, smooth


def _data(seed, n=2000):
    rng = np.random.RandomState(seed)
    ips = rng.randint(0, 2**32, size=n, dtype=np.int64)
    ips[: n // 4] = (0x0A0000 << 8) + rng.randint(0, 256, n // 4)  # a dirty /24
    y = np.zeros(n)
    y[: n // 4] = rng.rand(n // 4) < 0.9
    y[n // 4 :] = rng.rand(n - n // 4) < 0.05
    return ips, y


def _levels(ips):
    return [ips >> 24, ips >> 16, ips >> 8]


def test_dirty_neighbourhood_gets_high_rate():
    ips, y = _data(0)
    h = BetaBinomialHierarchy().fit(_levels(ips), y)
    q = np.array([(0x0A0000 << 8) + 7, 0x7F000001], dtype=np.int64)
    rates = h.rates(_levels(q))
    assert rates[0, -1] > 0.7 and rates[1, -1] < 0.2


def test_single_observation_is_shrunk():
    ips, y = _data(1)
    # A /24 seen once with a bad label is not called 100% bad.
    lonely = np.array([0xC0A80101], dtype=np.int64)
    h2 = BetaBinomialHierarchy().fit(_levels(np.r_[ips, lonely]), np.r_[y, 1])
    assert h2.rates(_levels(lonely))[0, -1] < 0.9


def test_leave_one_out_removes_own_label():
    ips = np.array([0x01020304, 0x05060708], dtype=np.int64)
    y = np.array([1.0, 0.0])
    h = BetaBinomialHierarchy(prior_strength=1.0).fit(_levels(ips), y)
    with_own = h.rates(_levels(ips))
    loo = h.rates(_levels(ips), exclude_y=y)
    assert with_own[0, -1] > loo[0, -1]
    # Without its own label the first address's /24 is empty: it equals the parent rate chain.
    assert np.allclose(loo[0, -1], loo[0, 0])


@given(st.integers(0, 10_000), st.integers(1, 4))
def test_merge_of_partitions_equals_single_fit(seed, parts):
    ips, y = _data(seed, n=400)
    whole = BetaBinomialHierarchy().fit(_levels(ips), y)
    chunks = np.array_split(np.arange(len(ips)), parts)
    merged = BetaBinomialHierarchy().fit(_levels(ips[chunks[0]]), y[chunks[0]])
    for c in chunks[1:]:
        merged = merged.merge(BetaBinomialHierarchy().fit(_levels(ips[c]), y[c]))
    for a, b in zip(whole.keys_, merged.keys_):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(whole.parent_keys_, merged.parent_keys_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(whole.rates(_levels(ips)), merged.rates(_levels(ips)))


def test_fit_concentration_recovers_scale():
    rng = np.random.RandomState(0)
    for true_alpha in (2.0, 50.0):
        p = rng.beta(true_alpha * 0.3, true_alpha * 0.7, size=3000)
        n = np.full(3000, 40.0)
        s = rng.binomial(40, p).astype(float)
        pos, neg = s > 0, (n - s) > 0
        alpha = fit_concentration(n, np.r_[s[pos], (n - s)[neg]], np.r_[np.full(pos.sum(), 0.3), np.full(neg.sum(), 0.7)])
        assert true_alpha / 1.5 < alpha < true_alpha * 1.5


def test_smooth_formula():
    assert smooth(3, 4, 0.5, 2.0) == (3 + 1.0) / 6.0


def test_empty_hierarchy_backs_off_to_the_global_rate():
    h = BetaBinomialHierarchy(prior_strength=1.0).fit([np.zeros(0, np.int64), np.zeros(0, np.int64)], np.zeros(0))
    rates = h.rates([np.array([1, 2]), np.array([3, 4])])
    assert rates.shape == (2, 2) and np.allclose(rates, h.global_rate_)
    assert h.counts(1, np.array([5]))[1].tolist() == [0.0]
