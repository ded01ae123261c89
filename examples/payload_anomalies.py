"""
Payload anomalies with a byte-frequency model
=============================================

Train :class:`secml_detect.ByteFrequencyModel` on normal HTTP parameter values
bundled with the package and rank held-out values and attacks.
"""

import numpy as np
from sklearn.metrics import roc_auc_score

from secml_detect import ByteFrequencyModel
from secml_detect.datasets.http import load_http_params_sample

values, kinds, labels = load_http_params_sample()
labels = np.array(labels)
normal = [v for v, y in zip(values, labels) if y == 0]
model = ByteFrequencyModel().fit(normal[:300])
test = normal[300:] + [v for v, y in zip(values, labels) if y == 1]
y_test = np.r_[np.zeros(len(normal) - 300), np.ones(int(labels.sum()))]
scores = model.threat_score(test)
print(f"ROC-AUC on held-out items: {roc_auc_score(y_test, scores):.3f}")
