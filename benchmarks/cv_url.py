"""Cross-validation of URLClassifier parameters on the TRAINING parts of bench_url's splits.

How the defaults ``alpha="auto"`` and ``benign_weight=2`` were chosen (numbers in
bench_url's notes); the test sets are never read. Writes no result file.

* ``b``: (b)'s training part, two protocols, each the mean over 3 folds:
  *grouped* (folds by registered domain, ``crc32(domain) % 3``) and *temporal*
  (train on the OpenPhish URLs first seen before 2025-11-01 plus two benign
  folds, validate on those of November-December 2025 plus the third fold).
* ``a``: (a)'s training part, 3 folds by registered domain.
* ``c``: (c)'s training part, 5 folds by registered domain.

Usage: ``python benchmarks/cv_url.py '{"alpha": 1e-5, "benign_weight": 1.0}' b a c``
"""

from __future__ import annotations

import json
import sys
import zlib

import numpy as np
from sklearn.metrics import roc_auc_score

from bench_url import bare_domain_split, in_test, temporal_split, tpr_at_fpr
from secml_detect import URLClassifier
from secml_detect.datasets.urls import load_iscx_urls, load_opendns_top, load_openphish, registered_domains

VALIDATE_FROM = np.datetime64("2025-11-01T00:00:00")
FPRS = (5e-4, 1e-3, 1e-2)


def domain_folds(urls, k: int) -> np.ndarray:
    return np.array([zlib.crc32(d.encode("utf-8", "surrogatepass")) % k for d in registered_domains(urls)])


def report(name: str, X, y, splits, params: dict) -> None:
    """Mean ROC-AUC and TPR at ``FPRS`` over ``(train_rows, validation_rows)`` splits."""
    parts = []
    for tr, te in splits:
        s = URLClassifier(**params).fit([X[i] for i in tr], y[tr]).threat_score([X[i] for i in te])
        parts.append([roc_auc_score(y[te], s)] + [tpr_at_fpr(y[te], s, f) for f in FPRS])
    auc, *tprs = np.mean(parts, axis=0)
    print(f"{name}: ROC-AUC {auc:.5f}, " + ", ".join(f"TPR@{f:g} {t:.4f}" for f, t in zip(FPRS, tprs)), flush=True)


def main(argv: list[str]) -> None:
    params = json.loads(argv[0]) if argv else {}
    parts = argv[1:] or ["b", "a", "c"]
    print("params", params)
    top = [d.lower() for d in load_opendns_top()]
    iscx_urls, iscx_labels, iscx_kinds = load_iscx_urls()
    if "b" in parts:
        _, early, X, y, _, _ = temporal_split(top, iscx_urls, iscx_kinds)
        late = np.zeros(len(X), dtype=bool)
        late[:int(early.sum())] = np.asarray(load_openphish()[1])[early] >= VALIDATE_FROM
        fold = domain_folds(X, 3)
        report("(b) grouped", X, y, [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(3)],
               params)
        mal_train, mal_val = (y == 1) & ~late, (y == 1) & late
        report("(b) temporal", X, y, [(np.flatnonzero(mal_train | ((y == 0) & (fold != k))),
                                       np.flatnonzero(mal_val | ((y == 0) & (fold == k)))) for k in range(3)], params)
    if "a" in parts:
        te = in_test(registered_domains(iscx_urls))
        X, y = [u for u, t in zip(iscx_urls, te) if not t], iscx_labels[~te]
        fold = domain_folds(X, 3)
        report("(a) 3-fold", X, y, [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(3)], params)
    if "c" in parts:
        X, y = bare_domain_split(top, iscx_urls, iscx_kinds)[:2]
        fold = domain_folds(X, 5)
        report("(c) 5-fold", X, y, [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(5)], params)


if __name__ == "__main__":
    main(sys.argv[1:])
