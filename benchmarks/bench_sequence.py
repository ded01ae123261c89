"""APICallSequenceModel on HDFS and ADFA-LD, APICallSequenceClassifier on Mal-API-2019, shrinkage.

HDFS (logs_hdfs_deeplog; DeepLog's own held-out normal file is absent, see its
MANIFEST). Split "rows": a random half of the 4,267 normal sessions (seed 0)
trains every system; the test set is the other half plus all 5,655 anomalous
sessions. Split "distinct": the distinct normal key sequences are halved at
random (seed 0), so no test normal was ever seen in training. No system sees a
label: each threshold comes from normal training data only. Ours: the
``contamination = 1%`` quantile of **out-of-fold** training scores (5-fold
cross-fitting of the counts). DeepLog-style rule: a session is anomalous when
any key is outside the top-9 successors of its context (counts of the same
n-gram tables). PCA (loglizer-style): TF-IDF-weighted, centred event-count
vectors, components keeping 95% of the variance, squared prediction error
thresholded at its 99th percentile on the training normals. Published rows
(DeepLog paper, loglizer benchmark) used the full HDFS test set (553,366
normal / 16,838 anomalous sessions); our test mix is anomaly-heavy, so we also
give F1 "at DeepLog's mix": the measured recall and false-positive rate
projected onto 553,366 normal / 16,838 anomalous sessions.

ADFA-LD (deduplicated, the 2 traces labelled both normal and attack dropped;
the shared CSV holds 4 attack types: Adduser, Hydra_FTP, Hydra_SSH,
Meterpreter). Train: the 780 distinct Training_Data_Master traces; test: the
distinct validation traces not in training plus all attack traces. No model
sees an attack, so every attack type is left out of training; per-type
ROC-AUC pits each type alone against the held-out normals. Headline
("validated choice"): APICallSequenceModel scored by its mean surprise per
call (the length-normalised log-likelihood, the textbook score of a
generative model and the one of Kim et al.'s LSTM language models), with
the order chosen by ``select_order`` on the training normals only: the
order 1-10 with the lowest 5-fold held-out surprise per call (true refits,
no attack, no test trace). Honest caveat: ``mean`` was first seen to work
on the test set (the older row below), so that part of the choice is not
blind; the order is. The older selection (``adfa_select``: SequenceKNNModel
order 0-2 with 5-40 neighbours, APICallSequenceModel order 4-8 with mean or
max surprise, ranked by two attack-free proxy tasks on the training
normals: "unseen", k-means clusters of the training traces each held out
whole against a fifth of the other clusters' traces; "spliced", 4 folds,
each held-out normal also appears with a stretch of another held-out trace
inserted) is kept as rows but superseded: its clusters are built on call
frequencies, the very features of an order-0 SequenceKNNModel, and it
treats an unseen *normal* program as an anomaly, while ADFA-LD's
validation normals are full of programs absent from training (median
nearest-training 3-gram Jaccard 0.35 for them, 0.20 for attacks), so it
rewards flagging exactly the traces that are negatives in the test. The
older rows for APICallSequenceModel with ``mean`` surprise (order 6) were
chosen after looking at the test numbers (the default ``max`` is shown
too), so treat them as optimistic. A last row scores the headline model on
the split with duplicates kept (833 training rows; validation rows plus
attack rows), the setting of the published ADFA-LD figures, for comparison
only.

Tried while exploring for this round, all scored **on the test split** (so
none of them was used to choose, and they are optimistic for the same
reason): STIDE-style fraction of n-grams never seen in training, n = 2-10:
0.65-0.76 (best n = 7), rank-averaged over n: 0.75; mean rarity
``-log df`` of the n-grams: at most 0.74; interpolated Kneser-Ney /
Pitman-Yor discounts (d = 0.5-0.9, order 3-10, with or without
continuation counts): 0.776-0.786 against 0.784 without discount; a mixture
of per-cluster n-gram models (5-40 k-means clusters as entities, scored
under the best cluster): 0.785; windowed max of mean surprise (window 10,
30, 100): 0.63-0.73; quantiles, trimmed means or counts of surprising calls
instead of the mean: 0.70-0.785; a right-to-left model: 0.781, averaged with
the left-to-right one: 0.782; rank-averaged orders 2-10 (Kim et al.'s
ensemble idea): 0.78; adding an order-0 SequenceKNNModel to the n-gram score:
0.77; log-likelihood ratios against a lower order: at most 0.79; training counts
of one per distinct event and trace, or scoring each distinct event once:
0.72-0.78; bag-of-calls kNN, one-class SVM, isolation forest, Gaussian
mixtures, PCA residuals on call frequencies or presence vectors: 0.50-0.71;
a small neural language model (scikit-learn MLPClassifier, one-hot of the
8 calls before, 128 hidden units, 15 epochs with early stopping on held-out
training calls, mean NLL per call): 0.80 (Adduser 0.76, Hydra_FTP 0.83,
Hydra_SSH 0.82, Meterpreter 0.73), but 460 s of training on the shared
machine against about 7 s for the n-gram model. None reaches 0.93 on the
deduplicated split.

LSTM language models (section ``adfa_neural``, in ``_seq_neural.py``; it needs
PyTorch, ``pip install torch==2.13.0``, and without it prints a note and keeps
its old rows): Kim et al.'s (2016) system-call language model on the same
dedup split. Embedding, one LSTM layer, linear next-call logits; a start
token predicts the first call, calls absent from training share one
"unknown" index; Adam (lr 0.003), batches of 32 traces of similar length,
truncated back-propagation over 100-call windows, gradient norm clipped at
1, one CPU thread. Selection uses the training normals only: they are split
80/20 by trace (seed 0); two configurations fixed before any run (1x128
units, embedding 32, dropout 0.2; 1x200 units, embedding 64, dropout 0.3)
train on the 80% part for at most 30 epochs, stopping after 3 epochs
without a better held-out NLL per call and keeping the best epoch; the
configuration with the lower held-out NLL is refitted on all 780 training
traces for its best epoch count (the "validated choice" row). Score: mean
NLL per call of a trace. The 80%-part models' test numbers are shown as
well, and Kim et al.'s ensemble (rank-normalised scores averaged, members
fixed in advance: the three LSTMs, then also the n-gram headline). Result:
as language models the LSTMs are clearly better (held-out 0.967 and 0.919
nats per call against 1.074 for the order-10 n-gram model on the same
80/20 split, no end event), as detectors they are not: ROC-AUC 0.766 for the
validated choice (1x200, 21 epochs, all 780 traces; Adduser 0.70, Hydra_FTP
0.80, Hydra_SSH 0.80, Meterpreter 0.70), 0.788 and 0.786 for the two
80%-part models, 0.783 for the LSTM ensemble and 0.785 with the n-gram
model added, against 0.787 for the n-gram headline; and 238 s of training
on the shared machine against about 7 s (scoring 106,000 calls/s, in
another run than the n-gram model's 1.1 million). Why: under the same LSTM
(80%-part models), the attacks stand apart from held-out *training*
normals by ROC-AUC 0.88-0.885 only, so even test normals just like the
training ones would leave these 4 attack types below 0.93; and the
validation normals (other programs) are themselves shifted from held-out
training normals (ROC-AUC 0.59-0.60, where 0.5 is no shift), which pulls
the test figure down to 0.79. More normal programs help more than a better
model, but not enough: the 1x128 LSTM (25 epochs) trained on the training
normals plus half the validation normals reaches 0.804 (the n-gram model:
0.813 on that split). Both configurations were fixed before any test number
was seen; the test ROC-AUC of the 1x128 model was seen in an exploratory run
before the two diagnostic rows (separation, more normals) were added; no
model, size or epoch count was chosen on test numbers. An LSTM does not reach 0.93 on the
deduplicated split, so no neural model was added to the library.

Recall and
false-positive rate use each model's own threshold (1% of its out-of-fold
or leave-one-out training scores). A second split adds half of the distinct
validation normals (seed 0) to training. With labels,
APICallSequenceClassifier is trained on the training normals plus all
attack types but one, and tested on the validation normals plus the type
left out (each type in turn).

Sections can be rerun alone (``python bench_sequence.py adfa``); the other
sections' rows of the result file are then kept as they were.

Mal-API-2019 (574 traces, 8 families): 5-fold stratified cross-validation
grouped by distinct sequence (a duplicate never straddles train and test),
macro-F1. Shrinkage: each family plays a "service"; each gets only n < 50
training traces; held-out traces are scored under their own service (normal)
and under another service (anomalous: "this service is behaving like a
different one"); ROC-AUC and mean held-out surprise per call, hierarchical
(global + entity, learned strength) vs one model per service without pooling.

Speed: one process, one thread (numba kernels are single-threaded), after a
warm-up call, from Python lists of keys to scores. The machine is shared, so
absolute rates are noisy; ratios are measured in the same run.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold  # noqa: E402

from _common import measure, write_result  # noqa: E402
from secml_detect._kernels import sequence as K  # noqa: E402
from secml_detect.datasets.sequences import load_adfa_ld, load_hdfs, load_malapi  # noqa: E402
from secml_detect.sequence import (  # noqa: E402
    APICallSequenceClassifier, APICallSequenceModel, SequenceKNNModel, select_order)
from secml_detect.sequence._encode import encode_sequences  # noqa: E402

DEEPLOG_NORMAL, DEEPLOG_ABNORMAL = 553_366, 16_838


def projected_f1(recall: float, fpr: float) -> float:
    tp = recall * DEEPLOG_ABNORMAL
    fp = fpr * DEEPLOG_NORMAL
    precision = tp / (tp + fp) if tp + fp else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def quality(y, flagged, scores=None) -> dict:
    flagged = np.asarray(flagged, dtype=bool)
    rec = float(recall_score(y, flagged))
    fpr = float(flagged[y == 0].mean())
    out = {"F1": float(f1_score(y, flagged)), "precision": float(precision_score(y, flagged, zero_division=0)),
           "recall": rec, "FPR": fpr, "F1 at DeepLog's mix": projected_f1(rec, fpr)}
    if scores is not None:
        out["ROC-AUC"] = float(roc_auc_score(y, scores))
    return out


class CountPCA:
    """loglizer's PCA detector: TF-IDF event-count vectors, SPE against the normal subspace."""

    def __init__(self, n_events: int, variance: float = 0.95, quantile: float = 0.99):
        self.n_events, self.variance, self.quantile = n_events, variance, quantile

    def _counts(self, X):
        ragged, _ = encode_sequences(X, self.vocab, grow=False)
        rows = np.repeat(np.arange(len(ragged)), ragged.lengths)
        m = np.zeros((len(ragged), self.n_events))
        np.add.at(m, (rows, ragged.data), 1.0)
        return m

    def fit(self, X):
        from secml_detect._ragged import Vocabulary

        self.vocab = Vocabulary()
        encode_sequences(X, self.vocab, grow=True)
        self.n_events = len(self.vocab)
        m = self._counts(X)
        df = (m > 0).sum(axis=0)
        self.idf = np.log((len(m) + 1) / (df + 1))
        w = m * self.idf
        self.mean = w.mean(axis=0)
        self.pca = PCA(n_components=self.variance, svd_solver="full").fit(w - self.mean)
        self.threshold = np.quantile(self.spe(X), self.quantile)
        return self

    def spe(self, X):
        w = self._counts(X) * self.idf - self.mean
        proj = self.pca.inverse_transform(self.pca.transform(w))
        return ((w - proj) ** 2).sum(axis=1)


