"""APICallSequenceClassifier: the discriminative companion for labelled call sequences."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.linear_model import SGDClassifier
from sklearn.utils.validation import check_is_fitted

from .._ragged import Vocabulary
from ..base import BaseDetector, ClassifierDetectorMixin, Contribution, Explanation
from ..exceptions import InvalidParameterError
from ._encode import encode_sequences, l2_rows, log_ngram_counts, ngram_names

__all__ = ["APICallSequenceClassifier"]


class APICallSequenceClassifier(ClassifierDetectorMixin, BaseDetector):
    """Classify call sequences (for example into malware families) from their n-grams.

    The featurisation is the generative model's: every call with each of its
    contexts of length ``0..order`` (start padding and end event included)
    is one n-gram event, hashed into ``n_features`` columns
    (:func:`secml_detect._kernels.sequence.hashed_ngram_features`). Counts are
    log-scaled (``log1p``) and each row L2-normalised, then a logistic
    regression (one-vs-rest, stochastic gradient descent, which is about a
    hundred times faster than L-BFGS here at equal macro-F1) is fitted.

    Parameters
    ----------
    order : int, default=2
        Longest context (so n-grams up to ``order + 1`` calls).
    n_features : int, default=2**18
    alpha : float, default=1e-5
        L2 regularisation strength of the logistic regression.
    random_state : int, default=0
        Seed of the stochastic gradient descent.
    benign_label : optional
        The class meaning "benign": ``threat_score = 1 - P(benign)``. Without
        it, ``threat_score`` is the probability of the malicious class of a
        binary problem (see :class:`~secml_detect.base.ClassifierDetectorMixin`).
    max_len : int, optional
        Calls of each sequence read (``None``: all).
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that are not sequences of hashable tokens get uniform class
        probabilities and ``threat_score = 1.0`` with a warning, or raise.

    Attributes
    ----------
    classes_ : ndarray
    vocabulary_ : Vocabulary
    coef_ : ndarray of shape (n_classes or 1, n_features)
    intercept_ : ndarray
        The fitted logistic regression (the SGD estimator itself is not kept:
        its Cython loss object cannot be saved safely).

    Examples
    --------
    >>> X = [["open", "read", "close"]] * 20 + [["socket", "connect", "send"]] * 20
    >>> y = ["benign"] * 20 + ["malicious"] * 20
    >>> clf = APICallSequenceClassifier(n_features=2**10).fit(X, y)
    >>> clf.predict([["socket", "connect", "send", "send"]]).tolist()
    ['malicious']
    """

    fallback_threat_score = 1.0

    def __init__(self, order: int = 2, n_features: int = 2**18, alpha: float = 1e-5, random_state: int = 0,
                 benign_label=None, max_len: int | None = None, on_bad_input: str = "fallback") -> None:
        self.order = order
        self.n_features = n_features
        self.alpha = alpha
        self.random_state = random_state
        self.benign_label = benign_label
        self.max_len = max_len
        self.on_bad_input = on_bad_input

    def _validate_params(self) -> None:
        self._check_on_bad_input()
        if not (isinstance(self.order, (int, np.integer)) and 0 <= self.order <= 16):
            raise InvalidParameterError(f"order must be an int in [0, 16], got {self.order!r}")
        if not int(self.n_features) >= 2:
            raise InvalidParameterError(f"n_features must be >= 2, got {self.n_features!r}")
        if not float(self.alpha) > 0:
            raise InvalidParameterError(f"alpha must be > 0, got {self.alpha!r}")

    def _features(self, X, grow: bool):
        m, ragged = log_ngram_counts(X if isinstance(X, list) else list(X), self, grow)
        return l2_rows(m), ragged.missing

    def fit(self, X, y) -> "APICallSequenceClassifier":
        """Fit on labelled sequences (bad items are left out of training)."""
        self._validate_params()
        self.vocabulary_ = Vocabulary()
        y = np.asarray(y)
        X = X if isinstance(X, list) else list(X)
        if len(X) != len(y):
            raise InvalidParameterError(f"X has {len(X)} sequences but y has {len(y)} labels")
        feats, missing = self._features(X, grow=True)
        keep = ~missing
        if np.unique(y[keep]).size < 2:
            raise InvalidParameterError("need at least two classes among the usable sequences")
        sgd = SGDClassifier(loss="log_loss", alpha=float(self.alpha), max_iter=100, tol=1e-4,
                            random_state=self.random_state).fit(feats[keep], y[keep])
        self.classes_ = sgd.classes_
        self.coef_ = np.ascontiguousarray(sgd.coef_)
        self.intercept_ = np.asarray(sgd.intercept_, dtype=np.float64)
        return self

    def _proba(self, feats) -> np.ndarray:
        # As SGDClassifier(loss="log_loss"): a sigmoid, one-vs-rest normalised for several classes.
        z = np.asarray(feats @ self.coef_.T) + self.intercept_
        p = expit(z)
        if self.coef_.shape[0] == 1:
            return np.hstack([1.0 - p, p])
        total = p.sum(axis=1, keepdims=True)
        return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / p.shape[1])

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (columns follow ``classes_``; bad items: uniform)."""
        check_is_fitted(self)
        feats, missing = self._features(X, grow=False)
        proba = self._proba(feats) if feats.shape[0] else np.zeros((0, len(self.classes_)))
        proba[missing] = 1.0 / len(self.classes_)
        return proba

    def predict(self, X) -> np.ndarray:
        """Most probable class of each sequence."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def threat_score(self, X) -> np.ndarray:
        """``1 - P(benign_label)`` when set, else the malicious-class probability (bad items: 1.0)."""
        check_is_fitted(self)
        X = X if isinstance(X, list) else list(X)
        proba = self.predict_proba(X)
        classes = list(self.classes_)
        if self.benign_label is not None and self.benign_label in classes:
            score = 1.0 - proba[:, classes.index(self.benign_label)]
        else:
            score = proba[:, self._malicious_column()]
        _, missing = self._features(X, grow=False) if len(X) else (None, np.zeros(0, bool))
        score = np.asarray(score, dtype=np.float64)
        score[missing] = 1.0
        return np.clip(score, 0.0, 1.0)

    def explain(self, X, *, top_k: int = 5) -> list[Explanation]:
        """The n-grams that pushed the predicted class most.

        Each contribution names an n-gram of the item, ``"a b -> c"`` (context,
        then call; ``<start>``/``<end>`` mark the padding and the end event),
        with its weight ``feature value x coefficient`` towards the predicted
        class (for a binary problem, towards the malicious class).
        """
        check_is_fitted(self)
        X = X if isinstance(X, list) else list(X)
        scores = self.threat_score(X)
        feats, missing = self._features(X, grow=False)
        ragged, _ = encode_sequences(X, self.vocabulary_, max_len=self.max_len)
        coef = self.coef_
        pred = np.argmax(self._proba(feats), axis=1) if feats.shape[0] else []
        order = int(self.order)
        out = []
        for i in range(len(X)):
            if missing[i]:
                out.append(Explanation(i, float(scores[i]), fallback=True, note="not a sequence of tokens"))
                continue
            row = feats.getrow(i)
            w = coef[0] if coef.shape[0] == 1 else coef[pred[i]]
            sign = 1.0 if coef.shape[0] > 1 or pred[i] == 1 else -1.0
            weight = dict(zip(row.indices.tolist(), (row.data * w[row.indices] * sign).tolist()))
            names = ngram_names(X[i], ragged, i, order, int(self.n_features))
            top = sorted(weight, key=lambda c: -weight[c])[:top_k]
            label = self.classes_[pred[i]]
            out.append(Explanation(i, float(scores[i]), tuple(
                Contribution(names.get(c, f"n-gram column {c}"), f"towards {label!s}", float(weight[c]))
                for c in top), note=f"predicted {label!s}"))
        return out

    @classmethod
    def _generic_check_data(cls) -> dict:
        rng = np.random.RandomState(0)
        X, y = [], []
        for i in range(60):
            if i % 2:
                X.append(["socket", "connect"] + ["send"] * rng.randint(1, 4) + ["close"])
                y.append(1)
            else:
                X.append(["open"] + ["read"] * rng.randint(1, 4) + ["close"])
                y.append(0)
        X_test = [["open", "read", "close"], ["socket", "connect", "send"], [], ["open", 7, 2.5]]
        return {"X": X, "y": np.array(y), "X_test": X_test, "params": {"n_features": 2**10}}
