"""IPReputationClassifier: temporal blocklist evaluation and speed, with peers in the same run.

Quality (temporal, no leakage): the Data-Shield IPv4 blocklist history
(``ip_datashield_blocklist``, the unbiased deterministic 10% sample of all
entries, ``sample="hash10"``). For a cut-off date T, the model is trained on
the entries first listed **before T** (label 1) plus as many background
addresses (label 0), and ranks the addresses **first listed in the 4 weeks
after T** against fresh background addresses (never used in training).
Background = uniform draws from public unicast IPv4 space, excluding reserved
ranges and every address in the whole staged blocklist file (there is no
public list of benign single addresses). Tor exits (first seen before 2023,
so before every T) and the published provider ranges are features. Baseline
on the same split: score 1 when some other address of the same /24 was listed
before T, else 0. Metrics: ROC-AUC and recall at precision 0.9 (highest
recall over thresholds whose precision is >= 0.9), at 1 and 10 background
addresses per new listing.

Model choice (validation without the test window): for each split, a
pseudo-temporal validation inside the training period trains on the entries
first listed before T - 4 weeks (plus as many background addresses) and ranks
the entries first listed in [T - 4 weeks, T) against fresh background at 1:10
(``random_state=100``, disjoint from the benchmark's background). The pairwise
products of seven key columns (``interactions=True``, the default) were chosen
there over the plain linear model, spline and quantile-bin expansions, class
weighting, 1:4 training background, recency counts and gradient boosting (on
leave-one-out rows boosting learns the rows' own removed label from exact
counts; trained forward in time it was at best +5% on B and equal on A); the
validation rows below are rerun in every benchmark. The plain linear model is
reported on the test split for reference only (not used for choosing). Later
variants on the same validation (``benchmarks/explore_ip.py``; split B at
1:10, the default 0.341 against a baseline of 0.160): distances to the
2nd-64th nearest listed address 0.345, counts at /12, /14, /18, /20 0.344,
both 0.346, a multi-resolution histogram density with EM weights 0.334, the
linear model trained forward in time (rows from the 4 weeks before the
validation window, described by older listings) 0.312-0.343, a rank average of
the default and the density 0.347; none kept: the best gains (0.006 on B;
split A 0.564-0.602 against the default 0.599) are within window-to-window
noise and would need new kernels. The same-/24 baseline is stronger in the
test window (0.202) than in the validation window (0.160), so the model's
2.13x on validation is 1.83x on test. (A slip ran four of these variants once
on the test windows as well: B 1:10 between 0.370 and 0.377, A 1:10
0.567-0.570; that run chose nothing.)

The cut-offs fit the development data; data of the same form from another
period gets 4-week windows of its own (``fitted_splits``, printed).

Speed: 1,000,000 addresses drawn uniformly from public unicast space (random
order: the worst case for the lookups' caches), one process, best of 3 after a
warm-up, on the model of split A; ``cpu_items_per_s`` divides by this
process's CPU time instead of wall time (the machine is shared). Peers measured in the same run: Python's
``ipaddress`` for parsing, ``BetaBinomialHierarchy.rates`` (numpy
``searchsorted``) for the neighbourhood rates, ``pytricia`` for provider-range
membership, and a plain Python "same /24 listed" set lookup for end-to-end
scoring.
"""

from __future__ import annotations

import ipaddress
import os
import time
import warnings

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score

from _common import fitted_date, measure, write_result
from secml_detect.datasets.ips import (
    int_to_ipv4,
    load_datashield_blocklist,
    load_provider_ranges,
    load_tor_exit_history,
    sample_background_ipv4,
)
from secml_detect.ip import IPReputationClassifier, _level_keys, parse_addresses

SPLITS = (("A", "2026-03-01", "2026-03-29"), ("B", "2025-11-01", "2025-11-29"))
FALLBACK_QUANTILES = {"A": 0.8, "B": 0.4}  # where a split goes on data of another period (fitted_date)
RATIOS = (1, 10)
N_SPEED = 1_000_000


def recall_at_precision(y, scores, precision=0.9) -> float:
    prec, rec, _ = precision_recall_curve(y, scores)
    ok = prec >= precision
    return float(rec[ok].max()) if ok.any() else 0.0


def best_time(fn, repeat=3):
    """Smallest wall time of ``repeat`` calls after a warm-up call."""
    return best_times(fn, repeat)[0]


