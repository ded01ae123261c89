"""Model variants for the IP temporal task, on the pseudo-temporal validation only (no test window).

Exploration behind ``bench_ip``'s notes: each variant is trained on the entries
first listed before ``T - 4 weeks`` (plus as many background addresses) and
ranks the entries first listed in ``[T - 4 weeks, T)`` against fresh background
at 1:10 (``random_state=100``), exactly ``bench_ip.validation``'s protocol.
The test windows ``[T, T + 4 weeks)`` are never read. Writes no result file;
prints recall at precision 0.9 (and its ratio to the same-/24 baseline) and
ROC-AUC per variant.

Variants:

* ``default``: ``IPReputationClassifier()``'s design rebuilt from its parts
  (leave-one-out features, interaction products, standardised logistic
  regression), so that columns can be added; it gives bench_ip's validation
  numbers for the class itself (split B 0.3415).
* ``knn``: plus log2 distances to the 2nd ... 64th nearest listed address
  (a smoother density than the nearest one; the row's own entry left out).
* ``prefixes``: plus listed-address counts at /12, /14, /18 and /20.
* ``mixture``: no classifier; a multi-resolution histogram density of the
  listings (/8 ... /24 and a uniform floor), mixture weights by EM on the
  newest 4 weeks of the training period given the older listings.
* ``forward``: logistic regression (same features and products) trained
  forward in time: features from the listings before ``T - 8 weeks``, rows =
  the entries of ``[T - 8 weeks, T - 4 weeks)`` and background; those entries
  are then added to the tables to rank the validation window. ``forward+loo``
  adds the leave-one-out rows of the older listings.
* ``rank-average``: sum of the ranks of ``default`` and ``mixture``.

Usage: ``python benchmarks/explore_ip.py``
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from bench_ip import _baseline_scores, fitted_splits, recall_at_precision
from secml_detect.datasets.ips import (int_to_ipv4, load_datashield_blocklist, load_tor_exit_history,
                                       sample_background_ipv4)
from secml_detect.ip import IPSpatialFeatures, _interaction_pairs, _with_products, parse_addresses

WEEKS4 = np.timedelta64(28, "D")
KNN = (2, 4, 8, 16, 32, 64)
PREFIX_SHIFTS = (20, 18, 14, 12)              # /12, /14, /18, /20
MIXTURE_SHIFTS = np.array([8, 10, 12, 14, 16, 18, 20, 22, 24, 32])  # 32: uniform floor over IPv4


def v4(ips) -> np.ndarray:
    return parse_addresses(ips).v4.astype(np.int64)


def knn_columns(listed: np.ndarray, q: np.ndarray, own: np.ndarray) -> np.ndarray:
    """log2(1 + distance to the k-th nearest of sorted ``listed``), one exact copy left out where ``own``."""
    width = max(KNN) + 1
    j = np.clip(np.searchsorted(listed, q)[:, None] + np.arange(-width, width)[None, :], 0, len(listed) - 1)
    d = np.abs(listed[j] - q[:, None]).astype(float)
    d[:, 1:][j[:, 1:] == j[:, :-1]] = np.inf  # clipped repeats of the first / last entry
    d.sort(axis=1)
    rows = np.arange(len(q))
    return np.column_stack([np.log2(1 + d[rows, own.astype(int) + k - 1]) for k in KNN])


def count_in_prefix(listed: np.ndarray, q: np.ndarray, shift: int) -> np.ndarray:
    """How many of sorted ``listed`` share ``q``'s prefix of ``32 - shift`` bits."""
    keys, qk = listed >> shift, q >> shift
    return np.searchsorted(keys, qk, "right") - np.searchsorted(keys, qk, "left")


def prefix_columns(listed: np.ndarray, q: np.ndarray, own: np.ndarray) -> np.ndarray:
    return np.column_stack([np.log1p(count_in_prefix(listed, q, s) - own) for s in PREFIX_SHIFTS])


def linear_scores(Z: np.ndarray, y: np.ndarray, Z_eval: np.ndarray) -> np.ndarray:
    """Standardised logistic regression fitted on ``Z``, decision values of ``Z_eval``."""
    scaler = StandardScaler().fit(Z)
    model = LogisticRegression(max_iter=3000).fit(scaler.transform(Z), y)
    return model.decision_function(scaler.transform(Z_eval))


def classifier_scores(listed_ips, bg, X_eval, tor, extra=()):
    """``IPReputationClassifier``'s design (leave-one-out rows, products), optionally with extra columns."""
    X = listed_ips + int_to_ipv4(bg)
    y = np.r_[np.ones(len(listed_ips)), np.zeros(len(bg))]
    features = IPSpatialFeatures(tor_exits=tor)
    pairs = _interaction_pairs(True)
    Z = _with_products(features.fit_transform(X, y), pairs)
    Ze = _with_products(features.transform(X_eval), pairs)
    listed, q, qe = np.sort(v4(listed_ips)), v4(X), v4(X_eval)
    own, none = (y == 1).astype(int), np.zeros(len(qe), dtype=int)
    for name, columns in (("knn", knn_columns), ("prefixes", prefix_columns)):
        if name in extra:
            Z, Ze = np.hstack([Z, columns(listed, q, own)]), np.hstack([Ze, columns(listed, qe, none)])
    return linear_scores(Z, y, Ze)


