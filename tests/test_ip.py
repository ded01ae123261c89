"""IPReputationClassifier behaviour, the IP data loaders and the ``score-ip`` command."""

from __future__ import annotations

import io
import ipaddress
import json
import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from secml_detect import IPReputationClassifier, IPSpatialFeatures
from secml_detect.cli import main
from secml_detect.datasets import ips as ipdata
from secml_detect.exceptions import BadInputWarning, InvalidItemError, InvalidParameterError
from secml_detect.persistence import load, save


def _clustered(seed=0, n_bad=60, n_bg=240):
    rng = np.random.RandomState(seed)
    nets = ["203.0.113", "198.51.100", "192.0.2"]
    bad = [f"{nets[i % 3]}.{rng.randint(256)}" for i in range(n_bad)]
    bg = ipdata.int_to_ipv4(ipdata.sample_background_ipv4(n_bg, exclude=bad, random_state=seed))
    return bad + bg, np.r_[np.ones(n_bad, int), np.zeros(n_bg, int)]


@pytest.fixture(scope="module")
def model():
    X, y = _clustered()
    return IPReputationClassifier(provider_ranges=None).fit(X, y)


def test_learns_dirty_neighbourhoods_from_bundled_tor_history():
    # Bundled data only (MIT): exits first seen before 2020 are the "listing";
    # exits first seen from 2021 on must rank above fresh background addresses.
    tor = ipdata.load_tor_exit_history(bundled=True)
    old, new = tor.before("2020-01-01"), tor.between("2021-01-01", "2023-01-01")
    bg = ipdata.sample_background_ipv4(len(old) + len(new), exclude=tor.ips, random_state=0)
    X = old.ips + ipdata.int_to_ipv4(bg[:len(old)])
    clf = IPReputationClassifier().fit(X, np.r_[np.ones(len(old)), np.zeros(len(old))])
    X_test = new.ips + ipdata.int_to_ipv4(bg[len(old):])
    y_test = np.r_[np.ones(len(new)), np.zeros(len(bg) - len(old))]
    assert roc_auc_score(y_test, clf.threat_score(X_test)) > 0.75


def test_string_labels_and_sklearn_methods():
    X, y = _clustered()
    labels = np.where(y == 1, "malicious", "benign")
    clf = IPReputationClassifier(provider_ranges=None).fit(X, labels)
    assert clf.classes_.tolist() == ["benign", "malicious"]
    queries = ["203.0.113.77", "8.8.4.4"]
    proba = clf.predict_proba(queries)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.threat_score(queries), proba[:, 1])
    assert clf.predict(queries).tolist() == ["malicious", "benign"]
    assert np.all((clf.decision_function(queries) > 0) == (proba[:, 1] > 0.5))


def test_input_forms_agree(model):
    v = int(ipaddress.IPv4Address("203.0.113.77"))
    forms = ["203.0.113.77", " 203.0.113.77\t", "::ffff:203.0.113.77", b"203.0.113.77", v,
             ipaddress.IPv4Address(v), np.uint32(v)]
    scores = model.threat_score(forms)
    np.testing.assert_allclose(scores, scores[0])
    np.testing.assert_allclose(model.threat_score(np.array([v], dtype=np.uint32)), scores[0])


def test_ipv6_is_scored():
    X, y = _clustered()
    v6_bad = [f"2001:db8:66:{i:x}::1" for i in range(20)]
    v6_bg = [f"2a00:{i:x}::1" for i in range(1, 40)]
    clf = IPReputationClassifier(provider_ranges=None).fit(X + v6_bad + v6_bg, np.r_[y, np.ones(20), np.zeros(39)])
    s = clf.threat_score(["2001:db8:66:99::5", "2c0f:1234::9"])
    assert np.all((s > 0) & (s < 1)) and s[0] > s[1]


