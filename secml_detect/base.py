"""The detector contract shared by every secml_detect detector.

Every detector is a scikit-learn estimator (parameters only stored in
``__init__``, validation in ``fit``, learned state in trailing-underscore
attributes, :class:`~sklearn.exceptions.NotFittedError` before ``fit``) and
additionally offers:

* ``threat_score(X)``: one ``float`` per item in ``[0, 1]``, higher meaning
  more suspicious. It is the one method that ranks across detectors.
* ``explain(X)``: one :class:`Explanation` per item saying why.

Two families follow scikit-learn's meaning for their own methods:

* :class:`ClassifierDetectorMixin`: ``predict_proba`` columns follow
  ``classes_``; ``threat_score`` is the probability of the malicious class.
* :class:`OutlierDetectorMixin`: ``score_samples`` is high for normal items,
  ``decision_function = score_samples - offset_``, ``predict`` returns ``+1``
  (normal) or ``-1`` (anomaly), and ``threat_score`` is the calibrated tail
  probability described in :class:`TailCalibrator`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, OutlierMixin, TransformerMixin
from sklearn.utils import metadata_routing
from sklearn.utils.validation import check_is_fitted, validate_data

from .exceptions import BadInputWarning, InvalidItemError, InvalidParameterError

__all__ = [
    "BaseDetector",
    "ClassifierDetectorMixin",
    "OutlierDetectorMixin",
    "Contribution",
    "Explanation",
    "TailCalibrator",
    "handle_bad_items",
]

BAD_INPUT_POLICIES = ("fallback", "raise")


@dataclass(frozen=True)
class Contribution:
    """One reason behind a score.

    Attributes
    ----------
    name : str
        What contributed: a feature, an n-gram, a field, a rule id.
    value : object
        The observed value (for example the n-gram text or the field value).
    weight : float
        How much it pushed the score up (positive) or down (negative), in the
        detector's own units (log-odds, surprise in nats, severity...).
    """

    name: str
    value: Any = None
    weight: float = 0.0


@dataclass(frozen=True)
class Explanation:
    """Why one item got its score.

    Attributes
    ----------
    index : int
        Position of the item in the batch.
    threat_score : float
        The item's ``threat_score``.
    contributions : tuple of Contribution
        The strongest reasons, strongest first.
    rules : tuple of str
        Ids of the signature rules that fired (empty for pure models).
    fallback : bool
        True when the item could not be processed and got the fallback score.
    note : str
        Free text, for example the reason of a fallback.
    """

    index: int
    threat_score: float
    contributions: tuple[Contribution, ...] = ()
    rules: tuple[str, ...] = ()
    fallback: bool = False
    note: str = ""

    def to_dict(self) -> dict:
        """A JSON-serialisable dict."""
        out = asdict(self)
        out["contributions"] = [
            {**c, "value": _jsonable(c["value"])} for c in out["contributions"]
        ]
        out["rules"] = list(self.rules)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def handle_bad_items(
    bad: np.ndarray | Sequence[int],
    reasons: Sequence[str] | str,
    policy: str,
    *,
    items: Sequence[object] | None = None,
    fallback_desc: str = "the fallback score",
) -> None:
    """Apply the bad-item policy to the flagged items of a batch.

    Parameters
    ----------
    bad : bool mask or sequence of indices
        Which items could not be processed.
    reasons : str or sequence of str
        Why (one for all, or one per flagged item in index order).
    policy : {"fallback", "raise"}
        ``"raise"`` raises :class:`~secml_detect.exceptions.InvalidItemError`
        for the first bad item; ``"fallback"`` issues one
        :class:`~secml_detect.exceptions.BadInputWarning` listing all indices
        (the caller has already written the fallback score).
    items : sequence, optional
        The batch, to quote the offending item in the error.

    Examples
    --------
    >>> handle_bad_items([], "empty", "raise")  # nothing flagged: no-op
    >>> handle_bad_items([2], "empty sequence", "raise")
    Traceback (most recent call last):
    ...
    secml_detect.exceptions.InvalidItemError: item 2: empty sequence
    """
    idx = np.asarray(bad)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    if idx.size == 0:
        return
    if policy not in BAD_INPUT_POLICIES:
        raise InvalidParameterError(f"on_bad_input must be one of {BAD_INPUT_POLICIES}, got {policy!r}")
    reason_list = [reasons] * idx.size if isinstance(reasons, str) else list(reasons)
    if policy == "raise":
        first = int(idx[0])
        raise InvalidItemError(first, reason_list[0], None if items is None else items[first])
    shown = ", ".join(str(int(i)) for i in idx[:10]) + (" ..." if idx.size > 10 else "")
    warnings.warn(
        BadInputWarning(
            f"{idx.size} item(s) scored with {fallback_desc} ({reason_list[0]}): indices {shown}",
            idx.tolist(),
        ),
        stacklevel=3,
    )


class TailCalibrator(TransformerMixin, BaseEstimator):
    """Monotone map from an anomaly score to ``[0, 1]`` fitted on normal data.

    ``transform(a)`` is the share of the reference (normal, training) anomaly
    scores strictly below ``a``, interpolated between stored quantiles. So a
    threshold ``t`` on the output flags about ``1 - t`` of normal items: a
    chosen false-positive rate maps to a known score. Beyond the largest
    reference score the output keeps growing towards 1 (an exponential tail
    with the scale of the upper reference quantiles), so the most anomalous
    items stay ranked instead of all tying at 1. NaN maps to 1.0 (an
    unscorable item is treated as maximally suspicious).

    It is the numeric core behind every outlier detector's ``threat_score``.
    A 2-D ``X`` is calibrated column by column (a scikit-learn transformer);
    a 1-D array is one column and comes back 1-D.

    Parameters
    ----------
    n_quantiles : int, default=1000
        How many quantiles of the reference scores to keep per column.

    Attributes
    ----------
    quantiles_ : list of ndarray
        Reference quantiles per column.
    levels_ : list of ndarray
        Their levels in ``[0, 1]``.
    n_reference_ : ndarray of int
        Finite reference scores per column.
    tail_scale_ : ndarray of float
        Scale of the exponential tail per column.
    n_features_in_ : int

    Examples
    --------
    >>> cal = TailCalibrator().fit(np.arange(100.0))
    >>> np.round(cal.transform(np.array([-5.0, 49.5, 99.0, 200.0])), 3).tolist()
    [0.0, 0.5, 0.99, 1.0]
    """

    _numeric_core = True

    def __init__(self, n_quantiles: int = 1000) -> None:
        self.n_quantiles = n_quantiles

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _as_2d(self, X, reset: bool) -> tuple[np.ndarray, bool]:
        one_d = isinstance(X, np.ndarray) and X.ndim == 1
        if one_d and not reset and getattr(self, "n_features_in_", 1) != 1:
            raise ValueError(f"Expected 2D array, got 1D array instead; fitted on {self.n_features_in_} columns. "
                             "Reshape your data with array.reshape(-1, 1) or array.reshape(1, -1).")
        X = np.asarray(X, dtype=np.float64).reshape(-1, 1) if one_d else X
        # An empty batch is a valid thing to score (it gives an empty result), never to fit on.
        X = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan",
                          ensure_min_samples=1 if reset else 0)
        return X, one_d

    def fit(self, X, y=None) -> "TailCalibrator":
        """Store the quantiles of each column's finite reference scores."""
        if not (isinstance(self.n_quantiles, (int, np.integer)) and self.n_quantiles >= 2):
            raise InvalidParameterError(f"n_quantiles must be an integer >= 2, got {self.n_quantiles!r}")
        X, _ = self._as_2d(X, reset=True)
        self.quantiles_, self.levels_ = [], []
        n_ref, scales = [], []
        for column in X.T:
            scores = column[np.isfinite(column)]
            if scores.size == 0:
                raise InvalidParameterError("cannot calibrate on an empty set of finite scores")
            k = int(min(self.n_quantiles, scores.size))
            levels = np.linspace(0.0, 1.0, k) if k > 1 else np.array([0.0])
            quantiles = np.quantile(scores, levels) if k > 1 else np.array([scores[0]])
            spread = float(quantiles[-1] - np.quantile(scores, 0.9))
            self.levels_.append(levels)
            self.quantiles_.append(quantiles)
            n_ref.append(scores.size)
            scales.append(spread if spread > 0 else max(abs(float(quantiles[-1])), 1.0))
        self.n_reference_ = np.array(n_ref)
        self.tail_scale_ = np.array(scales)
        return self

    def transform(self, X) -> np.ndarray:
        """Calibrated scores in ``[0, 1]``, same shape as ``X``."""
        check_is_fitted(self)
        X, one_d = self._as_2d(X, reset=False)
        out = np.empty_like(X)
        for j in range(X.shape[1]):
            out[:, j] = self._column(X[:, j], j)
        return out[:, 0] if one_d else out

    def _column(self, a: np.ndarray, j: int) -> np.ndarray:
        q, lv = self.quantiles_[j], self.levels_[j]
        # Map so that the reference maximum corresponds to 1 - 1/(n+1).
        top = 1.0 - 1.0 / (self.n_reference_[j] + 1)
        out = np.interp(a, q, lv * top, left=0.0, right=top)
        above = a > q[-1]
        if np.any(above):
            with np.errstate(over="ignore"):  # an infinite excess maps to 1.0, as it should
                excess = (a[above] - q[-1]) / self.tail_scale_[j]
            out[above] = top + (1.0 - top) * (1.0 - np.exp(-excess))
        out[np.isnan(a)] = 1.0
        return np.clip(out, 0.0, 1.0)