def hdfs(rows: list, sections: list) -> None:
    seqs, y = load_hdfs()
    normal = np.flatnonzero(y == 0)
    rng = np.random.RandomState(0)
    distinct = {}
    for i in normal:
        distinct.setdefault(tuple(seqs[i]), []).append(i)
    keys = list(distinct)
    chosen = set(rng.permutation(len(keys))[: len(keys) // 2].tolist())
    splits = {
        "rows": np.random.RandomState(0).choice(normal, len(normal) // 2, replace=False),
        "distinct": np.array([i for j, k in enumerate(keys) if j in chosen for i in distinct[k]]),
    }
    APICallSequenceModel().fit(seqs[:50])  # compile the kernels before timing anything
    APICallSequenceModel(aggregate="topg").fit(seqs[:50])
    for name, train in splits.items():
        test = np.setdiff1d(np.arange(len(seqs)), train)
        X_train, X_test, y_test = [seqs[i] for i in train], [seqs[i] for i in test], y[test]
        task = f"HDFS split={name} (train {len(train)} normal; test {int((y_test == 0).sum())} normal + {int(y_test.sum())} anomalous)"
        model = APICallSequenceModel(order=3, aggregate="max", window=1, contamination=0.01)
        with measure() as m_fit:
            model.fit(X_train)
        s = -model.score_samples(X_test)
        q = quality(y_test, model.predict(X_test) == -1, s)
        for metric, value in q.items():
            rows.append({"system": "APICallSequenceModel (order 3, max surprise)", "task": task, "metric": metric, "value": value})
        rows.append({"system": "APICallSequenceModel (order 3, max surprise)", "task": task, "metric": "training time (s)",
                     "value": m_fit.seconds})
        topg = APICallSequenceModel(order=3, aggregate="topg", top_g=9, calibration_folds=2)
        with measure() as m_fit_g:
            topg.fit(X_train)
        count = -topg.score_samples(X_test)
        q = quality(y_test, count >= 1, count)
        for metric, value in q.items():
            rows.append({"system": "DeepLog-style top-9 rule (same n-gram counts)", "task": task, "metric": metric, "value": value})
        rows.append({"system": "DeepLog-style top-9 rule (same n-gram counts)", "task": task, "metric": "training time (s)",
                     "value": m_fit_g.seconds})
        pca = CountPCA(29)
        with measure() as m_fit_p:
            pca.fit(X_train)
        spe = pca.spe(X_test)
        q = quality(y_test, spe > pca.threshold, spe)
        for metric, value in q.items():
            rows.append({"system": "PCA on event counts (loglizer-style)", "task": task, "metric": metric, "value": value})
        rows.append({"system": "PCA on event counts (loglizer-style)", "task": task, "metric": "training time (s)",
                     "value": m_fit_p.seconds})
        if name == "rows":
            speed(rows, model, pca, X_test)
    for system, f1 in (("DeepLog (published, LSTM)", 0.95), ("PCA (published, loglizer)", 0.77),
                       ("Invariants Mining (published, loglizer)", 0.92)):
        rows.append({"system": system, "task": "HDFS full test set (553,366 normal / 16,838 anomalous)",
                     "metric": "F1", "value": f1})
    sections.append("HDFS published figures as quoted in the issue: DeepLog (Du et al., CCS 2017) F1 about 0.95; "
                    "loglizer (He et al., ISSRE 2016) PCA 0.77 and Invariants Mining 0.92. They were measured on "
                    "the full HDFS test set, which is not available here: compare them with the 'F1 at DeepLog's "
                    "mix' rows rather than with the raw F1 of our anomaly-heavy test set.")


def speed(rows: list, model, pca, X_test) -> None:
    reps = max(1, 200_000 // len(X_test))
    batch = X_test * reps
    n_calls = sum(map(len, batch))
    model.score_samples(batch[:1000])
    with measure(trace_python=False) as m:
        model.score_samples(batch)
    ours = m.items_per_s(len(batch))
    ragged, _ = encode_sequences(batch, model.vocabulary_)
    groups = np.full(len(ragged), -1, dtype=np.int64)
    with measure(trace_python=False) as mk:
        model._anomaly(ragged, groups, groups)
    with measure(trace_python=False) as mp:
        pca.spe(batch)
    peer = mp.items_per_s(len(batch))
    task = f"HDFS scoring speed ({len(batch):,} sessions, {n_calls:,} calls, one core)"
    rows.append({"system": "APICallSequenceModel (lists -> scores)", "task": task, "metric": "sessions/s",
                 "value": ours, "items_per_s": ours, "peak_mem_mb": m.peak_mb, "ratio_to_peer": ours / peer})
    rows.append({"system": "APICallSequenceModel (lists -> scores)", "task": task, "metric": "calls/s",
                 "value": n_calls / m.seconds})
    rows.append({"system": "APICallSequenceModel (kernels on encoded buffers)", "task": task, "metric": "calls/s",
                 "value": n_calls / mk.seconds, "items_per_s": len(batch) / mk.seconds})
    rows.append({"system": "PCA on event counts (loglizer-style)", "task": task, "metric": "sessions/s",
                 "value": peer, "items_per_s": peer, "peak_mem_mb": mp.peak_mb})


# Candidates compared on the training normals only (see the module notes).
ADFA_CANDIDATES = ([("knn", {"order": o, "n_neighbors": k}) for o in (0, 1, 2) for k in (5, 10, 20, 40)]
                   + [("ngram", {"order": o, "aggregate": a}) for o in (4, 6, 8) for a in ("mean", "max")])


def _candidate_scores(kind: str, params: dict, train: list, test: list) -> np.ndarray:
    if kind == "knn":
        return -SequenceKNNModel(**params).fit(train).score_samples(test)
    return -APICallSequenceModel(calibration_folds=2, **params).fit(train).score_samples(test)


def _splice(s: list, donor: list, rng, frac: float) -> list:
    """``s`` with a stretch of ``donor`` (about ``frac`` of ``s``'s length) inserted at a random place."""
    n = min(max(5, int(frac * len(s))), len(donor))
    a = rng.randint(0, len(donor) - n + 1)
    p = rng.randint(0, len(s) + 1)
    return s[:p] + donor[a:a + n] + s[p:]


def adfa_select(X_train: list) -> tuple[tuple[str, dict], dict]:
    """Pick a detector with the training normals only: two attack-free proxy tasks.

    1. Unseen behaviour: the training normals are clustered (k-means, 6
       clusters, on square-rooted call frequencies); each cluster in turn is
       held out whole as the "anomalies", against a random fifth of the other
       clusters' traces as held-out normals; the rest trains.
    2. Spliced traces: 4 folds of the training normals; each held-out normal
       also appears with a stretch of another held-out trace (5, 10 or 20% of
       its length) inserted at a random place.
    The candidate with the best mean ROC-AUC over both proxies wins.
    """
    from sklearn.cluster import KMeans

    freq = np.zeros((len(X_train), max(max(s) for s in X_train) + 1))
    for i, s in enumerate(X_train):
        freq[i] = np.bincount(s, minlength=freq.shape[1]) / len(s)
    cluster = KMeans(6, n_init=10, random_state=0).fit_predict(np.sqrt(freq))
    rng = np.random.RandomState(0)
    tasks = []
    for c in range(cluster.max() + 1):
        others = np.flatnonzero(cluster != c)
        held = rng.choice(others, len(others) // 5, replace=False)
        tasks.append(("unseen", np.setdiff1d(others, held), [X_train[i] for i in held],
                      [X_train[i] for i in np.flatnonzero(cluster == c)]))
    perm = np.random.RandomState(1).permutation(len(X_train))
    for f in range(4):
        held = perm[f::4]
        normal = [X_train[i] for i in held]
        r = np.random.RandomState(f)
        spliced = [_splice(s, normal[(j + 1 + r.randint(len(normal) - 1)) % len(normal)], r,
                           r.choice([0.05, 0.1, 0.2])) for j, s in enumerate(normal)]
        tasks.append(("spliced", np.setdiff1d(perm, held), normal, spliced))
    proxy = {}
    for kind, params in ADFA_CANDIDATES:
        per = {"unseen": [], "spliced": []}
        for name, fit_idx, normal, anomalous in tasks:
            s = _candidate_scores(kind, params, [X_train[i] for i in fit_idx], normal + anomalous)
            per[name].append(roc_auc_score(np.r_[np.zeros(len(normal)), np.ones(len(anomalous))], s))
        proxy[(kind, tuple(sorted(params.items())))] = {k: float(np.mean(v)) for k, v in per.items()}
    best = max(proxy, key=lambda key: np.mean(list(proxy[key].values())))
    return (best[0], dict(best[1])), proxy


def _describe(kind: str, params: dict) -> str:
    if kind == "knn":
        return f"SequenceKNNModel (order {params['order']}, {params['n_neighbors']} neighbours)"
    return f"APICallSequenceModel (order {params['order']}, {params['aggregate']} surprise)"


ADFA_ORDERS = range(1, 11)  # orders compared by held-out log-loss (fixed before any run)


def _adfa_fit(kind: str, params: dict, X: list):
    model = SequenceKNNModel(**params) if kind == "knn" else APICallSequenceModel(**params)
    return model.fit(X)


def adfa(rows: list) -> None:
    d = load_adfa_ld()
    seqs, lab, split, at = d["sequences"], d["label"], d["split"], d["attack_type"]
    train = np.flatnonzero(split == "train")
    test = np.flatnonzero(split != "train")
    X_train, X_test, y = [seqs[i] for i in train], [seqs[i] for i in test], lab[test]
    task = f"ADFA-LD dedup (train {len(train)} normal; test {int((y == 0).sum())} normal + {int(y.sum())} attack)"
    # Headline: the generative model's per-call log-likelihood, its order chosen by held-out
    # log-loss on the training normals (5 folds, true refits): no attack, no test trace.
    order, loss = select_order(X_train, orders=ADFA_ORDERS)
    for o, value in loss.items():
        rows.append({"system": f"APICallSequenceModel (order {o}, mean surprise)",
                     "task": "ADFA-LD selection: held-out surprise per call on training normals (5-fold)",
                     "metric": "nats per call (lower is better)", "value": value})
    (kind, chosen), proxy = adfa_select(X_train)
    ranked = sorted(proxy.items(), key=lambda kv: -np.mean(list(kv[1].values())))
    # The 4 best candidates and the best of each family (the full table would swamp the page).
    shown = ranked[:4] + [next(kv for kv in ranked if kv[0][0] == fam) for fam in ("knn", "ngram")]
    for (k, p), v in dict(shown).items():
        for name, value in v.items():
            rows.append({"system": _describe(k, dict(p)), "task": f"ADFA-LD selection proxy on training normals: {name}",
                         "metric": "ROC-AUC", "value": value})
    headline = {"order": order, "aggregate": "mean"}
    systems = [(f"{_describe('ngram', headline)} [validated choice: order by held-out log-loss]", "ngram", headline),
               (f"{_describe(kind, chosen)} [choice of the cluster/splice proxies, superseded]", kind, chosen),
               ("APICallSequenceModel (order 3, max surprise (default))", "ngram", {"order": 3}),
               ("APICallSequenceModel (order 6, mean surprise) [chosen on the test set earlier]", "ngram",
                {"order": 6, "aggregate": "mean"})]
    for system, k, params in systems:
        with measure() as m_fit:
            model = _adfa_fit(k, params, X_train)
        with measure(trace_python=False) as m:
            s = -model.score_samples(X_test)
        n_calls = sum(map(len, X_test))
        rows.append({"system": system, "task": task, "metric": "ROC-AUC", "value": roc_auc_score(y, s),
                     "items_per_s": m.items_per_s(len(X_test))})
        rows.append({"system": system, "task": task, "metric": "calls/s scored", "value": n_calls / m.seconds})
        rows.append({"system": system, "task": task, "metric": "training time (s)", "value": m_fit.seconds})
        flagged = model.predict(X_test) == -1
        rows.append({"system": system, "task": task, "metric": "recall at the 1% training threshold",
                     "value": float(flagged[y == 1].mean())})
        rows.append({"system": system, "task": task, "metric": "false-positive rate at that threshold",
                     "value": float(flagged[y == 0].mean())})
        for attack in sorted(set(at[test]) - {""}):
            sel = (y == 0) | (at[test] == attack)
            rows.append({"system": system, "task": f"ADFA-LD, attack type {attack} unseen in training",
                         "metric": "ROC-AUC", "value": roc_auc_score(y[sel], s[sel])})
    pca = CountPCA(400).fit(X_train)
    rows.append({"system": "PCA on syscall counts (loglizer-style)", "task": task, "metric": "ROC-AUC",
                 "value": roc_auc_score(y, pca.spe(X_test))})
    # More normal data: half of the distinct validation normals (seed 0) join the training set.
    val = np.flatnonzero(split == "validation")
    extra = np.random.RandomState(0).choice(val, len(val) // 2, replace=False)
    train2 = np.r_[train, extra]
    test2 = np.setdiff1d(test, extra)
    y2 = lab[test2]
    task2 = (f"ADFA-LD dedup, train + half the validation normals (train {len(train2)}; test "
             f"{int((y2 == 0).sum())} normal + {int(y2.sum())} attack)")
    for system, k, params in (systems[0], systems[1], systems[3]):
        s2 = -_adfa_fit(k, params, [seqs[i] for i in train2]).score_samples([seqs[i] for i in test2])
        rows.append({"system": system, "task": task2, "metric": "ROC-AUC", "value": roc_auc_score(y2, s2)})
    # The published setting keeps the duplicates (same model, same order): for comparison only.
    full = load_adfa_ld(deduplicate=False)
    tr_f = np.flatnonzero(full["split"] == "train")
    te_f = np.flatnonzero(full["split"] != "train")
    y_f = full["label"][te_f]
    s_f = -_adfa_fit("ngram", headline, [full["sequences"][i] for i in tr_f]).score_samples(
        [full["sequences"][i] for i in te_f])
    rows.append({"system": systems[0][0], "task": f"ADFA-LD with duplicates, as in published work (train {len(tr_f)} "
                                                  f"normal rows; test {int((y_f == 0).sum())} normal + {int(y_f.sum())} attack rows)",
                 "metric": "ROC-AUC", "value": roc_auc_score(y_f, s_f)})


def adfa_supervised(rows: list) -> None:
    """Labels for some attack types: the classifier, each attack type left out of training in turn."""
    d = load_adfa_ld()
    seqs, lab, split, at = d["sequences"], d["label"], d["split"], d["attack_type"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in sorted(set(at) - {""}):
            train = np.flatnonzero((split == "train") | ((lab == 1) & (at != kind)))
            test = np.flatnonzero((split == "validation") | (at == kind))
            clf = APICallSequenceClassifier(order=2, benign_label=0).fit([seqs[i] for i in train], lab[train])
            s = clf.threat_score([seqs[i] for i in test])
            rows.append({"system": "APICallSequenceClassifier (order 2, benign_label=0)",
                         "task": f"ADFA-LD, trained on normals + the other attack types, tested on validation "
                                 f"normals + {kind} (never seen)",
                         "metric": "ROC-AUC", "value": roc_auc_score(lab[test], s)})


def adfa_neural(rows: list) -> None:
    """LSTM system-call language models (Kim et al. 2016) on the same dedup split; needs PyTorch."""
    try:
        import _seq_neural
    except ImportError:
        _seq_neural = None
    if _seq_neural is None or _seq_neural.torch is None:
        print("adfa_neural skipped: PyTorch is not installed (pip install torch==2.13.0); its old rows are kept")
        return
    headline = APICallSequenceModel(order=10, aggregate="mean")  # the adfa section's validated choice
    rows += _seq_neural.adfa_neural_rows(load_adfa_ld(), headline, _describe("ngram", {"order": 10, "aggregate": "mean"}))


def malapi(rows: list) -> None:
    seqs, fams = load_malapi()
    keys = [" ".join(s) for s in seqs]
    gid = np.unique(keys, return_inverse=True)[1]
    folds = list(StratifiedGroupKFold(5, shuffle=True, random_state=0).split(seqs, fams, gid))
    task = f"Mal-API-2019 subset, {len(seqs)} traces, 8 families, 5-fold CV grouped by distinct trace"
    for label, order in (("order 2: n-grams up to 3 calls", 2), ("order 0: bag of calls", 0)):
        pred = np.empty(len(seqs), dtype=object)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for tr, te in folds:
                clf = APICallSequenceClassifier(order=order).fit([seqs[i] for i in tr], fams[tr])
                pred[te] = clf.predict([seqs[i] for i in te])
        rows.append({"system": f"APICallSequenceClassifier ({label})", "task": task, "metric": "macro-F1",
                     "value": f1_score(fams, pred.astype(str), average="macro"),
                     "items_per_s": len(seqs) / (time.perf_counter() - start)})
    shrinkage(rows, seqs, fams, gid)


def shrinkage(rows: list, seqs, fams, gid) -> None:
    families = sorted(set(fams.tolist()))
    rng = np.random.RandomState(0)
    order_idx = rng.permutation(len(seqs))
    for n in (5, 10, 20, 40):
        train_idx, test_idx = [], []
        for f in families:
            members = [i for i in order_idx if fams[i] == f]
            train_idx += members[:n]
            test_idx += members[n:]
        train_groups = set(gid[train_idx].tolist())
        test_idx = [i for i in test_idx if gid[i] not in train_groups]
        X_tr, E_tr = [seqs[i] for i in train_idx], [fams[i] for i in train_idx]
        X_te = [seqs[i] for i in test_idx]
        own = [fams[i] for i in test_idx]
        other = [families[(families.index(f) + 1 + rng.randint(len(families) - 1)) % len(families)] for f in own]
        y = np.r_[np.zeros(len(X_te)), np.ones(len(X_te))]
        task = f"Shrinkage: 8 services (Mal-API families) with {n} training traces each; own vs other service"
        hier = APICallSequenceModel(order=2, aggregate="mean", calibration_folds=2).fit(X_tr, entities=E_tr)
        s = -np.r_[hier.score_samples(X_te, entities=own), hier.score_samples(X_te, entities=other)]
        rows.append({"system": "hierarchical (entity -> global, learned strength)", "task": task, "metric": "ROC-AUC",
                     "value": roc_auc_score(y, s)})
        rows.append({"system": "hierarchical (entity -> global, learned strength)", "task": task,
                     "metric": "held-out surprise per call (nats, lower is better)", "value": float(np.mean(s[: len(X_te)]))})
        rows.append({"system": "hierarchical (entity -> global, learned strength)", "task": task,
                     "metric": "learned entity strength", "value": hier.beta_entity_})
        per = {f: APICallSequenceModel(order=2, aggregate="mean", calibration_folds=2).fit(
            [x for x, e in zip(X_tr, E_tr) if e == f]) for f in families}

        def score(ents):
            out = np.empty(len(X_te))
            for f in families:
                idx = [i for i, e in enumerate(ents) if e == f]
                if idx:
                    out[idx] = -per[f].score_samples([X_te[i] for i in idx])
            return out

        s = np.r_[score(own), score(other)]
        rows.append({"system": "per-service models, no pooling", "task": task, "metric": "ROC-AUC",
                     "value": roc_auc_score(y, s)})
        rows.append({"system": "per-service models, no pooling", "task": task,
                     "metric": "held-out surprise per call (nats, lower is better)", "value": float(np.mean(s[: len(X_te)]))})


def shrinkage_hdfs(rows: list) -> None:
    """40 services that share one normal behaviour, each with few sessions (HDFS, entities assigned at random)."""
    seqs, y = load_hdfs()
    rng = np.random.RandomState(0)
    normal = rng.permutation(np.flatnonzero(y == 0))
    abnormal = np.flatnonzero(y == 1)
    n_services = 40
    for n in (10, 30):
        train = normal[: n * n_services]
        test = np.r_[normal[n * n_services:], abnormal]
        ents_tr = [f"svc{j % n_services}" for j in range(len(train))]
        ents_te = [f"svc{rng.randint(n_services)}" for _ in test]
        X_tr, X_te, y_te = [seqs[i] for i in train], [seqs[i] for i in test], y[test]
        task = (f"Shrinkage on HDFS: {n_services} services x {n} normal sessions (entities at random); "
                f"test {int((y_te == 0).sum())} normal + {int(y_te.sum())} anomalous")
        hier = APICallSequenceModel().fit(X_tr, entities=ents_tr)
        s = hier.threat_score(X_te, entities=ents_te)
        flagged = hier.predict(X_te, entities=ents_te) == -1
        rows.append({"system": "hierarchical (entity -> global, learned strength)", "task": task, "metric": "ROC-AUC",
                     "value": roc_auc_score(y_te, s)})
        rows.append({"system": "hierarchical (entity -> global, learned strength)", "task": task, "metric": "F1",
                     "value": f1_score(y_te, flagged)})
        rows.append({"system": "hierarchical (entity -> global, learned strength)", "task": task,
                     "metric": "learned entity strength", "value": hier.beta_entity_})
        s = np.empty(len(X_te))
        flagged = np.zeros(len(X_te), dtype=bool)
        for j in range(n_services):
            name = f"svc{j}"
            model = APICallSequenceModel(calibration_folds=3).fit([x for x, e in zip(X_tr, ents_tr) if e == name])
            idx = [i for i, e in enumerate(ents_te) if e == name]
            batch = [X_te[i] for i in idx]
            s[idx] = model.threat_score(batch)
            flagged[idx] = model.predict(batch) == -1
        rows.append({"system": "per-service models, no pooling", "task": task, "metric": "ROC-AUC",
                     "value": roc_auc_score(y_te, s)})
        rows.append({"system": "per-service models, no pooling", "task": task, "metric": "F1",
                     "value": f1_score(y_te, flagged)})


def odd_input(rows: list) -> None:
    seqs, _ = load_hdfs()
    model = APICallSequenceModel().fit(seqs[:2000])
    rng = np.random.RandomState(0)
    long_seq = rng.choice(np.arange(1, 30), size=1_000_000).tolist()
    model.score_samples([long_seq[:100]])
    with measure(trace_python=False) as m:
        s = model.threat_score([long_seq])
    task = "Odd input (HDFS model)"
    rows.append({"system": "APICallSequenceModel", "task": task, "metric": "1,000,000-call sequence: seconds",
                 "value": m.seconds})
    rows.append({"system": "APICallSequenceModel", "task": task, "metric": "1,000,000-call sequence: threat_score",
                 "value": float(s[0])})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = model.threat_score([[], [5, 999, 22], ["5", 5.0, "x"], None])
    for label, value in zip(("empty sequence", "unseen key 999", "mixed token types", "None (fallback)"), t):
        rows.append({"system": "APICallSequenceModel", "task": task, "metric": f"threat_score: {label}", "value": float(value)})


SECTIONS = ("hdfs", "adfa", "adfa_supervised", "adfa_neural", "malapi", "shrinkage_hdfs", "odd_input")


def _legacy_section(row: dict) -> str | None:
    """Section of a row written before rows carried their section (ADFA rows only)."""
    task = row.get("task", "")
    if not task.startswith("ADFA-LD"):
        return None
    return "adfa_supervised" if "trained on normals + the other" in task else "adfa"


def main(argv: list[str] | None = None) -> None:
    """Run every section, or only those named (``python bench_sequence.py adfa``).

    A partial run keeps the other sections' rows of the existing result file.
    """
    import json

    from _common import RESULTS_DIR, chosen_sections

    names = chosen_sections(argv, SECTIONS)
    rows: list[dict] = []
    sections: list[str] = []
    for name in SECTIONS:
        if name not in names:
            continue
        new: list[dict] = []
        if name == "hdfs":
            hdfs(new, sections)
        else:
            globals()[name](new)
        if not new:  # a skipped section (adfa_neural without PyTorch) keeps its old rows
            names.remove(name)
        rows += [{**r, "section": name} for r in new]
    path = RESULTS_DIR / "bench_sequence.json"
    if len(names) < len(SECTIONS) and path.exists():
        old = json.loads(path.read_text())
        kept = [r for r in old["rows"] if r.get("section", _legacy_section(r)) not in names]
        rows = kept + rows
        sections = old.get("sections", []) if "hdfs" not in names else sections
    write_result("bench_sequence", "Call sequences: APICallSequenceModel vs DeepLog-style and PCA baselines",
                 rows, notes=__doc__.split("\n\n", 1)[1], sections=sections)


if __name__ == "__main__":
    main()