def test_bad_items_fallback_or_raise(model):
    with pytest.warns(BadInputWarning, match="indices 1, 2, 3"):
        s = model.threat_score(["203.0.113.5", "300.1.2.3", None, -5, "8.8.8.8"])
    assert s[1] == s[2] == s[3] == 0.5 and len(s) == 5
    with pytest.warns(BadInputWarning):
        exp = model.explain(["bogus"])[0]
    assert exp.fallback and exp.threat_score == 0.5 and "not a valid" in exp.note
    strict = IPReputationClassifier(provider_ranges=None, on_bad_input="raise").fit(*_clustered())
    with pytest.raises(InvalidItemError, match="item 1"):
        strict.threat_score(["1.2.3.4", "1.2.3.4.5"])


def test_explain_names_neighbourhood_features(model):
    exp = model.explain(["203.0.113.200"], top_k=3)[0]
    assert len(exp.contributions) == 3
    assert any(c.name.startswith(("bad/", "nearest_bad", "logit_rate")) for c in exp.contributions)
    assert abs(exp.contributions[0].weight) >= abs(exp.contributions[-1].weight)


@pytest.mark.parametrize("interactions", [True, False])
def test_folded_scores_equal_the_fitted_pipeline(interactions):
    # threat_score folds the scaler and the product columns into one kernel pass;
    # it must give what the scikit-learn parts give on the expanded features
    from secml_detect.ip import N_FEATURES, _with_products

    X, y = _clustered(seed=3)
    clf = IPReputationClassifier(provider_ranges=None, interactions=interactions).fit(X, y)
    assert clf.interaction_pairs_.shape == ((21, 2) if interactions else (0, 2))
    queries = ["203.0.113.9", "198.51.100.77", "45.67.89.10", "192.0.2.200", "8.8.8.8"]
    Z = _with_products(clf.features_.transform(queries), clf.interaction_pairs_)
    assert Z.shape[1] == N_FEATURES + len(clf.interaction_pairs_)
    expected = clf.estimator_.decision_function(clf.scaler_.transform(Z))
    np.testing.assert_allclose(clf.decision_function(queries), expected, rtol=1e-9, atol=1e-9)


def test_explain_can_name_a_product_column(model):
    names = {c.name for c in model.explain(["203.0.113.200", "198.51.100.3"], top_k=60)[0].contributions}
    assert any("*" in name for name in names)


def test_partial_fit_adds_listings():
    X, y = _clustered()
    clf = IPReputationClassifier(provider_ranges=None).fit(X, y)
    before = clf.threat_score(["45.67.89.10"])[0]
    clf.partial_fit([f"45.67.89.{i}" for i in range(20, 40)], np.ones(20))
    assert clf.threat_score(["45.67.89.10"])[0] > before + 0.2


def test_fit_validation():
    with pytest.raises(InvalidParameterError, match="two classes"):
        IPReputationClassifier(provider_ranges=None).fit(["1.2.3.4", "5.6.7.8"], [1, 1])
    with pytest.raises(InvalidParameterError, match="0 .benign"):
        IPSpatialFeatures(provider_ranges=None).fit(["1.2.3.4"], [2])
    with pytest.raises(InvalidParameterError, match="provider_ranges"):
        IPSpatialFeatures(provider_ranges="nope").fit(["1.2.3.4"], [1])
    with pytest.raises(InvalidParameterError, match="C must be"):
        IPReputationClassifier(C=0).fit(*_clustered())


def test_bundled_provider_ranges_feed_features():
    f = IPSpatialFeatures().fit(["1.2.3.4", "5.6.7.8"], [1, 0])
    names = list(f.get_feature_names_out())
    Z = f.transform(["66.249.66.1", "1.2.3.4"])  # a googlebot address, then none
    assert Z[0, names.index("provider_crawler")] == 1 and Z[1, names.index("in_provider_range")] == 0
    assert "googlebot" in f.providers_


# --------------------------------------------------------------------------- data


def test_background_sampling_excludes_reserved_and_listed():
    listed = ["8.8.8.8", "2001:db8::1"]
    bg = ipdata.sample_background_ipv4(20000, exclude=listed + ["not an ip"], random_state=3)
    assert len(np.unique(bg)) == 20000 and 0x08080808 not in bg.tolist()
    for v in bg[:2000].tolist():
        addr = ipaddress.IPv4Address(v)
        assert not (addr.is_private or addr.is_multicast or addr.is_reserved or addr.is_loopback
                    or addr.is_link_local or addr in ipaddress.ip_network("100.64.0.0/10"))
    assert not ipdata.is_public_unicast_ipv4(ipdata.ipv4_to_int(["100.64.0.1", "198.18.0.1", "240.0.0.1"])).any()


