"""Ideas for bench_url's split (c) (bare malware / C2 domains vs OpenDNS top), on its training part only.

Exploration behind bench_url's notes: 5-fold cross-validation on (c)'s
training part, folds by registered domain (``crc32(domain) % 5``, as
``cv_url.py c``); the test part is never read. Writes no result file; prints
the pooled out-of-fold ROC-AUC of each idea next to ``URLClassifier()``'s.

* ``describe``: how the two classes differ in label length and suffix.
* ``label seen``: stacking the out-of-fold score with "this label is a benign
  (malicious) training label under another suffix" (``google.co.nz`` after
  ``google.com``), taken from the other folds.
* ``word frequency``: stacking with a popularity prior from general text,
  ``wordfreq`` (optional: ``pip install wordfreq``; skipped without it): the
  label's Zipf frequency as a whole word in 11 languages, and its best
  segmentation into known words (count, coverage, score per character).
* ``label cleaning``: refit without the training rows that an inner 5-fold
  cross-validation scores confidently against their label (confident learning).

Usage: ``python benchmarks/explore_bare_domains.py``
"""

from __future__ import annotations

import collections

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from bench_url import bare_domain_split
from cv_url import domain_folds
from secml_detect import URLClassifier
from secml_detect.datasets.urls import load_iscx_urls, load_opendns_top, registered_domains

K = 5
LANGUAGES = ("en", "ru", "de", "es", "fr", "pt", "it", "tr", "pl", "nl", "id")
MAX_WORD = 20


def out_of_fold(X, y, fold, fit_rows=None) -> np.ndarray:
    """Pooled out-of-fold ``threat_score``; ``fit_rows(train_idx)`` may drop training rows."""
    X = np.asarray(X, dtype=object)
    out = np.zeros(len(y))
    for k in range(K):
        tr, te = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        tr = fit_rows(tr) if fit_rows else tr
        out[te] = URLClassifier().fit(list(X[tr]), y[tr]).threat_score(list(X[te]))
    return out


def stacked(columns: list, y, fold) -> float:
    """Out-of-fold ROC-AUC of a logistic regression on ``columns`` (second level, same folds)."""
    F = np.column_stack(columns).astype(float)
    out = np.zeros(len(y))
    for k in range(K):
        model = LogisticRegression(max_iter=2000).fit(F[fold != k], y[fold != k])
        out[fold == k] = model.decision_function(F[fold == k])
    return roc_auc_score(y, out)


def labels_of(X) -> np.ndarray:
    return np.array([(r or d).split(".")[0] for r, d in zip(registered_domains(X), X)])


def label_seen(labels, y, fold, cls) -> np.ndarray:
    hit = np.zeros(len(y), dtype=bool)
    for k in range(K):
        known = set(labels[(fold != k) & (y == cls)])
        hit[fold == k] = [lab in known for lab in labels[fold == k]]
    return hit


def word_features(labels) -> np.ndarray | None:
    try:
        import wordfreq
    except ImportError:
        return None
    vocab: dict[str, float] = {}
    for lang in LANGUAGES:
        for word, freq in wordfreq.get_frequency_dict(lang).items():
            if word.isascii() and word.isalnum():
                vocab[word] = max(vocab.get(word, 0.0), np.log10(freq) + 9)  # Zipf scale

    def segment(s):
        # best split into known words: each word earns its Zipf value - 2.5, unknown characters cost 3
        best = [(0.0, 0, 0)] + [(-1e9, 0, 0)] * len(s)
        for i in range(1, len(s) + 1):
            for j in range(max(0, i - MAX_WORD), i):
                word = s[j:i]
                zipf = vocab.get(word) if len(word) > 1 or word.isdigit() else None
                gain, covered = (zipf - 2.5, len(word)) if zipf is not None else (-3.0 * len(word), 0)
                if best[j][0] + gain > best[i][0]:
                    best[i] = (best[j][0] + gain, best[j][1] + 1, best[j][2] + covered)
        return best[-1]

    rows = []
    for label in labels:
        core = label.replace("-", "")
        score, n_words, covered = segment(core) if core else (0.0, 0, 0)
        n = max(1, len(core))
        rows.append([vocab.get(core, 0.0), core in vocab, n_words, covered / n, score / n])
    return np.array(rows, dtype=float)


def main() -> None:
    top = [d.lower() for d in load_opendns_top()]
    iscx_urls, _, kinds = load_iscx_urls()
    X, y, _, _, _ = bare_domain_split(top, iscx_urls, kinds)
    fold = domain_folds(X, K)
    labels = labels_of(X)
    lengths = np.array([len(lab) for lab in labels])
    print(f"(c) training part: {int(y.sum())} malicious, {int((y == 0).sum())} benign domains; {K} folds")
    print(f"describe: median label length benign {np.median(lengths[y == 0]):.0f}, malicious "
          f"{np.median(lengths[y == 1]):.0f} (ROC-AUC of length alone {roc_auc_score(y, lengths):.3f})")
    for cls, name in ((0, "benign"), (1, "malicious")):
        suffixes = collections.Counter(d.rsplit(".", 1)[-1] for d, t in zip(X, y) if t == cls)
        print(f"  {name} suffixes: " + ", ".join(f"{s} {c / (y == cls).sum():.1%}" for s, c in suffixes.most_common(5)))

    base = out_of_fold(X, y, fold)
    print(f"URLClassifier() out of fold: ROC-AUC {roc_auc_score(y, base):.4f}", flush=True)
    logit = np.log(np.clip(base, 1e-9, 1) / np.clip(1 - base, 1e-9, 1))

    seen_benign, seen_malicious = label_seen(labels, y, fold, 0), label_seen(labels, y, fold, 1)
    print(f"label seen under another suffix: benign rows {seen_benign[y == 0].mean():.3f} / malicious rows "
          f"{seen_benign[y == 1].mean():.3f} have a benign training label; stacked ROC-AUC "
          f"{stacked([logit, seen_benign, seen_malicious], y, fold):.4f}", flush=True)

    words = word_features(labels)
    if words is None:
        print("word frequency: skipped (pip install wordfreq)")
    else:
        print(f"word frequency: label is a known word for {words[y == 0, 1].mean():.3f} of benign and "
              f"{words[y == 1, 1].mean():.3f} of malicious rows; stacked ROC-AUC "
              f"{stacked([logit, words], y, fold):.4f}", flush=True)

    def cleaned(rule):
        def fit_rows(tr):
            inner = out_of_fold([X[i] for i in tr], y[tr], domain_folds([X[i] for i in tr], K))
            return tr[~rule(inner, y[tr])]
        return fit_rows

    rules = {"benign scored > 0.9": lambda s, t: (t == 0) & (s > 0.9),
             "and malicious scored < 0.05": lambda s, t: ((t == 0) & (s > 0.9)) | ((t == 1) & (s < 0.05))}
    for name, rule in rules.items():
        s = out_of_fold(X, y, fold, cleaned(rule))
        print(f"label cleaning ({name}): ROC-AUC {roc_auc_score(y, s):.4f}", flush=True)


if __name__ == "__main__":
    main()