def best_times(fn, repeat=3):
    """Smallest (wall, CPU) times of ``repeat`` calls after a warm-up call.

    On a shared machine the CPU time of this process is the fairer measure of
    single-core throughput (wall time includes waiting for a core).
    """
    fn()
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu


def _baseline_scores(train_ips, X_test):
    """1 where some address of the same /24 is among ``train_ips``, else 0."""
    listed = parse_addresses(train_ips)
    listed24 = np.unique(listed.v4[listed.kind == 4] >> 8)
    parsed = parse_addresses(X_test)
    return np.isin(parsed.v4 >> 8, listed24) & (parsed.kind == 4)


def _fit(train_ips, bg_train, tor, **params):
    X = train_ips + int_to_ipv4(bg_train)
    y = np.r_[np.ones(len(train_ips)), np.zeros(len(bg_train))]
    t0 = time.perf_counter()
    clf = IPReputationClassifier(tor_exits=tor, **params).fit(X, y)
    return clf, time.perf_counter() - t0


def _quiet_scores(clf, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clf.threat_score(X)


def fitted_splits(first_seen) -> tuple:
    """``SPLITS`` where the listing dates fit them; data of another period gets 4-week windows of its own."""
    out = []
    for name, cut, _ in SPLITS:
        start = fitted_date(first_seen, cut, after_days=28, fallback_quantile=FALLBACK_QUANTILES[name])
        out.append((name, str(start)[:10], str(start + np.timedelta64(28, "D"))[:10]))
    return tuple(out)


def validation(rows, splits, listing, known_bad, tor, exclude_bg):
    """Pseudo-temporal validation inside each split's training period (how the model was chosen)."""
    for name, cut, _ in splits:
        inner = np.datetime64(cut, "s") - np.timedelta64(28, "D")
        train, val = listing.before(inner), listing.between(inner, cut)
        bg = sample_background_ipv4(len(train) + 10 * len(val), exclude=np.r_[known_bad, exclude_bg],
                                    random_state=100)
        X_val = val.ips + int_to_ipv4(bg[len(train):])
        y_val = np.r_[np.ones(len(val)), np.zeros(10 * len(val))]
        task = (f"validation for split {name}: train before {str(inner)[:10]}, "
                f"rank [{str(inner)[:10]}, {cut}), 1:10 background")
        base = _baseline_scores(train.ips, X_val).astype(float)
        r_base = recall_at_precision(y_val, base)
        for interactions in (False, True):
            clf, _ = _fit(train.ips, bg[:len(train)], tor, interactions=interactions)
            s = _quiet_scores(clf, X_val)
            r = recall_at_precision(y_val, s)
            system = f"IPReputationClassifier (interactions={interactions})"
            rows.append({"system": system, "task": task, "metric": "ROC-AUC", "value": roc_auc_score(y_val, s)})
            rows.append({"system": system, "task": task, "metric": "recall @ precision 0.9", "value": r,
                         "ratio_to_peer": r / r_base if r_base > 0 else None})
        rows.append({"system": "baseline: same /24 listed before", "task": task, "metric": "recall @ precision 0.9",
                     "value": r_base})


def temporal(rows, sections, splits, listing, known_bad, tor):
    models, test_background = {}, []
    table = ["| split | cut-off T | test window | train listed | train background | new listings (test) |",
             "|---|---|---|---|---|---|"]
    for name, cut, stop in splits:
        train, test = listing.before(cut), listing.between(cut, stop)
        bg = sample_background_ipv4(len(train) + max(RATIOS) * len(test), exclude=known_bad, random_state=0)
        bg_train, bg_test = bg[:len(train)], bg[len(train):]
        test_background.append(bg_test)
        clf, fit_s = _fit(train.ips, bg_train, tor)
        linear, _ = _fit(train.ips, bg_train, tor, interactions=False)
        models[name] = clf
        table.append(f"| {name} | {cut} | {cut} .. {stop} (4 weeks) | {len(train):,} | {len(bg_train):,} | {len(test):,} |")
        for ratio in RATIOS:
            X_test = test.ips + int_to_ipv4(bg_test[:ratio * len(test)])
            y_test = np.r_[np.ones(len(test)), np.zeros(ratio * len(test))]
            s = _quiet_scores(clf, X_test)
            s_linear = _quiet_scores(linear, X_test)
            base = _baseline_scores(train.ips, X_test)
            task = f"temporal split {name} (T={cut}), 1:{ratio} background"
            r_model = recall_at_precision(y_test, s)
            r_base = recall_at_precision(y_test, base.astype(float))
            rows.append({"system": "IPReputationClassifier", "task": task, "metric": "ROC-AUC",
                         "value": roc_auc_score(y_test, s), "fit_s": fit_s})
            rows.append({"system": "IPReputationClassifier", "task": task, "metric": "recall @ precision 0.9",
                         "value": r_model, "ratio_to_peer": r_model / r_base if r_base > 0 else None})
            r_linear = recall_at_precision(y_test, s_linear)
            reference = "plain linear model (interactions=False), for reference only"
            rows.append({"system": reference, "task": task, "metric": "ROC-AUC", "value": roc_auc_score(y_test, s_linear)})
            rows.append({"system": reference, "task": task, "metric": "recall @ precision 0.9", "value": r_linear,
                         "ratio_to_peer": r_linear / r_base if r_base > 0 else None})
            rows.append({"system": "baseline: same /24 listed before T", "task": task, "metric": "ROC-AUC",
                         "value": roc_auc_score(y_test, base)})
            rows.append({"system": "baseline: same /24 listed before T", "task": task,
                         "metric": "recall @ precision 0.9", "value": r_base,
                         "note": f"precision of the baseline's flagged set: {y_test[base].mean():.3f}"})
    sections.append(
        "### Temporal split (IP reputation)\n\n"
        "Listings come from the Data-Shield blocklist history, restricted to the deterministic 10% hash "
        "sample of all entries (the staged file also holds every entry still listed in 2026-08, which is "
        "selected by its future and would bias a temporal test). Training uses only entries first listed "
        "before the cut-off T; the test positives are the entries first listed in the 4 weeks after T "
        "(none of them is in training). Background addresses (label 0) are uniform draws from public "
        "unicast IPv4 space excluding reserved ranges and every address of the staged list; test "
        "background is disjoint from training background. Split B ends before the January 2026 spike "
        "(a change in how the list was built); split A starts after it.\n\n" + "\n".join(table) + "\n\n"
        "Caveats: the provider ranges are a 2026-08 snapshot (ranges, not labels); uniform background "
        "includes unrouted space that live traffic never comes from, so absolute numbers are optimistic "
        "for coarse prefixes; precision depends on the background ratio, hence both 1:1 and 1:10.")
    return models, np.concatenate(test_background)


def speed(rows, clf, tor):
    q = sample_background_ipv4(N_SPEED, random_state=1)
    qs = int_to_ipv4(q)
    features = clf.features_

    # parsing dotted quads
    ours, ours_cpu = best_times(lambda: parse_addresses(qs))
    sub = qs[:200_000]
    peer = best_time(lambda: [int(ipaddress.IPv4Address(s)) for s in sub], repeat=1) * (N_SPEED / len(sub))
    rows.append({"system": "parse_addresses (numba)", "task": "parse 1M dotted quads", "metric": "items/s",
                 "value": N_SPEED / ours, "items_per_s": N_SPEED / ours, "cpu_items_per_s": N_SPEED / ours_cpu,
                 "ratio_to_peer": peer / ours})
    rows.append({"system": "ipaddress.IPv4Address", "task": "parse 1M dotted quads", "metric": "items/s",
                 "value": N_SPEED / peer, "items_per_s": N_SPEED / peer})

    # all 34 features from integers
    features.transform(q[:1000])
    t_feat, cpu_feat = best_times(lambda: features.transform(q))
    with measure() as m:
        features.transform(q)
    # the same features the way threat_score computes them: addresses visited in
    # sorted order, 4,096-row chunks into one reused buffer
    from secml_detect.ip import _SCORE_CHUNK

    buffer = np.empty((_SCORE_CHUNK, len(features.get_feature_names_out())))

    def chunked():
        ordered = parsed.permute(parsed.sort_order())
        for start in range(0, N_SPEED, _SCORE_CHUNK):
            features._features(ordered.take(start, min(N_SPEED, start + _SCORE_CHUNK)), buffer=buffer)

    parsed = parse_addresses(q)
    t_chunk, cpu_chunk = best_times(chunked)
    with measure() as m_chunk:
        chunked()
    # peer: the five smoothed rates alone by the hierarchy's numpy query
    keys = list(_level_keys(q, 4).T)
    t_rates = best_time(lambda: features.hierarchy4_.rates(keys), repeat=1)
    rows.append({"system": "IPSpatialFeatures.transform", "task": "34 features, 1M integer IPv4",
                 "metric": "items/s", "value": N_SPEED / t_feat, "items_per_s": N_SPEED / t_feat,
                 "cpu_items_per_s": N_SPEED / cpu_feat, "peak_mem_mb": m.peak_mb, "ratio_to_peer": t_rates / t_feat,
                 "note": "returns the full (n, 34) float64 matrix"})
    rows.append({"system": "IPSpatialFeatures, sorted 4k-row chunks", "task": "34 features, 1M integer IPv4",
                 "metric": "items/s", "value": N_SPEED / t_chunk, "items_per_s": N_SPEED / t_chunk,
                 "cpu_items_per_s": N_SPEED / cpu_chunk, "peak_mem_mb": m_chunk.peak_mb,
                 "ratio_to_peer": t_rates / t_chunk})
    rows.append({"system": "BetaBinomialHierarchy.rates (numpy searchsorted)", "task": "34 features, 1M integer IPv4",
                 "metric": "items/s (5 rate columns only)", "value": N_SPEED / t_rates, "items_per_s": N_SPEED / t_rates})

    # provider-range membership: our segment search vs pytricia
    try:
        import pytricia
    except ImportError:  # pragma: no cover - optional peer
        pytricia = None
    t_seg = best_time(lambda: features._range_ids(parsed))
    row = {"system": "sorted-segment search (numba)", "task": "innermost provider range, 1M IPv4",
           "metric": "items/s", "value": N_SPEED / t_seg, "items_per_s": N_SPEED / t_seg}
    rows.append(row)
    if pytricia is not None:
        trie = pytricia.PyTricia()
        for provider, cidr in load_provider_ranges(version=4):
            if cidr not in trie:
                trie[cidr] = provider
        sub = qs[:200_000]
        t_trie = best_time(lambda: [trie.get(s) for s in sub], repeat=1) * (N_SPEED / len(sub))
        row["ratio_to_peer"] = t_trie / t_seg
        rows.append({"system": "pytricia longest-prefix match", "task": "innermost provider range, 1M IPv4",
                     "metric": "items/s", "value": N_SPEED / t_trie, "items_per_s": N_SPEED / t_trie})

    # end to end
    set24 = set((features.bad4_ >> 8).tolist())

    def peer_e2e(items):
        return [1.0 if int(ipaddress.IPv4Address(s)) >> 8 in set24 else 0.0 for s in items]

    t_peer = best_time(lambda: peer_e2e(sub), repeat=1) * (N_SPEED / len(sub))
    for label, batch in (("dotted strings", qs), ("integers", q)):
        t, cpu = best_times(lambda: clf.threat_score(batch))
        with measure() as m:
            clf.threat_score(batch)
        rows.append({"system": "IPReputationClassifier.threat_score", "task": f"end to end, 1M IPv4 {label}",
                     "metric": "items/s", "value": N_SPEED / t, "items_per_s": N_SPEED / t,
                     "cpu_items_per_s": N_SPEED / cpu, "peak_mem_mb": m.peak_mb, "ratio_to_peer": t_peer / t})
    rows.append({"system": "Python: ipaddress + set of listed /24s", "task": "end to end, 1M IPv4 dotted strings",
                 "metric": "items/s", "value": N_SPEED / t_peer, "items_per_s": N_SPEED / t_peer})


def main() -> None:
    full = load_datashield_blocklist(sample="all")
    parsed = parse_addresses(full.ips)
    known_bad = parsed.v4[parsed.kind == 4]
    listing = load_datashield_blocklist(sample="hash10")
    tor = load_tor_exit_history(version=None).ips
    rows, sections = [], []
    validation_rows = []
    splits = fitted_splits(listing.first_seen)
    models, test_background = temporal(rows, sections, splits, listing, known_bad, tor)
    validation(validation_rows, splits, listing, known_bad, tor, test_background)
    rows[:0] = validation_rows
    speed(rows, models["A"], tor)
    load = os.getloadavg()[0]
    notes = __doc__.split("\n\n", 1)[1] + f"\nLoad average during the run: {load:.1f} on {os.cpu_count()} CPUs (shared machine).\n"
    write_result("bench_ip", "IPReputationClassifier: temporal blocklist evaluation and speed", rows,
                 notes=notes, sections=sections)


if __name__ == "__main__":
    main()
