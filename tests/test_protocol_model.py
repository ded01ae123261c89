"""ProtocolAnomalyModel: detection, explanations, hierarchy, inputs, robustness."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from secml_detect.datasets.http import http_requests_from_values, load_http_params_sample
from secml_detect.exceptions import BadInputWarning, InvalidItemError, InvalidParameterError
from secml_detect.persistence import load, save
from secml_detect.protocol import ProtocolAnomalyModel


@pytest.fixture(scope="module")
def sample():
    values, kinds, labels = load_http_params_sample()
    labels = np.array(labels)
    normal = [v for v, y in zip(values, labels) if y == 0]
    attacks = [v for v, y in zip(values, labels) if y == 1]
    train, held = normal[:400], normal[400:]
    X_train = http_requests_from_values(train, seed=0)
    X_test = http_requests_from_values(held, held, seed=1) + http_requests_from_values(attacks, held, seed=2)
    y = np.r_[np.zeros(len(held)), np.ones(len(attacks))]
    model = ProtocolAnomalyModel().fit(X_train)
    return model, X_train, X_test, y


def test_detects_attacks_in_held_out_requests(sample):
    model, _, X_test, y = sample
    s = model.threat_score(X_test)
    assert roc_auc_score(y, s) > 0.97
    normal_flagged = np.mean(model.predict([x for x, t in zip(X_test, y) if t == 0]) == -1)
    assert normal_flagged < 0.08  # contamination=0.01 calibrated leave-one-out on 400 values


def test_explanation_names_field_and_component(sample):
    model = sample[0]
    raw = (b"GET /shop/product?id=1%27+OR+1%3D1-- HTTP/1.1\r\nHost: shop.example\r\n"
           b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n\r\n")
    exp = model.explain([raw], top_k=6)[0]
    assert exp.threat_score > 0.99
    names = [c.name for c in exp.contributions]
    assert names[0].startswith("query `id` at /shop/product")
    texts = " | ".join(str(c.value) for c in exp.contributions)
    assert "never seen" in texts or "unusual byte sequence" in texts
    assert all(c.weight > 0 for c in exp.contributions)
    weights = [c.weight for c in exp.contributions]
    assert weights == sorted(weights, reverse=True)


def test_explanation_reports_length_and_parse_anomalies(sample):
    model = sample[0]
    raw = b"GET /shop/product?id=" + b"9" * 300 + b"&x=%zz HTTP/1.1\r\nHost: shop.example\r\n\r\n"
    exp = model.explain([raw], top_k=20)[0]
    values = [str(c.value) for c in exp.contributions]
    assert any(v.startswith("length 300 vs typical") for v in values)
    assert "invalid percent-encoding" in values


def test_scores_are_consistent_across_methods(sample):
    model, _, X_test, _ = sample
    batch = X_test[:40]
    s = model.score_samples(batch)
    np.testing.assert_allclose(model.decision_function(batch), s - model.offset_)
    assert set(model.predict(batch)) <= {1, -1}
    np.testing.assert_allclose([e.threat_score for e in model.explain(batch)], model.threat_score(batch))
    # scoring one by one gives the same as a batch (de-duplication changes nothing)
    np.testing.assert_allclose([model.score_samples([x])[0] for x in batch[:10]], s[:10], rtol=1e-9, atol=1e-7)


def test_partial_fit_adds_sufficient_statistics(sample):
    _, X_train, _, _ = sample
    whole = ProtocolAnomalyModel().fit(X_train)
    parts = ProtocolAnomalyModel().partial_fit(X_train[:150]).partial_fit(X_train[150:])
    assert parts.n_samples_seen_ == whole.n_samples_seen_ == len(X_train)
    np.testing.assert_array_equal(parts.ngram_keys_, whole.ngram_keys_)
    np.testing.assert_array_equal(parts.ngram_counts_, whole.ngram_counts_)
    np.testing.assert_array_equal(parts.vocab_counts_, whole.vocab_counts_)
    assert sorted(map(tuple, parts.node_keys_)) == sorted(map(tuple, whole.node_keys_))


def _service_requests(service, rng, n, bad=False):
    out = []
    for _ in range(n):
        value = "1' or '1'='1" if bad else str(rng.randint(100, 999))
        out.append(f"GET /item?id={value} HTTP/1.1\r\nHost: {service}\r\n\r\n".encode())
    return out


def test_thin_service_borrows_strength_from_its_peers():
    rng = np.random.RandomState(0)
    busy = [r for s in ("a", "b", "c") for r in _service_requests(s, rng, 150)]
    thin = _service_requests("thin", rng, 3)
    hier = ProtocolAnomalyModel().fit(busy + thin)
    alone = ProtocolAnomalyModel().fit(thin)
    fresh = _service_requests("thin", rng, 30)
    attack = _service_requests("thin", rng, 5, bad=True)
    # pooled: fresh normal ids at the thin service look normal, attacks do not
    assert np.mean(hier.predict(fresh) == 1) >= 0.9 and np.all(hier.predict(attack) == -1)
    h = hier.score_samples(fresh + attack)
    assert roc_auc_score(np.r_[np.zeros(30), np.ones(5)], -h) == 1.0
    # empirical Bayes learned that services look alike: strong pull towards the parent
    assert hier.alphas_["ngram"][1] > 10
    # the isolated model has only 3 examples: a fixed weak prior would make fresh ids far less likely
    assert np.mean(alone.score_samples(fresh)) < np.mean(hier.score_samples(fresh))


def test_unseen_service_endpoint_and_parameter_back_off():
    rng = np.random.RandomState(1)
    model = ProtocolAnomalyModel().fit(_service_requests("a", rng, 100))
    raw = b"GET /other?new=123 HTTP/1.1\r\nHost: newservice\r\n\r\n"
    s = model.score_samples([raw])
    assert np.isfinite(s).all()
    names = [c.name for c in model.explain([raw], top_k=10)[0].contributions]
    assert any(n.startswith("endpoint `/other`") or n.startswith("field name `new`") for n in names)


def test_records_and_raw_payloads():
    records = [{"method": "POST", "path": "/login", "body": {"user": f"user{i}", "pin": str(1000 + i)},
                "service": "auth"} for i in range(80)]
    model = ProtocolAnomalyModel().fit(records)
    ok = {"method": "POST", "path": "/login", "body": {"user": "user5", "pin": "1234"}, "service": "auth"}
    bad = {"method": "POST", "path": "/login", "body": {"user": "admin'--", "pin": "1234"}, "service": "auth"}
    s = model.score_samples([ok, bad])
    assert s[0] > s[1]
    payloads = [{"payload": f"EHLO mail{i}.example.org\r\n".encode(), "port": 25} for i in range(60)]
    smtp = ProtocolAnomalyModel(mode="raw").fit(payloads + [f"USER u{i}".encode() for i in range(20)])
    scores = smtp.threat_score([{"payload": b"EHLO mail7.example.org\r\n", "port": 25},
                                {"payload": b"\x90" * 64 + b"\xcc\xcc/bin/sh", "port": 25}])
    assert scores[1] > scores[0] and scores[1] > 0.99


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=300), st.text(max_size=60)), min_size=1, max_size=8))
def test_arbitrary_bytes_are_scored_never_crash(batch):
    model = _fitted_small()
    s = model.score_samples(batch)
    t = model.threat_score(batch)
    assert s.shape == t.shape == (len(batch),)
    assert np.all(np.isfinite(s)) and np.all((t >= 0) & (t <= 1))
    assert len(model.explain(batch)) == len(batch)


_SMALL = {}


def _fitted_small():
    if "m" not in _SMALL:
        rng = np.random.RandomState(2)
        _SMALL["m"] = ProtocolAnomalyModel().fit(_service_requests("a", rng, 50))
    return _SMALL["m"]


def test_hostile_requests():
    model = _fitted_small()
    hostile = [
        b"GET /item?id=1 HTTP/1.1\r\nHost: a\r\nX-Big: " + b"A" * 100_000 + b"\r\n\r\n",
        b"GET /item?id=" + b"%" * 5000 + b" HTTP/1.1\r\n\r\n",
        b"POST /item HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999999\r\n\r\n" + bytes(range(256)) * 50,
        b"\x00" * 10_000,
        "GET /ítem?id=\ud800 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /item?" + b"&".join(b"p%d=1" % i for i in range(1000)) + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
    t = model.threat_score(hostile)
    assert np.all(np.isfinite(t)) and np.all(t > 0.9)


def test_bad_items_fallback_and_raise():
    model = _fitted_small()
    with pytest.warns(BadInputWarning):
        t = model.threat_score([b"GET /item?id=512 HTTP/1.1\r\nHost: a\r\n\r\n", None, 42])
    assert t[1] == t[2] == 1.0 and t[0] < 0.99
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(model.score_samples([None])).all()
    model_raise = ProtocolAnomalyModel(on_bad_input="raise").fit([b"GET / HTTP/1.1\r\n\r\n"] * 5)
    with pytest.raises(InvalidItemError) as info:
        model_raise.score_samples([b"GET / HTTP/1.1\r\n\r\n", object()])
    assert info.value.index == 1


@pytest.mark.parametrize("params", [{"mode": "ftp"}, {"ngram_order": 5}, {"prior_strength": -1.0},
                                    {"max_fields": 0}, {"contamination": 0.7}])
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        ProtocolAnomalyModel(**params).fit([b"GET / HTTP/1.1\r\n\r\n"] * 5)


def test_fixed_prior_strength_and_orders():
    rng = np.random.RandomState(3)
    X = _service_requests("a", rng, 60)
    fixed = ProtocolAnomalyModel(prior_strength=2.0, ngram_order=1).fit(X)
    assert fixed.alphas_["ngram"][1] == 2.0 and fixed.alphas_["ngram"][3] == 2.0
    assert len(fixed.alphas_["ngram_orders"]) == 2
    order3 = ProtocolAnomalyModel(ngram_order=3).fit(X)
    assert np.isfinite(order3.score_samples(X[:3])).all()


def test_save_load_keeps_scores_without_caches(sample, tmp_path):
    model, _, X_test, _ = sample
    path = tmp_path / "protocol.smd"
    save(model, path)
    loaded = load(path)
    assert "_final_table_cache" not in vars(loaded)
    np.testing.assert_array_equal(loaded.score_samples(X_test[:30]), model.score_samples(X_test[:30]))


@pytest.mark.slow
@pytest.mark.shared_data
def test_morzeux_requests_meet_the_aims(shared_dataset):
    """The benchmark's main split, end to end (see benchmarks/bench_protocol.py)."""
    import csv

    path = shared_dataset("http_params_morzeux", "payload_train.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    values = [r["payload"] for r in rows]
    y_all = np.array([int(r["label"] != "norm") for r in rows])
    rng = np.random.RandomState(0)
    normal = np.flatnonzero(y_all == 0)
    train = np.sort(rng.choice(normal, len(normal) // 2, replace=False))
    held = [values[i] for i in np.setdiff1d(normal, train)]
    attacks = [values[i] for i in np.flatnonzero(y_all == 1)]
    model = ProtocolAnomalyModel().fit(http_requests_from_values([values[i] for i in train], seed=1))
    X_normal = http_requests_from_values(held, held, seed=2)
    s = -model.score_samples(X_normal + http_requests_from_values(attacks, held, seed=3))
    y = np.r_[np.zeros(len(X_normal)), np.ones(len(attacks))]
    assert roc_auc_score(y, s) >= 0.995
    for fpr, aim in ((0.01, 0.95), (0.001, 0.80)):
        threshold = np.sort(s[y == 0])[int(np.ceil((1 - fpr) * (y == 0).sum())) - 1]
        assert np.mean(s[y == 1] > threshold) >= aim
    assert abs(np.mean(model.predict(X_normal) == -1) - 0.01) < 0.01
