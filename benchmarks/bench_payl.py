"""ByteFrequencyModel (PAYL) vs scikit-learn IsolationForest over byte histograms.

Data: Morzeux HTTP parameter values (train split in ../shared/datasets). Split:
a random half of the normal values (seed 0) trains both models; the test set is
the other half of the normals plus every attack. Speed: scoring throughput on
the test set (after a warm-up call), one process.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from _common import measure, write_result
from secml_detect import ByteFrequencyModel
from secml_detect._kernels.bytes import byte_histograms
from secml_detect._ragged import to_ragged_bytes
from secml_detect.datasets.http import load_http_params


def detection_at_fpr(y, scores, fpr):
    normal = np.sort(scores[y == 0])
    threshold = normal[int(np.ceil((1 - fpr) * len(normal))) - 1]
    return float(np.mean(scores[y == 1] > threshold))


def main() -> None:
    values, kinds, labels = load_http_params()
    y = np.array(labels)
    rng = np.random.RandomState(0)
    normal = np.flatnonzero(y == 0)
    train = rng.choice(normal, len(normal) // 2, replace=False)
    test = np.setdiff1d(np.arange(len(values)), train)
    X_train = [values[i] for i in train]
    X_test = [values[i] for i in test]
    y_test = y[test]

    rows = []
    model = ByteFrequencyModel().fit(X_train)
    model.threat_score(X_test[:10])
    with measure() as m:
        s = model.threat_score(X_test)
    ours = m.items_per_s(len(X_test))
    rows.append({"system": "ByteFrequencyModel", "task": "HTTP params", "metric": "ROC-AUC",
                 "value": roc_auc_score(y_test, s), "items_per_s": ours, "peak_mem_mb": m.peak_mb})
    rows.append({"system": "ByteFrequencyModel", "task": "HTTP params", "metric": "detection @ FPR 1%",
                 "value": detection_at_fpr(y_test, s, 0.01)})

    def histos(X):
        r = to_ragged_bytes(X)
        h = byte_histograms(r.data, r.offsets)
        return h / np.maximum(h.sum(axis=1, keepdims=True), 1)

    forest = IsolationForest(random_state=0).fit(histos(X_train))
    with measure() as m:
        s_if = -forest.score_samples(histos(X_test))
    peer = m.items_per_s(len(X_test))
    rows.append({"system": "IsolationForest (byte histograms)", "task": "HTTP params", "metric": "ROC-AUC",
                 "value": roc_auc_score(y_test, s_if), "items_per_s": peer, "peak_mem_mb": m.peak_mb})
    rows[0]["ratio_to_peer"] = ours / peer
    write_result("bench_payl", "ByteFrequencyModel (PAYL) vs IsolationForest", rows, notes=__doc__.split("\n\n", 1)[1])


if __name__ == "__main__":
    main()