class BaseDetector(BaseEstimator):
    """Base class of every detector: ``threat_score`` and ``explain``.

    Subclasses implement ``fit`` and ``threat_score``; they may override
    ``explain`` (the default reports only the score) and
    ``_generic_check_data`` (the small dataset the common tests use).
    """

    #: Score given to items that cannot be processed (documented per detector).
    fallback_threat_score: float = 1.0

    def threat_score(self, X) -> np.ndarray:  # pragma: no cover - abstract
        """Suspicion of each item, in ``[0, 1]``; higher is more suspicious."""
        raise NotImplementedError

    def explain(self, X, *, top_k: int = 5) -> list[Explanation]:
        """One :class:`Explanation` per item (the default gives only the score)."""
        scores = self.threat_score(X)
        return [Explanation(index=i, threat_score=float(s)) for i, s in enumerate(scores)]

    def _check_on_bad_input(self) -> None:
        policy = getattr(self, "on_bad_input", "fallback")
        if policy not in BAD_INPUT_POLICIES:
            raise InvalidParameterError(
                f"on_bad_input must be one of {BAD_INPUT_POLICIES}, got {policy!r}"
            )

    @classmethod
    def _generic_check_data(cls) -> dict:
        """Small data for ``tests/test_common.py``.

        Returns a dict with ``X`` (training batch), ``y`` (labels or None),
        ``X_test`` (a batch to score, which may include bad items) and
        optionally ``params`` (constructor arguments for a fast test).
        """
        raise NotImplementedError(f"{cls.__name__} does not provide generic-check data")