def test_bundled_samples():
    tor = ipdata.load_tor_exit_history(bundled=True)
    assert len(tor) == 8000 and tor.first_seen.dtype == np.dtype("datetime64[s]")
    assert np.all(tor.first_seen[:-1] <= tor.first_seen[1:])
    ranges = ipdata.load_provider_ranges()
    assert len(ranges) == 27644 and {p for p, _ in ranges} >= {"amazon", "googlebot", "protonvpn"}


def test_shared_loaders(shared_dataset):
    shared_dataset("ip_datashield_blocklist")
    listing = ipdata.load_datashield_blocklist()
    assert len(listing) == 111657
    assert len(ipdata.load_datashield_blocklist(sample="all")) == 132931
    split = listing.before("2026-03-01")
    assert split.first_seen.max() < np.datetime64("2026-03-01")
    shared_dataset("ip_tor_exit_history")
    assert len(ipdata.load_tor_exit_history(version=6)) > 1000


# --------------------------------------------------------------------------- CLI


@pytest.fixture()
def model_file(tmp_path, model):
    path = tmp_path / "ip.smd"
    save(model, path)
    return path


def test_cli_score_ip_jsonl(tmp_path, model_file, capsys, model):
    src = tmp_path / "ips.txt"
    src.write_text("# header\n203.0.113.9\n\n8.8.8.8\nnot-an-ip\n")
    assert main(["score-ip", "--model", str(model_file), str(src), "--jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in records] == [2, 4, 5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = model.threat_score(["203.0.113.9", "8.8.8.8", "not-an-ip"])
    np.testing.assert_allclose([r["threat_score"] for r in records], want)
    assert [r["fallback"] for r in records] == [False, False, True]


def test_cli_score_ip_stdin_explain_and_strict(model_file, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("203.0.113.9\n8.8.8.8\n"))
    main(["score-ip", "--model", str(model_file), "--json", "--explain", "2"])
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 2 and len(records[0]["contributions"]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("1.2.3.4\n1.2.3.999\n"))
    with pytest.raises(SystemExit, match="line 2"):
        main(["score-ip", "--model", str(model_file), "--strict", "-"])
    monkeypatch.setattr("sys.stdin", io.StringIO("1.2.3.4\n"))
    main(["score-ip", "--model", str(model_file)])
    score, ip = capsys.readouterr().out.strip().split("\t")
    assert ip == "1.2.3.4" and 0 <= float(score) <= 1


def test_saved_model_scores_identically(model_file, model):
    loaded = load(model_file)
    queries = ["203.0.113.1", "9.9.9.9", "2001:db8::1"]
    np.testing.assert_array_equal(loaded.threat_score(queries), model.threat_score(queries))


def test_large_batches_sorted_path_matches_small_batches():
    # Large batches are processed in sorted, cache-sized chunks and scattered back.
    rng = np.random.RandomState(5)
    X, y = _clustered(n_bad=300, n_bg=20000)
    X = X + [f"2001:db8::{i:x}" for i in range(50)] + ["junk", None]
    y = np.r_[y, np.ones(25), np.zeros(25), 0, 1]
    order = rng.permutation(len(X))
    X, y = [X[i] for i in order], y[order]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = IPSpatialFeatures(tor_exits=X[:100])
        Z_loo = f.fit_transform(X, y)
        from secml_detect.ip import parse_addresses
        direct = f._features(parse_addresses(X), exclude=y)
        np.testing.assert_array_equal(Z_loo, direct)
        np.testing.assert_array_equal(f.transform(X), np.vstack([f.transform(X[i:i + 500]) for i in range(0, len(X), 500)]))
        clf = IPReputationClassifier().fit(X, y)
        big = clf.threat_score(X)
        small = np.concatenate([clf.threat_score(X[i:i + 300]) for i in range(0, len(X), 300)])
    np.testing.assert_allclose(big, small, rtol=1e-12)
    assert big[X.index("junk")] == 0.5
