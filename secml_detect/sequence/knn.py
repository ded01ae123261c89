"""SequenceKNNModel: nearest-neighbour novelty of whole traces over TF-IDF n-gram vectors."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from .._ragged import Vocabulary
from ..base import BaseDetector, Contribution, Explanation, OutlierDetectorMixin
from ..exceptions import InvalidParameterError
from ._encode import l2_rows, log_ngram_counts, ngram_names

__all__ = ["SequenceKNNModel"]

_CHUNK_CELLS = 4_000_000  # similarity entries held at once while scoring


class SequenceKNNModel(OutlierDetectorMixin, BaseDetector):
    """Novelty of a whole call sequence: distance to its nearest normal traces.

    The companion of :class:`APICallSequenceModel` for traces whose anomaly
    is a different *mix* of calls rather than one surprising transition (for
    example the ADFA-LD attacks, where an exploited process runs long stretches
    of ordinary calls). Each sequence becomes a vector of its n-gram counts
    (the same hashed n-grams as :class:`APICallSequenceClassifier`, lengths
    1..``order + 1``, start padding and end event included), weighted
    ``log(1 + count) * idf`` with the idf of the training traces and
    L2-normalised. The anomaly score is ``1 - mean cosine similarity`` to the
    ``n_neighbors`` most similar training traces, in ``[0, 1]``.

    ``score_samples`` is minus that score (high = normal). The threshold
    ``offset_`` and the calibration of ``threat_score`` use
    **leave-one-out** scores of the training traces (each scored against the
    others), so they are not fooled by a trace matching itself; an exact
    duplicate in the training data still matches its copy, so deduplicate
    first.

    Parameters
    ----------
    order : int, default=0
        Longest context of the n-grams (0: single calls, a bag of calls;
        1: calls and call pairs; ...).
    n_neighbors : int, default=5
        Neighbours averaged (capped at the number of training traces, minus
        one for the leave-one-out scores).
    n_features : int, default=2**18
        Hashed columns.
    contamination : float, default=0.01
        Target false-positive rate on normal sequences.
    max_len : int, optional
        Keep at most this many calls of each sequence.
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that are not sequences of hashable tokens get ``score_samples =
        nan`` and ``threat_score = 1.0`` with a
        :class:`~secml_detect.exceptions.BadInputWarning`, or raise.

    Notes
    -----
    Scoring costs one sparse product with the training matrix: linear in the
    number of training traces, so this suits thousands of normal traces, not
    millions (use :class:`APICallSequenceModel` there). A **token never
    seen** in training has training document frequency 0 and the largest
    idf, so it weighs heavily. An **empty sequence** is just its end event.

    Attributes
    ----------
    vocabulary_ : Vocabulary
    idf_ : ndarray of shape (n_features,)
    train_matrix_ : scipy.sparse.csr_matrix of shape (n_train, n_features)
        The normalised TF-IDF vectors of the training traces.
    calibration_scores_ : ndarray
        Leave-one-out anomaly scores of the training traces.
    offset_ : float
    calibrator_ : TailCalibrator

    Examples
    --------
    >>> normal = [["open", "read", "read", "close"], ["open", "write", "close"]] * 10
    >>> model = SequenceKNNModel(n_neighbors=3).fit(normal)
    >>> s = model.threat_score([["open", "read", "close"], ["socket", "exec", "exec", "exec"]])
    >>> bool(s[1] > s[0])
    True
    """

    fallback_threat_score = 1.0

    def __init__(self, order: int = 0, n_neighbors: int = 5, n_features: int = 2**18,
                 contamination: float = 0.01, max_len: int | None = None,
                 on_bad_input: str = "fallback") -> None:
        self.order = order
        self.n_neighbors = n_neighbors
        self.n_features = n_features
        self.contamination = contamination
        self.max_len = max_len
        self.on_bad_input = on_bad_input

    def _validate_params(self) -> None:
        self._check_on_bad_input()
        if not (isinstance(self.order, (int, np.integer)) and 0 <= self.order <= 16):
            raise InvalidParameterError(f"order must be an int in [0, 16], got {self.order!r}")
        if not (isinstance(self.n_neighbors, (int, np.integer)) and self.n_neighbors >= 1):
            raise InvalidParameterError(f"n_neighbors must be an int >= 1, got {self.n_neighbors!r}")
        if not (isinstance(self.n_features, (int, np.integer)) and 2 <= self.n_features <= 2**30):
            raise InvalidParameterError(f"n_features must be an int in [2, 2**30], got {self.n_features!r}")
        if self.max_len is not None and not int(self.max_len) > 0:
            raise InvalidParameterError(f"max_len must be > 0 or None, got {self.max_len!r}")

    def _weigh(self, m: sp.csr_matrix) -> sp.csr_matrix:
        m = m.copy()
        m.data *= self.idf_[m.indices]
        return l2_rows(m)

    def fit(self, X, y=None) -> "SequenceKNNModel":
        """Fit on a batch of normal sequences."""
        self._validate_params()
        X = X if isinstance(X, list) else list(X)
        if len(X) == 0:
            raise InvalidParameterError("cannot fit on an empty batch")
        self.vocabulary_ = Vocabulary()
        m, ragged = log_ngram_counts(X, self, grow=True)
        m = m[np.flatnonzero(~ragged.missing)]
        if m.shape[0] == 0:
            raise InvalidParameterError("no usable training sequence")
        df = np.bincount(m.indices, minlength=int(self.n_features))
        self.idf_ = np.log((1.0 + m.shape[0]) / (1.0 + df)) + 1.0
        self.train_matrix_ = self._weigh(m)
        calib = self._knn_anomaly(self.train_matrix_, leave_one_out=True)
        self.calibration_scores_ = calib
        self._fit_threshold(-calib)
        return self

    def _knn_anomaly(self, q: sp.csr_matrix, leave_one_out: bool = False) -> np.ndarray:
        """``1 - mean cosine similarity`` of each row of ``q`` to its nearest training rows."""
        a = self.train_matrix_
        n_train = a.shape[0] - (1 if leave_one_out else 0)
        out = np.zeros(q.shape[0])
        if n_train < 1 or q.shape[0] == 0:
            return out
        k = min(int(self.n_neighbors), n_train)
        at = a.T.tocsc()
        step = max(1, _CHUNK_CELLS // max(a.shape[0], 1))
        for lo in range(0, q.shape[0], step):
            hi = min(lo + step, q.shape[0])
            sim = (q[lo:hi] @ at).toarray()
            if leave_one_out:
                sim[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
            top = np.partition(sim, sim.shape[1] - k, axis=1)[:, sim.shape[1] - k:]
            out[lo:hi] = 1.0 - top.mean(axis=1)
        return np.clip(out, 0.0, 1.0)

    def _prepare(self, X):
        check_is_fitted(self)
        X = X if isinstance(X, list) else list(X)
        m, ragged = log_ngram_counts(X, self, grow=False)
        return X, self._weigh(m), ragged

    def score_samples(self, X) -> np.ndarray:
        """Minus the anomaly score: high for normal sequences, ``nan`` for bad items."""
        _, q, ragged = self._prepare(X)
        out = -self._knn_anomaly(q)
        out[ragged.missing] = np.nan
        return out

    def explain(self, X, *, top_k: int = 5) -> list[Explanation]:
        """The n-grams weighing most above their average in the nearest training traces.

        The first contribution names the nearest training trace (its index in
        the training batch, after unusable items were dropped) with its cosine
        similarity as weight; the others are n-grams, weighted by how far the
        item's TF-IDF weight exceeds the neighbours' mean.
        """
        X, q, ragged = self._prepare(X)
        scores = self.calibrator_.transform(self._knn_anomaly(q))
        scores[ragged.missing] = self.fallback_threat_score
        a = self.train_matrix_
        k = min(int(self.n_neighbors), a.shape[0])
        out = []
        for i in range(len(ragged)):
            if ragged.missing[i]:
                out.append(Explanation(i, float(scores[i]), fallback=True, note="not a sequence of tokens"))
                continue
            row = q[i]
            sim = (row @ a.T).toarray().ravel()
            nn = np.argsort(-sim, kind="stable")[:k]
            excess = row.toarray().ravel() - np.asarray(a[nn].mean(axis=0)).ravel()
            cols = [int(c) for c in np.argsort(-excess, kind="stable")[:top_k] if excess[c] > 0]
            names = ngram_names(X[i], ragged, i, int(self.order), int(self.n_features))
            contribs = [Contribution("nearest training trace", int(nn[0]), float(sim[nn[0]]))]
            contribs += [Contribution(names.get(c, f"n-gram column {c}"), "above its neighbours", float(excess[c]))
                         for c in cols]
            out.append(Explanation(i, float(scores[i]), tuple(contribs[:max(int(top_k), 1)])))
        return out

    @classmethod
    def _generic_check_data(cls) -> dict:
        rng = np.random.RandomState(0)
        X = []
        for _ in range(40):
            X.append(["open"] + ["read"] * rng.randint(1, 4) + [["write", "send"][rng.randint(2)]] + ["close"])
        X_test = [["open", "read", "close"], ["open", "exec", "socket", "connect"], [], ["open", 7, 2.5]]
        return {"X": X, "y": None, "X_test": X_test, "params": {"n_neighbors": 3, "n_features": 2**10}}
