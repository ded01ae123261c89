"""PAYL-style byte-frequency anomaly model for raw payloads of any protocol."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._kernels.bytes import byte_frequency_distance, byte_frequency_moments
from ._parallel import map_ragged
from ._ragged import to_ragged_bytes
from .base import BaseDetector, Contribution, Explanation, OutlierDetectorMixin, handle_bad_items
from .exceptions import InvalidParameterError

__all__ = ["ByteFrequencyModel"]


class ByteFrequencyModel(OutlierDetectorMixin, BaseDetector):
    """Model of normal payloads by their byte-value distribution (PAYL).

    Trained on normal payloads only. Each payload is summarised by the relative
    frequency of each of the 256 byte values; the model keeps their mean and
    standard deviation and scores a payload by the simplified Mahalanobis
    distance of Wang & Stolfo's PAYL, ``sum_b |f_b - mean_b| / (std_b + smoothing)``.
    It is a fast, protocol-agnostic baseline and a component of the hybrid
    detector for payloads no richer model understands.

    Parameters
    ----------
    smoothing : float, default=0.001
        Added to each standard deviation so bytes never seen in training do
        not divide by zero (PAYL's alpha).
    contamination : float, default=0.01
        Target false-positive rate on normal data: ``offset_`` is that
        quantile of the training ``score_samples``.
    max_len : int, default=65536
        Bytes of each payload read (bounded work on hostile input).
    n_jobs : int or None, default=None
        Threads for scoring (the kernel releases the GIL); ``-1`` uses all CPUs.
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that are neither ``str`` nor ``bytes`` (``None``, numbers) get
        ``score_samples = nan`` and ``threat_score = 1.0`` with a
        :class:`~secml_detect.exceptions.BadInputWarning`, or raise.

    Attributes
    ----------
    n_samples_seen_ : int
    mean_ : ndarray of shape (256,)
    std_ : ndarray of shape (256,)
    offset_ : float
    calibrator_ : TailCalibrator

    Examples
    --------
    >>> normal = [f"id={i}&name=user{i % 7}".encode() for i in range(200)]
    >>> model = ByteFrequencyModel().fit(normal)
    >>> scores = model.threat_score([b"id=5&name=user3", b"id=1' OR '1'='1' --"])
    >>> bool(scores[1] > scores[0])
    True
    """

    fallback_threat_score = 1.0
    MIN_CALIBRATION_ITEMS = 200

    def __init__(self, smoothing: float = 0.001, contamination: float = 0.01,
                 max_len: int = 65536, n_jobs: int | None = None, on_bad_input: str = "fallback") -> None:
        self.smoothing = smoothing
        self.contamination = contamination
        self.max_len = max_len
        self.n_jobs = n_jobs
        self.on_bad_input = on_bad_input

    def _ragged(self, X):
        ragged = to_ragged_bytes(X, max_len=self.max_len)
        handle_bad_items(ragged.missing, "not str or bytes", self.on_bad_input, items=X,
                         fallback_desc="threat_score 1.0")
        return ragged

    def _validate_params(self) -> None:
        self._check_on_bad_input()
        if not self.smoothing > 0:
            raise InvalidParameterError(f"smoothing must be > 0, got {self.smoothing!r}")
        if not int(self.max_len) > 0:
            raise InvalidParameterError(f"max_len must be > 0, got {self.max_len!r}")

    # Sufficient statistics: they add up, so partitions fit separately merge
    # exactly (secml_detect.dask.fit_merged).
    def _partition_stats(self, X) -> dict:
        ragged = self._ragged(X)
        s1, s2 = byte_frequency_moments(ragged.data, ragged.offsets)
        usable = ~ragged.missing & (ragged.lengths > 0)
        return {"sum": s1, "sumsq": s2, "n": int(usable.sum())}

    @staticmethod
    def _combine_stats(a: dict, b: dict) -> dict:
        return {"sum": a["sum"] + b["sum"], "sumsq": a["sumsq"] + b["sumsq"], "n": a["n"] + b["n"]}

    def _set_stats(self, stats: dict) -> "ByteFrequencyModel":
        self._sum_, self._sumsq_, self.n_samples_seen_ = stats["sum"], stats["sumsq"], stats["n"]
        n = max(self.n_samples_seen_, 1)
        self.mean_ = self._sum_ / n
        self.std_ = np.sqrt(np.maximum(self._sumsq_ / n - self.mean_**2, 0.0))
        return self

    def _update_moments(self, ragged) -> None:
        s1, s2 = byte_frequency_moments(ragged.data, ragged.offsets)
        usable = ~ragged.missing & (ragged.lengths > 0)
        new = {"sum": s1, "sumsq": s2, "n": int(usable.sum())}
        if hasattr(self, "_sum_"):
            new = self._combine_stats({"sum": self._sum_, "sumsq": self._sumsq_, "n": self.n_samples_seen_}, new)
        self._set_stats(new)

    def fit(self, X, y=None) -> "ByteFrequencyModel":
        """Fit on a batch of normal payloads (``str`` or ``bytes``)."""
        self._validate_params()
        for attr in ("_sum_", "_sumsq_", "n_samples_seen_"):
            self.__dict__.pop(attr, None)
        ragged = self._ragged(X)
        if len(ragged) == 0:
            raise InvalidParameterError("cannot fit on an empty batch")
        self._update_moments(ragged)
        self._fit_threshold(self._score_ragged(ragged))
        return self

    def partial_fit(self, X, y=None) -> "ByteFrequencyModel":
        """Add a batch of normal payloads (for example dismissed false positives).

        The moments are updated exactly (they are sums). The threshold and the
        calibration are refitted on the batch only when it holds at least
        ``MIN_CALIBRATION_ITEMS`` items, so a handful of analyst verdicts do
        not replace the calibration learned from the training data.
        """
        self._validate_params()
        ragged = self._ragged(X)
        first_call = not hasattr(self, "calibrator_")
        self._update_moments(ragged)
        if len(ragged) and (first_call or len(ragged) >= self.MIN_CALIBRATION_ITEMS):
            self._fit_threshold(self._score_ragged(ragged))
        return self

    def _score_ragged(self, ragged) -> np.ndarray:
        inv_scale = 1.0 / (self.std_ + self.smoothing)
        scores = -map_ragged(byte_frequency_distance, ragged.data, ragged.offsets, self.mean_, inv_scale,
                             n_jobs=self.n_jobs)
        scores[ragged.missing] = np.nan
        return scores

    def score_samples(self, X) -> np.ndarray:
        """Negative PAYL distance: high for normal payloads, ``nan`` for bad items."""
        check_is_fitted(self)
        return self._score_ragged(self._ragged(X))

    def threat_score(self, X) -> np.ndarray:
        """Tail probability among training normals (1.0 for bad items)."""
        return super().threat_score(X)

    def explain(self, X, *, top_k: int = 5) -> list[Explanation]:
        """The byte values whose frequency departs most from normal."""
        check_is_fitted(self)
        ragged = self._ragged(X)
        scores = self.calibrator_.transform(-self._score_ragged(ragged))
        inv_scale = 1.0 / (self.std_ + self.smoothing)
        out = []
        for i in range(len(ragged)):
            if ragged.missing[i]:
                out.append(Explanation(i, float(scores[i]), fallback=True, note="not str or bytes"))
                continue
            item = ragged.item(i)
            freq = np.bincount(item, minlength=256) / max(len(item), 1)
            contrib = np.abs(freq - self.mean_) * inv_scale
            top = np.argsort(-contrib, kind="stable")[:top_k]
            out.append(Explanation(i, float(scores[i]), tuple(
                Contribution(f"byte 0x{b:02x}", f"freq {freq[b]:.3f} vs {self.mean_[b]:.3f}", float(contrib[b]))
                for b in top if contrib[b] > 0)))
        return out

    @classmethod
    def _generic_check_data(cls) -> dict:
        rng = np.random.RandomState(0)
        X = [f"GET /item?id={rng.randint(1000)}&q=shoes{rng.randint(9)}".encode() for _ in range(60)]
        X_test = [b"GET /item?id=12&q=shoes3", b"GET /item?id=<script>alert(1)</script>", b"", None]
        return {"X": X, "y": None, "X_test": X_test, "params": {}}
