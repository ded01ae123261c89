"""
Payload anomalies with a byte-frequency model
=============================================

Train :class:`secml_detect.ByteFrequencyModel` (PAYL) on normal HTTP parameter
values bundled with the package, then rank held-out normal values and attacks.
The ROC curve shows the whole trade-off; the dashed line marks the
``contamination`` threshold the model picked from training data alone.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from secml_detect import ByteFrequencyModel
from secml_detect.datasets.http import load_http_params_sample

values, kinds, labels = load_http_params_sample()
labels = np.array(labels)
normal = [v for v, y in zip(values, labels) if y == 0]
attacks = [v for v, y in zip(values, labels) if y == 1]

# Train on half of the normal values only; test on the other half plus every attack.
model = ByteFrequencyModel(contamination=0.01).fit(normal[:300])
test = normal[300:] + attacks
y_test = np.r_[np.zeros(len(normal) - 300), np.ones(len(attacks))]
scores = model.threat_score(test)
fpr, tpr, _ = roc_curve(y_test, scores)
flagged = model.predict(test) == -1

fig, ax = plt.subplots(figsize=(5, 4))
ax.plot(fpr, tpr, label=f"ByteFrequencyModel (AUC {roc_auc_score(y_test, scores):.3f})")
ax.axvline(np.mean(flagged[y_test == 0]), ls="--", c="grey", label="threshold from contamination=0.01")
ax.set_xscale("log")
ax.set_xlim(1e-3, 1)
ax.set_xlabel("false-positive rate (held-out normal values)")
ax.set_ylabel("detection rate (attacks)")
ax.legend(loc="lower right")
fig.tight_layout()

# %%
# Why was the top item flagged? The explanation names the byte values whose
# frequency departs most from normal traffic.
top = int(np.argmax(scores))
print(repr(test[top][:60]))
for c in model.explain([test[top]], top_k=3)[0].contributions:
    print(f"  {c.name}: {c.value}")