def forward_scores(older, recent, bg_tables, bg_rows, X_eval, tor, with_loo=False):
    """Logistic regression on rows from ``recent`` described by tables of ``older`` (forward in time)."""
    y_tab = np.r_[np.ones(len(older)), np.zeros(len(bg_tables))]
    tables = older.ips + int_to_ipv4(bg_tables)
    features = IPSpatialFeatures(tor_exits=tor).fit(tables, y_tab)
    Z = features.transform(recent.ips + int_to_ipv4(bg_rows))
    y = np.r_[np.ones(len(recent)), np.zeros(len(bg_rows))]
    if with_loo:
        Z = np.vstack([Z, IPSpatialFeatures(tor_exits=tor).fit_transform(tables, y_tab)])
        y = np.r_[y, y_tab]
    pairs = _interaction_pairs(True)
    features.partial_fit(recent.ips, np.ones(len(recent)))
    return linear_scores(_with_products(Z, pairs), y, _with_products(features.transform(X_eval), pairs))


def _densities(listed: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-address density of ``listed`` in ``q``'s prefix at each level; the last column is uniform."""
    counts = np.column_stack([count_in_prefix(listed, q, s) for s in MIXTURE_SHIFTS[:-1]])
    return np.column_stack([counts / 2.0 ** MIXTURE_SHIFTS[:-1] / len(listed), np.full(len(q), 2.0 ** -32)])


def mixture_scores(train, cut, X_eval):
    """Log density of a multi-resolution histogram mixture; weights by EM, forward in time."""
    order = np.argsort(v4(train.ips))
    listed = v4(train.ips)[order]
    old = (cut - train.first_seen[order]) >= WEEKS4
    D = _densities(listed[old], listed[~old])
    w = np.full(D.shape[1], 1.0 / D.shape[1])
    for _ in range(200):
        R = D * w
        w = (R / R.sum(axis=1, keepdims=True)).mean(axis=0)
    return np.log(_densities(listed, v4(X_eval)) @ w)


def main() -> None:
    warnings.simplefilter("ignore")
    full = parse_addresses(load_datashield_blocklist(sample="all").ips)
    known_bad = full.v4[full.kind == 4]
    listing = load_datashield_blocklist(sample="hash10")
    tor = load_tor_exit_history(version=None).ips
    for name, cut, _ in fitted_splits(listing.first_seen):
        inner = np.datetime64(cut, "s") - WEEKS4
        train, val = listing.before(inner), listing.between(inner, cut)
        older, recent = listing.before(inner - WEEKS4), listing.between(inner - WEEKS4, inner)
        bg = sample_background_ipv4(len(train) + 10 * len(val) + 10 * len(recent), exclude=known_bad,
                                    random_state=100)
        bg_train, bg_val, bg_rows = bg[:len(train)], bg[len(train):len(train) + 10 * len(val)], bg[len(train) + 10 * len(val):]
        X_val = val.ips + int_to_ipv4(bg_val)
        y_val = np.r_[np.ones(len(val)), np.zeros(len(bg_val))]
        base = recall_at_precision(y_val, _baseline_scores(train.ips, X_val).astype(float))
        print(f"split {name}: train before {str(inner)[:10]} ({len(train):,} listed), validate "
              f"[{str(inner)[:10]}, {cut}) ({len(val):,} new, 1:10); baseline recall@p0.9 {base:.3f}", flush=True)
        scores = {"default": classifier_scores(train.ips, bg_train, X_val, tor),
                  "knn": classifier_scores(train.ips, bg_train, X_val, tor, ("knn",)),
                  "prefixes": classifier_scores(train.ips, bg_train, X_val, tor, ("prefixes",)),
                  "knn+prefixes": classifier_scores(train.ips, bg_train, X_val, tor, ("knn", "prefixes")),
                  "mixture": mixture_scores(train, inner, X_val)}
        for ratio in (1, 10):
            for with_loo in (False, True):
                scores[f"forward 1:{ratio}" + ("+loo" if with_loo else "")] = forward_scores(
                    older, recent, bg_train[:len(older)], bg_rows[:ratio * len(recent)], X_val, tor, with_loo)
        scores["rank-average(default, mixture)"] = rankdata(scores["default"]) + rankdata(scores["mixture"])
        for variant, s in scores.items():
            r = recall_at_precision(y_val, s)
            ratio = f"{r / base:.2f}x" if base > 0 else "baseline 0"
            print(f"  {variant:32s} recall@p0.9 {r:.3f} ({ratio})  ROC-AUC {roc_auc_score(y_val, s):.4f}", flush=True)


if __name__ == "__main__":
    main()
