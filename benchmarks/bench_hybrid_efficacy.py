"""Detection efficacy over time: rules only vs models only vs hybrid vs hybrid + feedback.

Reproduces the seed's Figure 1 on real dated data (``secml_detect.hybrid.replay``):

* **Phishing URLs** (OpenPhish feed history, first-seen dates). Replayed days:
  2026-02-01 to 2026-02-28. Each day's malicious events: up to 200 URLs first
  seen in the 3 days up to that day (phishing pages live a few days). Benign
  events: 2,000 a day from ISCX-URL-2016 benign URLs and OpenDNS top domains
  (as ``https://domain/``), drawn from registered domains held out of
  training (split by registered domain, seed 0). History (training): up to
  20,000 OpenPhish URLs first seen 2025-12-01..2026-01-31 and 20,000 benign
  URLs of the training domains. Model: ``URLClassifier``. Rules: the URLs
  and hostnames of every phishing URL known at the last feed update.
* **Blocklisted IPs** (Data-Shield, unbiased 10% hash sample, listing and
  removal dates). Replayed days: 2026-03-01 to 2026-03-28. Malicious events:
  up to 200 addresses listed and not yet removed that day. Benign events:
  2,000 a day of background addresses sampled uniformly from public unicast
  space (there is no public list of benign single IPs). History: addresses
  first listed before 2026-03-01 (up to 20,000) against 20,000 background
  addresses. Model: ``IPReputationClassifier``. Rules: addresses known at
  the last update.

Feed updates every 7 days, published 1 day late. Each day's events are
shuffled before scoring (ties keep table order, and the days are built
attacks first). Efficacy = share of the day's malicious events detected before
the 11th false alert of the day. Feedback: each day a simulated analyst labels
the top 30 alerts of the learning detector that no rule fired on (after that
day is scored, so a day's verdicts only affect later days); confirmed findings
are promoted to signatures at once. After 10 feedback rounds (days 11-28) the
learning detector is compared with the same hybrid without feedback in two
ways: (a) at the same daily alert budget, AI^2's comparison: true and false
alerts among the day's top 30 (the analyst's k) of the events that the shared
feed does not flag (feed hits are the same for both and would fill the top);
(b) at the fixed 0.5 alert threshold over all events.

* **Unsupervised start** (AI^2's setting), on the phishing URLs: the models
  see only the benign history, without labels: a byte-frequency anomaly model
  of benign URLs ranks, and a ``URLClassifier`` waits for analyst verdicts
  (first fitted once both classes are labelled, refitted on all verdicts and
  as many presumed-benign reservoir events each round while labels are few).
  The learned combiner is fitted on component scores taken before each batch
  is learned (out-of-sample), verdicts plus the reservoir events, so ordinary
  traffic keeps low scores. The signature feed is the same as above. The
  reservoir is only presumed benign: about 9% of each day's events are
  phishing (events a rule fired on are kept out of it).
* **Unsupervised start, no promotion** (ablation): the same, but confirmed
  findings are not promoted to signatures, to show how much of the gain comes
  from the models rather than from re-seen URLs and hosts (phishing URLs are
  active for a few days) caught by promoted indicators. No plot.

The dates fit the development data; data of the same form from another
period replays its own last weeks instead (``_common.fitted_date``, printed).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from _common import REPO_ROOT, fitted_date, write_result
from secml_detect import ByteFrequencyModel, IPReputationClassifier, URLClassifier
from secml_detect.hybrid.replay import ReplayDay, STRATEGIES, plot_efficacy, replay_efficacy

DOC_IMG = REPO_ROOT / "docs" / "_static"
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "bench_hybrid_efficacy.json"
DAYS = 28
PER_DAY_BAD, PER_DAY_BENIGN, HISTORY = 200, 2000, 20_000
BUDGET, ANALYST_K = 10, 30


def _host(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].split("@")[-1].split(":")[0].lower()


def url_replay(progress, history_labels=True, promote=True):
    from secml_detect.datasets.urls import load_iscx_urls, load_opendns_top, load_openphish, registered_domains

    rng = np.random.RandomState(0)
    phish, seen = load_openphish()
    benign_urls, _, _ = load_iscx_urls(kinds=("benign",))
    benign = benign_urls + [f"https://{d}/" for d in load_opendns_top()]
    regs = registered_domains(benign)
    uniq = sorted(set(regs))
    train_regs = set(rng.choice(uniq, len(uniq) // 2, replace=False).tolist())
    train_benign = [u for u, r in zip(benign, regs) if r in train_regs]
    pool = [u for u, r in zip(benign, regs) if r not in train_regs]
    day0 = fitted_date(seen, "2026-02-01", after_days=DAYS)
    hist_mask = (seen >= day0 - np.timedelta64(62, "D")) & (seen < day0)  # 2025-12-01 for the development data
    hist_bad = [phish[i] for i in rng.permutation(np.flatnonzero(hist_mask))[:HISTORY]]
    hist_good = [train_benign[i] for i in rng.permutation(len(train_benign))[:HISTORY]]
    ev = lambda u: {"url": u, "host": _host(u)}  # noqa: E731
    history = ReplayDay("history", [ev(u) for u in hist_bad + hist_good], np.r_[np.ones(len(hist_bad)), np.zeros(len(hist_good))])
    days = []
    pool_order = rng.permutation(len(pool))
    for d in range(DAYS):
        t0 = day0 + np.timedelta64(d, "D")
        active = np.flatnonzero((seen >= t0 - np.timedelta64(2, "D")) & (seen < t0 + np.timedelta64(1, "D")))
        bad = [phish[i] for i in rng.choice(active, min(PER_DAY_BAD, len(active)), replace=False)]
        good = [pool[i] for i in pool_order[(d * PER_DAY_BENIGN) % len(pool):][:PER_DAY_BENIGN]]
        days.append(ReplayDay(str(t0.astype("datetime64[D]")), [ev(u) for u in bad + good],
                              np.r_[np.ones(len(bad)), np.zeros(len(good))]))
    if history_labels:
        components = lambda: [("url", URLClassifier(n_features=2**18, random_state=0), "url")]  # noqa: E731
    else:  # unsupervised start: an anomaly model of benign URLs, a classifier that learns from verdicts
        components = lambda: [("url_anomaly", ByteFrequencyModel(), "url"),  # noqa: E731
                              ("url", URLClassifier(n_features=2**18, random_state=0), "url")]
    return replay_efficacy(history, days, components, indicator_columns={"url": "url", "domain": "host"},
                           update_every=7, update_delay=1, alert_budget=BUDGET, analyst_k=ANALYST_K,
                           history_labels=history_labels, promote=promote, progress=progress)


def ip_replay(progress):
    from secml_detect.datasets.ips import int_to_ipv4, load_datashield_blocklist, sample_background_ipv4

    rng = np.random.RandomState(0)
    listing = load_datashield_blocklist()
    day0 = fitted_date(listing.first_seen, "2026-03-01", after_days=DAYS)
    before = np.flatnonzero(listing.first_seen < day0)
    hist_bad = [listing.ips[i] for i in rng.permutation(before)[:HISTORY]]
    background = int_to_ipv4(sample_background_ipv4(HISTORY + DAYS * PER_DAY_BENIGN, exclude=listing.ips, random_state=0))
    history = ReplayDay("history", [{"dst_ip": ip} for ip in hist_bad + background[:HISTORY]],
                        np.r_[np.ones(len(hist_bad)), np.zeros(HISTORY)])
    days = []
    for d in range(DAYS):
        t0 = day0 + np.timedelta64(d, "D")
        t1 = t0 + np.timedelta64(1, "D")
        active = np.flatnonzero((listing.first_seen < t1) & (np.isnat(listing.last_removed) | (listing.last_removed >= t0)))
        bad = [listing.ips[i] for i in rng.choice(active, min(PER_DAY_BAD, len(active)), replace=False)]
        good = background[HISTORY + d * PER_DAY_BENIGN: HISTORY + (d + 1) * PER_DAY_BENIGN]
        days.append(ReplayDay(str(t0.astype("datetime64[D]")), [{"dst_ip": ip} for ip in bad + good],
                              np.r_[np.ones(len(bad)), np.zeros(len(good))]))
    return replay_efficacy(history, days, lambda: [("dst_ip", IPReputationClassifier(), "dst_ip")],
                           indicator_columns={"ip": "dst_ip"}, update_every=7, update_delay=1,
                           alert_budget=BUDGET, analyst_k=ANALYST_K, progress=progress)


def _fewer(base: int, new: int) -> str:
    if not new:
        return "none left" if base else "none in either"
    return f"{base / new:.1f}x fewer"


def summarise(name, result, seconds, slug, plotted=True):
    rows = []
    for strategy in STRATEGIES:
        rows.append({"system": strategy, "task": name, "metric": "mean daily efficacy",
                     "value": float(np.nanmean(result.efficacy[strategy]))})
    late = slice(10, None)  # after 10 feedback rounds
    total = lambda counts, strategy: int(counts[strategy][late].sum())  # noqa: E731
    fb_top, base_top = total(result.detected_in_top, "hybrid + feedback"), total(result.detected_in_top, "hybrid")
    fb_top_fp, base_top_fp = total(result.false_in_top, "hybrid + feedback"), total(result.false_in_top, "hybrid")
    fb_det, base_det = total(result.detected_at_threshold, "hybrid + feedback"), total(result.detected_at_threshold, "hybrid")
    fb_fp, base_fp = total(result.false_at_threshold, "hybrid + feedback"), total(result.false_at_threshold, "hybrid")
    eff_fb = np.nanmean(result.efficacy["hybrid + feedback"][late])
    eff_base = np.nanmean(result.efficacy["hybrid"][late])
    for metric, fb, base in (("detections in daily top k, days 11+", fb_top, base_top),
                             ("false alerts in daily top k, days 11+", fb_top_fp, base_top_fp),
                             ("detections at threshold, days 11+", fb_det, base_det),
                             ("false alerts at threshold, days 11+", fb_fp, base_fp)):
        rows += [{"system": "hybrid + feedback", "task": name, "metric": metric, "value": fb},
                 {"system": "hybrid", "task": name, "metric": metric, "value": base}]
    section = (f"**{name}** ({seconds:.0f} s): area between curves (efficacy x days) — hybrid vs rules only "
               f"{result.area_between('hybrid', 'rules only'):.2f}, hybrid + feedback vs rules only "
               f"{result.area_between('hybrid + feedback', 'rules only'):.2f}, models only vs rules only "
               f"{result.area_between('models only', 'rules only'):.2f}. After 10 feedback rounds (days 11-{DAYS}), "
               f"hybrid + feedback vs the same hybrid without feedback: (a) **same daily alert budget** (AI^2's "
               f"comparison: the top {ANALYST_K} alerts of each day among the events the shared feed does not flag), "
               f"detections {fb_top} vs {base_top} ({fb_top / max(base_top, 1):.2f}x) and false alerts {fb_top_fp} vs "
               f"{base_top_fp} ({_fewer(base_top_fp, fb_top_fp)}); (b) **0.5 alert threshold** (all events), detections "
               f"{fb_det} vs {base_det} ({fb_det / max(base_det, 1):.2f}x) and false alerts {fb_fp} vs {base_fp} "
               f"({_fewer(base_fp, fb_fp)}); (c) efficacy within {BUDGET} false alerts a day {eff_fb:.3f} vs "
               f"{eff_base:.3f} ({eff_fb / max(eff_base, 1e-9):.2f}x). Promoted indicators: {result.promoted}; "
               f"analyst labels: {result.feedback_labels}." + (f" Plot: `docs/_static/efficacy_{slug}.png`." if plotted else ""))
    return rows, section


def main() -> None:
    DOC_IMG.mkdir(exist_ok=True)
    rows, sections = [], []
    runs = (("Phishing URLs (OpenPhish)", "phishing", lambda p: url_replay(p)),
            ("Blocklisted IPs (Data-Shield)", "blocklisted", ip_replay),
            ("Phishing URLs, unsupervised start", "unsupervised", lambda p: url_replay(p, history_labels=False)),
            ("Phishing URLs, unsupervised start, no promotion (ablation)", "unsupervised-nopromote",
             lambda p: url_replay(p, history_labels=False, promote=False)))
    plotted = {"phishing", "blocklisted", "unsupervised"}
    only = set(sys.argv[1:])  # e.g. "unsupervised" to rerun one replay; the others keep their last result
    previous = {}
    if only and (RESULTS_FILE).exists():
        import json

        old = json.loads(RESULTS_FILE.read_text())
        for (name, slug, _), section in zip(runs, old["sections"]):
            previous[slug] = ([r for r in old["rows"] if r["task"] == name], section)
    for name, slug, fn in runs:
        if only and slug not in only and slug in previous:
            rows += previous[slug][0]
            sections.append(previous[slug][1])
            continue
        start = time.perf_counter()
        result = fn(lambda msg: print(msg, flush=True))
        seconds = time.perf_counter() - start
        if slug in plotted:
            plot_efficacy(result, DOC_IMG / f"efficacy_{slug}.png", title=f"{name}: efficacy over time")
        r, s = summarise(name, result, seconds, slug, slug in plotted)
        rows += r
        sections.append(s)
    sections.append("\n\n".join(f"![{name}](_static/efficacy_{slug}.png)" for name, slug, _ in runs if slug in plotted))
    write_result("bench_hybrid_efficacy", "Hybrid detector: efficacy over time (the seed's Figure 1)", rows,
                 notes=__doc__.split("\n\n", 1)[1], sections=sections)


if __name__ == "__main__":
    sys.exit(main())
