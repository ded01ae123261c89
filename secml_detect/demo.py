"""End-to-end demo of the hybrid detector on data bundled in the package (``make demo``).

1. Builds an event table from real public samples shipped in the package:
   domains (popular vs C2), raw HTTP requests (normal parameter values vs
   one attack value among them),
   destination addresses (Tor exits by first-seen date vs background
   addresses) and HDFS log-key sessions (normal vs anomalous). Events carry
   different columns: missing ones are normal.
2. Fits a HybridDetector: a URL/domain classifier, a generative model of
   normal HTTP traffic, an IP-neighbourhood classifier, a call-sequence model,
   and signature rules (the Tor exit list and the C2 domains known at
   training time).
3. Prints the top alerts with their reasons, applies analyst verdicts to the
   top of the queue, shows the re-ranked alerts and the promoted signatures.
4. Replays Tor exits week by week (rules only / models only / hybrid /
   hybrid + feedback) and writes the efficacy-over-time plot.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

CUTOFF = "2021-01-01"
COLUMNS = ("domain", "http_request", "dst_ip", "calls")


def _http_events(rng):
    """Raw HTTP requests to a small shop: normal parameter values, or one attack value among normal ones."""
    from .datasets.http import http_requests_from_values, load_http_params_sample

    values, kinds, labels = load_http_params_sample()
    normal = [v for v, y in zip(values, labels) if y == 0]
    attacks = [(v, k) for v, k, y in zip(values, kinds, labels) if y == 1]
    rng.shuffle(normal)
    half = len(normal) // 2
    train_values, test_values = normal[:half], normal[half:]
    train = [({"http_request": r}, 0) for r in http_requests_from_values(train_values, train_values, seed=1)]
    test = [({"http_request": r}, 0) for r in http_requests_from_values(test_values, train_values, seed=2)]
    bad = http_requests_from_values([v for v, _ in attacks], train_values, seed=3)
    test += [({"http_request": r, "kind": k}, 1) for r, (_, k) in zip(bad, attacks)]
    return train, test


def _domain_events(rng):
    from .datasets.urls import load_domain_sample

    domains, labels = load_domain_sample()
    order = rng.permutation(len(domains))
    cut = len(order) // 2
    train = [({"domain": domains[i]}, int(labels[i])) for i in order[:cut]]
    test = [({"domain": domains[i]}, int(labels[i])) for i in order[cut:]]
    return train, test


def _call_events(rng):
    from .datasets.sequences import load_hdfs_sample

    sessions, labels = load_hdfs_sample()
    normal = [s for s, y in zip(sessions, labels) if y == 0]
    anomalous = [s for s, y in zip(sessions, labels) if y == 1]
    order = rng.permutation(len(normal))
    half = len(order) // 2
    train = [({"calls": [f"E{k}" for k in normal[i]]}, 0) for i in order[:half]]
    test = [({"calls": [f"E{k}" for k in normal[i]]}, 0) for i in order[half:]]
    test += [({"calls": [f"E{k}" for k in s]}, 1) for s in anomalous]
    return train, test


def _ip_events(rng, tor, n_background):
    from .datasets.ips import int_to_ipv4, sample_background_ipv4

    known = tor.before(CUTOFF).ips
    new = tor.between(CUTOFF, "2021-07-01").ips
    background = int_to_ipv4(sample_background_ipv4(2 * n_background, exclude=tor.ips, random_state=0))
    train = [({"dst_ip": ip}, 1) for ip in known[:3000]] + [({"dst_ip": ip}, 0) for ip in background[:n_background]]
    test = [({"dst_ip": ip}, 1) for ip in new[:300]] + [({"dst_ip": ip}, 0) for ip in background[n_background:]]
    return train, test, known


def build_detector(known_tor, known_c2):
    from . import (APICallSequenceModel, HybridDetector, IPReputationClassifier, ProtocolAnomalyModel, SignatureMatcher,
                   URLClassifier)

    rules = SignatureMatcher()
    rules.fit()
    rules.add_indicators("ip", known_tor, title="Tor exit (anonymiser)", severity="medium", rule_id="tor-exit")
    rules.add_indicators("domain", known_c2, title="known C2 domain", severity="critical", rule_id="c2-domain")
    components = [
        ("domain", URLClassifier(n_features=2**16, random_state=0), "domain"),
        ("http", ProtocolAnomalyModel(), "http_request"),
        ("dst_ip", IPReputationClassifier(), "dst_ip"),
        ("calls", APICallSequenceModel(random_state=0), "calls"),
    ]
    return HybridDetector(components, rules, random_state=0)


def _print_alerts(alerts, truth, limit):
    for rank, a in enumerate(alerts[:limit], start=1):
        what = ", ".join(f"{k}={str(v)[:48]!r}" for k, v in a.event.items() if k != "kind")
        if "calls" in a.event:
            what = f"calls=[{len(a.event['calls'])} log keys: {' '.join(a.event['calls'][:6])} ...]"
        if "http_request" in a.event:
            what = "http_request=" + repr(a.event["http_request"].split("\r\n", 1)[0][:70])
        verdict = "malicious" if truth[a.index] else "benign"
        reasons = []
        if a.rules:
            reasons.append("rules " + ",".join(a.rules))
        for name, items in a.explanations.items():
            if items:
                first = items[0]
                detail = f" ({first['value'][:60]})" if first.get("value") not in (None, "", "None") else ""
                reasons.append(f"{name}: {first['name']}{detail}")
        print(f"{rank:2d}. [{a.severity:8s}] {a.threat_score:.3f} {what}  (truth: {verdict})")
        if reasons:
            print(f"      why: {' | '.join(reasons)[:200]}")


def _false_in_top(alerts, truth, k):
    return sum(1 for a in alerts[:k] if not truth[a.index])


def run(out_dir: str | Path = "demo_output", top: int = 8, replay_weeks: int = 12) -> dict:
    from sklearn.metrics import roc_auc_score

    from .datasets.ips import load_tor_exit_history
    from .hybrid.replay import plot_efficacy

    warnings.simplefilter("ignore")  # bundled data holds a few odd items; the demo reports, not warns
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    start = time.perf_counter()
    tor = load_tor_exit_history(bundled=True)
    d_train, d_test = _domain_events(rng)
    p_train, p_test = _http_events(rng)
    i_train, i_test, known_tor = _ip_events(rng, tor, n_background=3000)
    c_train, c_test = _call_events(rng)
    train = d_train + p_train + i_train + c_train
    test = d_test + p_test + i_test + c_test
    order = rng.permutation(len(test))
    test = [test[i] for i in order]
    train_events, train_y = [e for e, _ in train], np.array([y for _, y in train], dtype=float)
    test_events, test_y = [e for e, _ in test], np.array([y for _, y in test])
    known_c2 = [e["domain"] for e, y in d_train if y == 1]

    print("== secml_detect demo: rules and models together ==")
    print(f"training table: {len(train_events)} events; test table: {len(test_events)} events "
          f"({int(test_y.sum())} malicious); columns: domain, http_request, dst_ip, calls (each event has some)")
    hd = build_detector(known_tor, known_c2).fit(train_events, train_y)
    print(f"fitted {', '.join(hd.components_)} + {len(hd.signatures_.rule_ids())} rule sets "
          f"in {time.perf_counter() - start:.1f}s")

    scores = hd.threat_score(test_events)
    rule_scores = hd.signatures_.threat_score(test_events)
    print(f"\nROC-AUC on held-out events: hybrid {roc_auc_score(test_y, scores):.3f}, "
          f"rules only {roc_auc_score(test_y, rule_scores):.3f}")
    per_column = []
    for column in COLUMNS:
        rows = np.array([column in e for e in test_events])
        per_column.append(f"{column} {roc_auc_score(test_y[rows], scores[rows]):.3f}")
    print("ROC-AUC per column: " + ", ".join(per_column))
    alerts = hd.alerts(test_events)
    print(f"\n-- top alerts ({len(alerts)} at or above {hd.alert_threshold}) --")
    _print_alerts(alerts, test_y, top)
    print("\n-- the top alert that only a model raised, per column --")
    model_only = [a for a in alerts if not a.rules]
    _print_alerts([next(a for a in model_only if c in a.event) for c in COLUMNS
                   if any(c in a.event for a in model_only)], test_y, len(COLUMNS))

    # Rule hits are known threats; the analyst triages what only the models surfaced,
    # the top 15 of each column's queue.
    reviewed = [a for column in COLUMNS for a in [a for a in model_only if column in a.event][:15]]
    verdicts = ["malicious" if test_y[a.index] else "benign" for a in reviewed]
    before_fp = _false_in_top(model_only, test_y, 200)
    hd.feedback([a.alert_id for a in reviewed], verdicts, analyst="demo-analyst")
    after = [a for a in hd.alerts(test_events) if not a.rules]
    reviewed_ids = {a.alert_id for a in reviewed}
    fresh = [a for a in after if a.alert_id not in reviewed_ids]
    print(f"\n-- analyst reviewed {len(reviewed)} model-only alerts (top 15 per column): {verdicts.count('malicious')} malicious, "
          f"{verdicts.count('benign')} benign --")
    print(f"false alerts among the top 200 model-only alerts: {before_fp} before feedback, "
          f"{_false_in_top(after, test_y, 200)} after; ROC-AUC now {roc_auc_score(test_y, hd.threat_score(test_events)):.3f}")
    print("-- re-ranked queue (model-only alerts not yet reviewed) --")
    _print_alerts(fresh, test_y, top)

    promoted = hd.promote()
    stix = hd.export_signatures("stix")
    (out / "signatures_stix.json").write_text(json.dumps(stix, indent=1, default=str))
    print(f"\n-- promoted {len(promoted)} confirmed indicators to signatures; the live signature set "
          f"({len(stix)} STIX 2.1 indicators) is in {out / 'signatures_stix.json'} --")
    for p in promoted[:5]:
        print(f"   {p['rule_id']}: {p['kind']} {p['value']} (from {p['provenance']['alert_id']})")

    result = replay_tor_exits(tor, weeks=replay_weeks)
    plot_efficacy(result, out / "efficacy.png", title="Tor exits: efficacy over weeks (bundled sample)")
    means = {k: float(np.nanmean(v)) for k, v in result.efficacy.items()}
    print(f"\n-- efficacy replay over {replay_weeks} weeks (rules updated every 4 weeks, 1 week late) --")
    for name, value in means.items():
        print(f"   {name:18s} mean efficacy {value:.2f}")
    print(f"   area between hybrid + feedback and rules only: "
          f"{result.area_between('hybrid + feedback', 'rules only'):.2f} (efficacy x weeks)")
    print(f"plot written to {out / 'efficacy.png'}; total time {time.perf_counter() - start:.1f}s")
    return {"auc_hybrid": float(roc_auc_score(test_y, scores)), "promoted": len(promoted), "efficacy": means}


def replay_tor_exits(tor, weeks: int = 12, per_week: int = 60, background_per_week: int = 400):
    """Weekly replay of Tor exits against background addresses (bundled sample).

    Each week's malicious events are exits *active* that week (listed before
    its end and not yet removed), so old exits that rules already know mix
    with new ones that only models can judge.
    """
    from . import IPReputationClassifier
    from .datasets.ips import int_to_ipv4, sample_background_ipv4
    from .hybrid.replay import ReplayDay, replay_efficacy

    rng = np.random.RandomState(2)
    start = np.datetime64(CUTOFF, "s")
    week = np.timedelta64(7, "D")
    background = int_to_ipv4(sample_background_ipv4(3000 + weeks * background_per_week, exclude=tor.ips, random_state=1))
    known = tor.before(CUTOFF).ips[-3000:]
    history = ReplayDay("history", [{"dst_ip": ip} for ip in known + background[:3000]],
                        np.r_[np.ones(len(known)), np.zeros(3000)])
    days = []
    for w in range(weeks):
        t0, t1 = start + w * week, start + (w + 1) * week
        active = np.flatnonzero((tor.first_seen < t1) & (np.isnat(tor.last_removed) | (tor.last_removed >= t0)))
        picked = rng.choice(active, size=min(per_week, len(active)), replace=False)
        bad = [tor.ips[i] for i in picked]
        bg = background[3000 + w * background_per_week: 3000 + (w + 1) * background_per_week]
        days.append(ReplayDay(str(t0.astype("datetime64[D]")), [{"dst_ip": ip} for ip in bad + bg],
                              np.r_[np.ones(len(bad)), np.zeros(len(bg))]))
    return replay_efficacy(history, days, lambda: [("dst_ip", IPReputationClassifier(), "dst_ip")],
                           indicator_columns={"ip": "dst_ip"}, update_every=4, update_delay=1,
                           alert_budget=4, analyst_k=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_output", help="folder for the plot and the STIX export")
    parser.add_argument("--top", type=int, default=8, help="how many alerts to print")
    parser.add_argument("--weeks", type=int, default=12, help="weeks to replay")
    args = parser.parse_args()
    run(args.out, args.top, args.weeks)


if __name__ == "__main__":
    main()
