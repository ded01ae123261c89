"""SequenceKNNModel against a slow dense reference, plus behaviour checks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from secml_detect.exceptions import InvalidParameterError
from secml_detect.sequence import SequenceKNNModel


def naive_vectors(seqs, order):
    """Counts of (padded context, call) n-grams of lengths 1..order+1, end event included."""
    out = []
    for s in seqs:
        toks = list(s) + [("<end>",)]
        c = Counter()
        for t, x in enumerate(toks):
            for j in range(order + 1):
                ctx = tuple(("<start>",) if p < 0 else toks[p] for p in range(t - j, t))
                c[ctx + (x,)] += 1
        out.append(c)
    return out


def naive_scores(train, test, order, k, leave_one_out=False):
    known = {t for s in train for t in s}
    test = [[t if t in known else "<unknown>" for t in s] for s in test]  # one shared unknown id
    tr, te = naive_vectors(train, order), naive_vectors(test, order)
    keys = sorted({g for c in tr + te for g in c}, key=repr)
    col = {g: i for i, g in enumerate(keys)}

    def dense(cs):
        m = np.zeros((len(cs), len(keys)))
        for i, c in enumerate(cs):
            for g, n in c.items():
                m[i, col[g]] = np.log1p(n)
        return m

    a, b = dense(tr), dense(te)
    idf = np.log((1 + len(tr)) / (1 + (a > 0).sum(0))) + 1
    a, b = a * idf, b * idf
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    sim = b @ a.T
    if leave_one_out:
        np.fill_diagonal(sim, -np.inf)
    kk = min(k, a.shape[0] - int(leave_one_out))
    return 1 - np.sort(sim, axis=1)[:, -kk:].mean(axis=1)


def random_seqs(rng, n, vocab, max_len=30):
    return [[vocab[j] for j in rng.randint(0, len(vocab), rng.randint(0, max_len))] for _ in range(n)]


@pytest.mark.parametrize("order", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 3, 50])
def test_scores_match_dense_reference(order, k):
    rng = np.random.RandomState(order * 10 + k)
    vocab = ["open", "read", "close", 5, "é", "x" * 40]
    train = random_seqs(rng, 25, vocab[:4])
    test = random_seqs(rng, 15, vocab) + [[], ["never", "seen"]]
    model = SequenceKNNModel(order=order, n_neighbors=k).fit(train)
    np.testing.assert_allclose(-model.score_samples(test), naive_scores(train, test, order, k), atol=1e-9)
    np.testing.assert_allclose(model.calibration_scores_, naive_scores(train, train, order, k, True), atol=1e-9)


def test_chunked_scoring_matches(monkeypatch):
    import secml_detect.sequence.knn as knn

    rng = np.random.RandomState(3)
    train, test = random_seqs(rng, 40, list(range(8))), random_seqs(rng, 30, list(range(10)))
    model = SequenceKNNModel(order=1, n_neighbors=4).fit(train)
    full = model.score_samples(test)
    monkeypatch.setattr(knn, "_CHUNK_CELLS", 7)
    np.testing.assert_allclose(model.score_samples(test), full)


def test_new_mix_of_calls_is_anomalous_and_explained():
    rng = np.random.RandomState(0)
    normal = [["open"] + ["read"] * rng.randint(1, 6) + ["close"] for _ in range(40)]
    model = SequenceKNNModel(n_neighbors=3).fit(normal)
    odd = ["open", "exec", "exec", "socket", "close"]
    s = model.threat_score([["open", "read", "read", "close"], odd])
    assert s[1] > s[0]
    contribs = model.explain([odd], top_k=4)[0].contributions
    assert contribs[0].name == "nearest training trace"
    assert any(c.name in ("exec", "socket") for c in contribs[1:])


@pytest.mark.parametrize("params", [{"order": -1}, {"n_neighbors": 0}, {"n_features": 1}, {"max_len": 0}])
def test_bad_params(params):
    with pytest.raises(InvalidParameterError):
        SequenceKNNModel(**params).fit([["a", "b"]] * 3)


def test_single_training_trace():
    model = SequenceKNNModel().fit([["a", "b"]])
    assert model.calibration_scores_.shape == (1,)
    s = model.score_samples([["a", "b"], ["c"]])
    assert s[0] > s[1]
