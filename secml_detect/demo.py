"""End-to-end demo on data bundled in the package (``make demo``).

Trains a model of normal HTTP parameter values, scores held-out normal values
and attacks, and prints the most suspicious items with their reasons.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def run(top: int = 5) -> dict:
    from sklearn.metrics import roc_auc_score

    from secml_detect import ByteFrequencyModel
    from secml_detect.datasets.http import load_http_params_sample

    values, kinds, labels = load_http_params_sample()
    labels_arr = np.array(labels)
    rng = np.random.RandomState(0)
    normal_idx = np.flatnonzero(labels_arr == 0)
    train_idx = rng.choice(normal_idx, size=len(normal_idx) // 2, replace=False)
    test_idx = np.setdiff1d(np.arange(len(values)), train_idx)
    start = time.perf_counter()
    model = ByteFrequencyModel().fit([values[i] for i in train_idx])
    test_values = [values[i] for i in test_idx]
    scores = model.threat_score(test_values)
    elapsed = time.perf_counter() - start
    auc = roc_auc_score(labels_arr[test_idx], scores)
    print(f"ByteFrequencyModel: trained on {len(train_idx)} normal values, scored {len(test_idx)} held-out items "
          f"in {elapsed:.2f}s; ROC-AUC {auc:.3f}")
    order = np.argsort(-scores, kind="stable")[:top]
    explanations = model.explain([test_values[i] for i in order], top_k=2)
    for rank, (i, exp) in enumerate(zip(order, explanations), start=1):
        reasons = "; ".join(f"{c.name} ({c.value})" for c in exp.contributions)
        print(f"{rank}. score {scores[i]:.3f} [{kinds[test_idx[i]]}] {test_values[i][:60]!r}\n   why: {reasons}")
    return {"auc": float(auc)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--top", type=int, default=5, help="how many alerts to print")
    run(parser.parse_args().top)


if __name__ == "__main__":
    main()
