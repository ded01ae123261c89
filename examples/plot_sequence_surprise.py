"""
The surprise trace of an anomalous call sequence
================================================

:class:`secml_detect.APICallSequenceModel` learns which log key (or system
call) follows the last few in normal sessions, and scores each call of a new
session by its surprise, ``-log p(call | context)``. Here it is trained on
normal HDFS block sessions bundled with the package; the figure shows the
per-call surprise of a held-out normal session and of an anomalous one, and
the explanation names the calls that made it anomalous.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from secml_detect import APICallSequenceModel
from secml_detect.datasets.sequences import load_hdfs_sample

sessions, labels = load_hdfs_sample()
normal = [s for s, y in zip(sessions, labels) if y == 0]
anomalous = [s for s, y in zip(sessions, labels) if y == 1]
model = APICallSequenceModel(random_state=0).fit(normal[:750])

test = normal[750:] + anomalous
y_test = np.r_[np.zeros(len(normal) - 750), np.ones(len(anomalous))]
print(f"ROC-AUC on held-out sessions: {roc_auc_score(y_test, model.threat_score(test)):.3f}")

# Pick the anomalous session with the highest score and a typical normal one.
bad = anomalous[int(np.argmax(model.threat_score(anomalous)))]
good = normal[760]
fig, ax = plt.subplots(figsize=(6.5, 3.2))
for seq, name, color in ((good, "held-out normal session", "tab:blue"), (bad, "anomalous session", "tab:red")):
    surprise = model.call_surprise([seq])[0]
    ax.step(np.arange(len(surprise)), surprise, where="mid", color=color, label=name)
ax.set_xlabel("position in the session (last step: end of session)")
ax.set_ylabel("surprise, nats")
ax.legend()
fig.tight_layout()

# %%
# The explanation: the most surprising positions, with their context.
for c in model.explain([bad], top_k=3)[0].contributions:
    print(f"{c.name:22s} {c.value}  ({c.weight:.1f} nats)")
