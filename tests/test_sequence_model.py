"""APICallSequenceModel, APICallSequenceClassifier and the sequence loaders."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from secml_detect.datasets.sequences import load_adfa_ld, load_hdfs, load_hdfs_sample, load_malapi_sample
from secml_detect.exceptions import BadInputWarning, InvalidItemError, InvalidParameterError
from secml_detect.persistence import load, save
from secml_detect.sequence import APICallSequenceClassifier, APICallSequenceModel


@pytest.fixture(scope="module")
def hdfs_split():
    seqs, y = load_hdfs_sample()
    rng = np.random.RandomState(1)
    normal = np.flatnonzero(y == 0)
    train = rng.choice(normal, 900, replace=False)
    test = np.setdiff1d(np.arange(len(seqs)), train)
    return [seqs[i] for i in train], [seqs[i] for i in test], y[test]


def test_hdfs_sample_detects_anomalies_without_labels(hdfs_split):
    X_train, X_test, y_test = hdfs_split
    model = APICallSequenceModel().fit(X_train)
    scores = model.threat_score(X_test)
    assert roc_auc_score(y_test, scores) > 0.97
    flagged = model.predict(X_test) == -1
    assert f1_score(y_test, flagged) > 0.9
    # The threshold comes from out-of-fold training scores: false positives stay near contamination.
    assert flagged[y_test == 0].mean() < 0.05


def test_partial_fit_adds_up_exactly(hdfs_split):
    X_train, X_test, _ = hdfs_split
    whole = APICallSequenceModel(prior_strength=2.0).fit(X_train)
    parts = APICallSequenceModel(prior_strength=2.0).fit(X_train[:300]).partial_fit(X_train[300:])
    np.testing.assert_array_equal(whole.ngram_keys_, parts.ngram_keys_)
    np.testing.assert_array_equal(whole.ngram_counts_, parts.ngram_counts_)
    np.testing.assert_allclose(whole.score_samples(X_test[:50]), parts.score_samples(X_test[:50]))
    assert parts.n_sequences_seen_ == len(X_train)
    # Calibration of partial_fit comes from scoring each batch before learning it.
    assert parts.calibration_scores_.size == len(X_train)


def test_learned_strengths_are_used(hdfs_split):
    X_train, _, _ = hdfs_split
    model = APICallSequenceModel(order=2).fit(X_train)
    assert model.alphas_.shape == (3,) and np.all(model.alphas_ > 0)
    assert len(set(np.round(model.alphas_, 6))) > 1  # learned per level, not one constant


def _entity_data(rng, n_per_entity):
    """Two groups of services; each service has a favourite call after 'auth'."""
    X, E = [], []
    groups = {}
    for g, fav in (("payments", "charge"), ("search", "query")):
        for s in range(4):
            name = f"{g}-{s}"
            groups[name] = g
            for _ in range(n_per_entity):
                call = fav if rng.rand() < 0.9 else "log"
                X.append(["start", "auth", call, "reply", "end"])
                E.append(name)
    return X, E, groups


def test_entity_smoothing_learns_habits_and_borrows_strength():
    rng = np.random.RandomState(0)
    X, E, groups = _entity_data(rng, 30)
    model = APICallSequenceModel(order=2, entity_groups=groups).fit(X, entities=E)
    assert np.isfinite(model.beta_entity_) and np.isfinite(model.beta_group_)
    charge = ["start", "auth", "charge", "reply", "end"]
    query = ["start", "auth", "query", "reply", "end"]
    s = model.score_samples([charge, charge, query], entities=["payments-0", "search-0", "search-0"])
    assert s[0] > s[1] and s[2] > s[1]  # the same sequence is normal for one service, odd for another
    # A new service of a known group is judged by its group; an unknown one by the global model.
    new = model.score_samples([charge, charge], entities=["payments-new", "stranger"])
    assert np.all(np.isfinite(new))


def test_bad_and_odd_input():
    X = [["a", "b", "c"], ["a", "c"]] * 20
    model = APICallSequenceModel(order=2, calibration_folds=2).fit(X)
    batch = [[], ["a", "zzz", "c"], ["a", 1, 2.5, ("t",)], None, "abc", 42, [["unhashable"]]]
    with pytest.warns(BadInputWarning) as record:
        scores = model.threat_score(batch)
    assert scores.shape == (len(batch),) and np.all(np.isfinite(scores))
    assert set(record[0].message.indices) == {3, 4, 5, 6}
    assert np.all(scores[3:] == 1.0)
    samples = model.score_samples(batch[:3])
    assert np.all(np.isfinite(samples))
    assert samples[1] < model.score_samples([["a", "b", "c"]])[0]  # an unseen call is surprising
    with pytest.raises(InvalidItemError) as info:
        model.set_params(on_bad_input="raise").threat_score(batch)
    assert info.value.index == 3


def test_empty_sequence_scores_are_documented():
    X = [["a", "b"]] * 20
    with_end = APICallSequenceModel(order=1, calibration_folds=2).fit(X)
    assert with_end.call_surprise([[]])[0].shape == (1,)  # only the end event
    no_end = APICallSequenceModel(order=1, end_event=False, calibration_folds=2).fit(X)
    assert no_end.score_samples([[]])[0] == 0.0


def test_explain_points_at_the_surprising_call():
    X = [["open", "read", "close"]] * 30
    model = APICallSequenceModel(order=2, calibration_folds=2).fit(X)
    exp = model.explain([["open", "read", "exec", "close"]], top_k=2)[0]
    assert exp.contributions[0].name.startswith("call 2")
    assert "'exec'" in exp.contributions[0].value
    assert exp.contributions[0].weight >= exp.contributions[1].weight


def test_save_load_with_entities(tmp_path):
    rng = np.random.RandomState(1)
    X, E, groups = _entity_data(rng, 10)
    model = APICallSequenceModel(order=2, entity_groups=groups, calibration_folds=2).fit(X, entities=E)
    save(model, tmp_path / "m.smd")
    loaded = load(tmp_path / "m.smd")
    np.testing.assert_array_equal(loaded.score_samples(X[:8], entities=E[:8]), model.score_samples(X[:8], entities=E[:8]))


@pytest.mark.parametrize("params", [{"order": -1}, {"aggregate": "median"}, {"window": 0}, {"top_g": 0},
                                    {"prior_strength": 0.0}, {"contamination": 0.7}])
def test_invalid_parameters_raise_in_fit(params):
    model = APICallSequenceModel(**params)  # __init__ only stores
    with pytest.raises(InvalidParameterError):
        model.fit([["a", "b"]] * 5)


def test_entities_length_must_match():
    with pytest.raises(ValueError):
        APICallSequenceModel().fit([["a"]] * 3, entities=["x"])


def test_classifier_uses_call_order():
    # Same calls, different order: only n-grams with context can tell the families apart.
    rng = np.random.RandomState(0)
    X, y = [], []
    for i in range(200):
        pair = ["x", "y"] if i % 2 else ["y", "x"]
        seq = []
        for _ in range(rng.randint(3, 8)):
            seq += pair + [["a", "b", "c"][rng.randint(3)]]
        X.append(seq)
        y.append(["left", "right"][i % 2])
    y = np.array(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = {}
        for order in (0, 1):
            clf = APICallSequenceClassifier(order=order, n_features=2**12).fit(X[:100], y[:100])
            acc[order] = np.mean(clf.predict(X[100:]) == y[100:])
    assert acc[1] > 0.95 and acc[0] < acc[1]
    exp = clf.explain([X[101]], top_k=3)[0]
    assert any(" -> " in c.name for c in exp.contributions)  # n-grams are named by their calls
    assert exp.contributions[0].weight >= exp.contributions[-1].weight


def test_classifier_on_malapi_sample():
    seqs, fams = load_malapi_sample()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = APICallSequenceClassifier(n_features=2**14).fit(seqs, fams)
        proba = clf.predict_proba([seqs[0], None])
    assert set(clf.classes_) == set(fams) and proba.shape == (2, 8)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[1], 1 / 8)  # a bad item gets uniform probabilities
    assert np.mean(clf.predict(seqs) == fams) > 0.5  # it can at least fit its training data


def test_shared_hdfs_loader(shared_dataset):
    shared_dataset("logs_hdfs_deeplog")
    seqs, y = load_hdfs()
    assert len(seqs) == len(y) and set(y.tolist()) == {0, 1}
    assert all(all(1 <= k <= 29 for k in s) for s in seqs[:500])


def test_shared_adfa_loader_deduplicates(shared_dataset):
    shared_dataset("adfa_ld")
    d = load_adfa_ld()
    keys = [tuple(s) for s in d["sequences"]]
    assert len(keys) == len(set(keys))
    normal = {k for k, y in zip(keys, d["label"]) if y == 0}
    attack = {k for k, y in zip(keys, d["label"]) if y == 1}
    assert not normal & attack
    raw = load_adfa_ld(deduplicate=False, drop_conflicts=False)
    assert len(raw["sequences"]) > len(keys)


def test_cli_fit_and_score(tmp_path, capsys):
    import json

    from secml_detect.cli import main

    normal = tmp_path / "normal.txt"
    normal.write_text("\n".join(["open read read close", "open write close"] * 30) + "\n")
    new = tmp_path / "new.txt"
    new.write_text("open read close\nopen exec socket\n\n")
    model = tmp_path / "m.smd"
    assert main(["sequences", "fit", str(normal), "--model", str(model), "--order", "2"]) == 0
    capsys.readouterr()
    assert main(["sequences", "score", str(new), "--model", str(model), "--jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[1]["anomaly"] and records[1]["threat_score"] > records[0]["threat_score"]
    assert "exec" in records[1]["surprising"][0]["call"]