class ClassifierDetectorMixin(ClassifierMixin):
    """Classifier family: ``threat_score`` = probability of the malicious class.

    The malicious class is ``1``/``True`` when present in ``classes_``, else
    the last class in ``classes_`` (binary problems).
    """

    # ``score`` takes no sample weights through metadata routing (this also keeps
    # scikit-learn from generating a ``set_score_request`` method on every detector).
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}

    def _malicious_column(self) -> int:
        classes = list(self.classes_)
        for label in (1, True, "malicious", "bad"):
            if label in classes:
                return classes.index(label)
        return len(classes) - 1

    def threat_score(self, X) -> np.ndarray:
        """Calibrated probability that each item is malicious."""
        check_is_fitted(self)
        return np.clip(self.predict_proba(X)[:, self._malicious_column()], 0.0, 1.0)


class OutlierDetectorMixin(OutlierMixin):
    """Outlier family trained on normal data.

    Subclasses implement ``score_samples`` (high = normal) and call
    :meth:`_fit_threshold` at the end of ``fit`` with the training scores. The
    threshold ``offset_`` is the ``contamination`` quantile of those scores
    (``contamination`` is the target false-positive rate on normal data).
    """

    def _fit_threshold(self, train_score_samples: np.ndarray) -> None:
        contamination = getattr(self, "contamination", 0.01)
        if not 0.0 < float(contamination) < 0.5:
            raise InvalidParameterError(f"contamination must be in (0, 0.5), got {contamination!r}")
        s = np.asarray(train_score_samples, dtype=np.float64)
        self.offset_ = float(np.quantile(s[np.isfinite(s)], contamination))
        self.calibrator_ = TailCalibrator().fit(-s)

    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - offset_``: negative means anomalous."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """``+1`` for normal items, ``-1`` for anomalies."""
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def threat_score(self, X) -> np.ndarray:
        """Tail probability of the item's anomaly among training normals."""
        check_is_fitted(self)
        return self.calibrator_.transform(-self.score_samples(X))
