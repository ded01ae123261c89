"""
ROC curves of the URL classifier on bare domains
================================================

Bare domains (no path to give them away) are the hard case for a URL model.
The bundled sample holds popular domains (benign) and C2 domains from
signature-base. We split **by registered domain** (never by row: subdomains of
one C2 domain on both sides would make the numbers lie), train
:class:`secml_detect.URLClassifier`, and compare it with a plain character
n-gram logistic regression on the same split.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import GroupShuffleSplit

from secml_detect import URLClassifier
from secml_detect.datasets.urls import load_domain_sample, registered_domains

domains, y = load_domain_sample()
groups = registered_domains(domains)
train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.4, random_state=0).split(domains, y, groups))
X_train, X_test = [domains[i] for i in train], [domains[i] for i in test]

ours = URLClassifier(n_features=2**16, random_state=0).fit(X_train, y[train])
s_ours = ours.threat_score(X_test)

vec = HashingVectorizer(analyzer="char", ngram_range=(3, 5), n_features=2**16, alternate_sign=False)
plain = LogisticRegression(max_iter=2000).fit(vec.transform(X_train), y[train])
s_plain = plain.predict_proba(vec.transform(X_test))[:, 1]

fig, ax = plt.subplots(figsize=(5, 4))
for name, s in (("URLClassifier", s_ours), ("char 3-5-gram LR", s_plain)):
    fpr, tpr, _ = roc_curve(y[test], s)
    ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y[test], s):.3f})")
ax.plot([0, 1], [0, 1], ":", c="grey")
ax.set_xlabel("false-positive rate (held-out popular domains)")
ax.set_ylabel("true-positive rate (held-out C2 domains)")
ax.set_title("Bare domains, split by registered domain")
ax.legend(loc="lower right")
fig.tight_layout()

# %%
# Which features pushed the most suspicious held-out domain up?
top = int(np.argmax(s_ours))
print(X_test[top], [c.name for c in ours.explain([X_test[top]], top_k=4)[0].contributions])
