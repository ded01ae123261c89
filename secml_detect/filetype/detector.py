"""FileTypeDetector: content type of files from their head and tail bytes."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from .._kernels.filetype import uniform_windows
from ..base import BaseDetector, ClassifierDetectorMixin, Contribution, Explanation, handle_bad_items
from ..exceptions import InvalidParameterError
from .features import FeatureSpec, feature_matrix, linear_scores, named_features
from .reading import ReadStatus, WindowBatch, _ragged, read_windows

__all__ = ["FileTypeDetector", "FileTypeResult", "DEFAULT_TYPES_OF_INTEREST", "MODEL_DIR"]

MODEL_DIR = Path(__file__).resolve().parent / "model"
MODEL_FILE = MODEL_DIR / "filetype.smd"
METADATA_FILE = MODEL_DIR / "metadata.json"

#: Executable content: native binaries, bytecode and scripts.
DEFAULT_TYPES_OF_INTEREST = (
    "elf", "pe", "macho", "javabytecode", "pythonbytecode",
    "shell", "python", "perl", "ruby", "php", "javascript", "powershell", "batch", "tcl",
)
UNKNOWN = "unknown"
EMPTY = "empty"


@dataclass(frozen=True)
class FileTypeResult:
    """The answer for one item.

    Attributes
    ----------
    label : str
        The content type, ``"unknown"`` when the model is not confident enough
        (or the item could not be read), ``"empty"`` for zero-length content.
    confidence : float
        Probability of the top type (``0.0`` for unreadable items, ``1.0`` for
        empty content).
    best_guess : str
        The top type even when ``label`` is ``"unknown"``.
    threat_score : float
        Probability mass of the types of interest (see :class:`FileTypeDetector`).
    ok : bool
        False when the item could not be read; ``error`` says why.
    error : str
    size : int
        Content size in bytes (``-1`` when unknown).
    """

    label: str
    confidence: float
    best_guess: str
    threat_score: float
    ok: bool = True
    error: str = ""
    size: int = -1

    def to_dict(self) -> dict:
        """A JSON-serialisable dict."""
        return asdict(self)


class FileTypeDetector(ClassifierDetectorMixin, BaseDetector):
    """Content type of files from a bounded head/tail window (Magika-style).

    Each item (``bytes``, a path, or an open binary file) is read only in two
    windows: the first ``head_size`` and the last ``tail_size`` bytes. Numba
    kernels turn them into hashed byte n-grams of the head and of the tail,
    ``(position, byte)`` pairs of the first and last ``n_pos`` bytes (magic
    numbers and trailers), hashed word tokens, and printable/whitespace/UTF-8
    statistics of each window; a multinomial logistic regression over them gives one
    probability per type. Prediction fuses features and model in one kernel,
    so memory does not grow with the batch.

    A pre-trained model for 51 types ships inside the package:
    :meth:`pretrained` loads it (well under a second). :meth:`fit` trains a
    new model on your own labelled files (see the user guide to add a type).

    Parameters
    ----------
    head_size, tail_size : int, default=1024, 1024
        Window sizes in bytes.
    ngram_max : {1, 2, 3}, default=3
        Byte n-grams of lengths ``1..ngram_max``.
    n_pos : int, default=32
        Positions at the start and at the end with ``(position, byte)`` features.
    n_hash : int, default=16384
        Hashed feature columns.
    C : float, default=10.0
        Inverse regularisation strength of the logistic regression.
    class_weight : "balanced" or None, default="balanced"
    max_iter : int, default=300
    temperature : float, default=1.0
        Probabilities are ``softmax(scores / temperature)``. The shipped model
        uses the temperature that minimised the log-loss on validation groups
        held out of its training data (see ``benchmarks/filetype_train.py``).
    min_confidence : float, default=0.5
        Below this top-type probability, :meth:`predict` answers ``"unknown"``.
    min_length : int, default=4
        Content shorter than this (but not empty) is answered ``"unknown"``:
        one to three bytes carry too little evidence for any type. So is
        content whose windows hold one repeated byte (all NULs, for example),
        which also gets ``threat_score = 0.0``.
    types_of_interest : sequence of str, optional
        Types whose probability mass is the ``threat_score``. Default
        :data:`DEFAULT_TYPES_OF_INTEREST`: executable content (native
        binaries, bytecode, scripts). Types not in ``classes_`` are ignored.
    augment : bool, default=True
        Train also on a truncated copy of each item and on NUL-padded copies
        of a share of them (see ``pad_share``), labelled like the original.
    pad_share : float, default=0.35
    random_state : int or None, default=0
        Seed of the augmentation.
    batch_size : int, default=2048
        Items read and scored at a time (bounds memory on huge batches).
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that cannot be read (missing path, directory, FIFO, device,
        permission error, unsupported type such as ``None``) get
        ``predict = "unknown"``, a uniform ``predict_proba`` row and
        ``threat_score = 1.0`` (unseen content is treated as suspicious), with a
        :class:`~secml_detect.exceptions.BadInputWarning`; or raise
        :class:`~secml_detect.exceptions.InvalidItemError`. :meth:`detect`
        never warns or raises for them: its results carry ``ok``/``error``.
        Empty content is not bad input: ``"empty"``, ``threat_score = 0.0``.

    Attributes
    ----------
    classes_ : ndarray of str
    weights_ : ndarray of float32, shape (n_features, n_classes)
    intercept_ : ndarray of float64, shape (n_classes,)
    n_features_ : int

    Examples
    --------
    >>> det = FileTypeDetector.pretrained()
    >>> det.predict([b"#!/bin/sh\\necho hello\\n", b"%PDF-1.7\\n1 0 obj\\n<< /Type /Catalog >>\\n"]).tolist()
    ['shell', 'pdf']
    >>> r = det.detect([b"\\x7fELF\\x02\\x01\\x01" + bytes(57), "/no/such/file"])
    >>> r[0].label, r[1].ok, r[1].error
    ('elf', False, 'no such file')
    """

    fallback_threat_score = 1.0

    def __init__(self, head_size: int = 1024, tail_size: int = 1024, ngram_max: int = 3, n_pos: int = 32,
                 n_hash: int = 1 << 14, C: float = 10.0, class_weight: str | None = "balanced",
                 max_iter: int = 300, temperature: float = 1.0, min_confidence: float = 0.5, min_length: int = 4,
                 types_of_interest=None,
                 augment: bool = True, pad_share: float = 0.35, random_state: int | None = 0,
                 batch_size: int = 2048, on_bad_input: str = "fallback") -> None:
        self.head_size = head_size
        self.tail_size = tail_size
        self.ngram_max = ngram_max
        self.n_pos = n_pos
        self.n_hash = n_hash
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.temperature = temperature
        self.min_confidence = min_confidence
        self.min_length = min_length
        self.types_of_interest = types_of_interest
        self.augment = augment
        self.pad_share = pad_share
        self.random_state = random_state
        self.batch_size = batch_size
        self.on_bad_input = on_bad_input

    # ------------------------------------------------------------------ set-up

    @classmethod
    def pretrained(cls, **params) -> "FileTypeDetector":
        """The model shipped with the package (``params`` override prediction settings
        such as ``min_confidence``, ``types_of_interest`` or ``batch_size``)."""
        from ..persistence import load

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # version notes: the file is ours
            model = load(MODEL_FILE)
        if params:
            model.set_params(**params)
        return model

    @staticmethod
    def pretrained_metadata() -> dict:
        """Label set, training corpus description and version of the shipped model."""
        return json.loads(METADATA_FILE.read_text())

    def _spec(self) -> FeatureSpec:
        return FeatureSpec(int(self.head_size), int(self.tail_size), int(self.ngram_max), int(self.n_pos),
                           int(self.n_hash))

    def _validate_params(self) -> None:
        self._check_on_bad_input()
        if not 1 <= int(self.ngram_max) <= 3:
            raise InvalidParameterError(f"ngram_max must be 1, 2 or 3, got {self.ngram_max!r}")
        for name in ("head_size", "n_hash", "max_iter", "batch_size"):
            if not int(getattr(self, name)) > 0:
                raise InvalidParameterError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("tail_size", "n_pos"):
            if not int(getattr(self, name)) >= 0:
                raise InvalidParameterError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.min_confidence) <= 1.0:
            raise InvalidParameterError(f"min_confidence must be in [0, 1], got {self.min_confidence!r}")
        if not float(self.temperature) > 0:
            raise InvalidParameterError(f"temperature must be > 0, got {self.temperature!r}")
        if not float(self.C) > 0:
            raise InvalidParameterError(f"C must be > 0, got {self.C!r}")

    def _read(self, X) -> WindowBatch:
        return read_windows(X, int(self.head_size), int(self.tail_size))

    # ------------------------------------------------------------------ training

    def fit(self, X, y) -> "FileTypeDetector":
        """Train on labelled items (``bytes``, paths or binary files) and their type names.

        Unreadable items are left out of training with a
        :class:`~secml_detect.exceptions.BadInputWarning` (or raise).
        """
        self._validate_params()
        X = list(X)
        y = np.asarray(y)
        if len(X) != len(y):
            raise InvalidParameterError(f"X has {len(X)} items but y has {len(y)} labels")
        if len(X) == 0:
            raise InvalidParameterError("cannot fit on an empty batch")
        w = self._read(X)
        ok = w.ok
        handle_bad_items(~ok, [s.error for s in w.status if not s.ok], self.on_bad_input, items=X,
                         fallback_desc="exclusion from training")
        Xm = feature_matrix(w, self._spec())[ok]
        labels = y[ok].astype(str)
        if self.augment:
            aug, idx = self._augmented(w, np.flatnonzero(ok))
            if len(aug):
                Xm = sp.vstack([Xm, feature_matrix(aug, self._spec())], format="csr")
                pos = np.searchsorted(np.flatnonzero(ok), idx)
                labels = np.concatenate([labels, labels[pos]])
        if len(np.unique(labels)) < 2:
            raise InvalidParameterError("need at least two types to train")
        if UNKNOWN in labels or EMPTY in labels:
            raise InvalidParameterError(f"{UNKNOWN!r} and {EMPTY!r} are reserved answers, not trainable types")
        model = LogisticRegression(C=float(self.C), max_iter=int(self.max_iter), class_weight=self.class_weight)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Xm, labels)
        self.classes_ = model.classes_.astype(str)
        coef = model.coef_
        intercept = model.intercept_
        if coef.shape[0] == 1:  # binary: scikit-learn keeps one row
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.weights_ = np.ascontiguousarray(coef.T, dtype=np.float32)
        self.intercept_ = intercept.astype(np.float64)
        self.n_features_ = int(Xm.shape[1])
        return self

    def _augmented(self, w: WindowBatch, items: np.ndarray) -> tuple[WindowBatch, np.ndarray]:
        """Truncated and NUL-padded copies of training windows (and their source indices).

        Truncated copies (every item longer than 16 bytes, cut to a random
        length within the head window) teach the model short and cut files
        instead of a size shortcut; NUL-padded copies (a share of
        ``pad_share`` of the items, padded with ``tail_size`` to 16 KiB of
        zeros) teach it that a zero tail is padding, not a tar archive.
        """
        rng = np.random.RandomState(self.random_state)
        head_size, tail_size = int(self.head_size), int(self.tail_size)
        heads, tails, sizes, src = [], [], [], []
        for i in items:
            h = bytes(w.head.item(i))
            size = int(w.sizes[i])
            if size > 16:
                cut = int(rng.randint(16, min(size, head_size) + 1))
                heads.append(h[:cut])
                tails.append(b"")
                sizes.append(cut)
                src.append(i)
            if rng.random_sample() < float(self.pad_share) and size > 0:
                pad = int(rng.randint(max(tail_size, 1), 16385))
                new_size = size + pad
                if size < head_size:
                    nh = (h + bytes(head_size))[:min(head_size, new_size)]
                else:
                    nh = h
                heads.append(nh)
                tails.append(bytes(max(0, min(tail_size, new_size - len(nh)))))
                sizes.append(new_size)
                src.append(i)
        missing = np.zeros(len(heads), dtype=bool)
        status = [ReadStatus(True, "", s, "bytes") for s in sizes]
        aug = WindowBatch(_ragged(heads, missing), _ragged(tails, missing), np.array(sizes, dtype=np.int64), status)
        return aug, np.array(src, dtype=np.int64)

    # ------------------------------------------------------------------ scoring

    def _chunks(self, X) -> Iterator[tuple[int, list]]:
        if isinstance(X, (str, bytes)):
            raise TypeError("expected a batch (a list of items), got a single str/bytes")
        step = int(self.batch_size)
        chunk, start = [], 0
        for item in X:
            chunk.append(item)
            if len(chunk) == step:
                yield start, chunk
                start += len(chunk)
                chunk = []
        if chunk:
            yield start, chunk

    def _proba_windows(self, w: WindowBatch) -> np.ndarray:
        z = linear_scores(w, self._spec(), self.weights_, self.intercept_)
        z /= float(self.temperature)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def _interest_mask(self) -> np.ndarray:
        types = DEFAULT_TYPES_OF_INTEREST if self.types_of_interest is None else tuple(self.types_of_interest)
        return np.isin(self.classes_, np.asarray(types, dtype=str))

    def _results_chunk(self, w: WindowBatch) -> tuple:
        """(proba, threat, ok, empty, short) for one chunk."""
        proba = self._proba_windows(w)
        ok = w.ok
        empty = ok & (w.sizes == 0)
        # Too short, or one repeated byte (all NUL): no evidence for any type.
        uniform = ok & uniform_windows(w.head.data, w.head.offsets, w.tail.data, w.tail.offsets)
        short = ok & (w.sizes > 0) & ((w.sizes < int(self.min_length)) | uniform)
        threat = proba[:, self._interest_mask()].sum(axis=1)
        k = proba.shape[1]
        proba[~ok | empty] = 1.0 / k
        threat[~ok] = self.fallback_threat_score
        threat[empty] = 0.0
        threat[uniform] = 0.0
        return proba, np.clip(threat, 0.0, 1.0), ok, empty, short

    def _iter_chunks(self, X, policy: bool = True):
        for start, chunk in self._chunks(X):
            w = self._read(chunk)
            if policy:
                bad = np.flatnonzero(~w.ok)
                handle_bad_items(bad + start, [w.status[i].error for i in bad], self.on_bad_input,
                                 items=None, fallback_desc="predict 'unknown' and threat_score 1.0")
            yield start, chunk, w, self._results_chunk(w)

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each type in ``classes_`` (uniform rows for unreadable or empty items)."""
        check_is_fitted(self)
        parts = [res[0] for _, _, _, res in self._iter_chunks(X)]
        return np.vstack(parts) if parts else np.zeros((0, len(self.classes_)))

    def _labels(self, proba, ok, empty, short) -> np.ndarray:
        top = proba.argmax(axis=1)
        conf = proba[np.arange(len(top)), top]
        labels = self.classes_[top].astype(object)
        labels[conf < float(self.min_confidence)] = UNKNOWN
        labels[~ok | short] = UNKNOWN
        labels[empty] = EMPTY
        return labels

    def predict(self, X) -> np.ndarray:
        """Type of each item; ``"unknown"`` below ``min_confidence`` or when unreadable,
        ``"empty"`` for zero-length content."""
        check_is_fitted(self)
        parts = [self._labels(res[0], res[2], res[3], res[4]) for _, _, _, res in self._iter_chunks(X)]
        return np.concatenate(parts).astype(str) if parts else np.zeros(0, dtype=str)

    def threat_score(self, X) -> np.ndarray:
        """Probability mass of the types of interest (executable content by default).

        ``1.0`` for unreadable items, ``0.0`` for empty content.
        """
        check_is_fitted(self)
        parts = [res[1] for _, _, _, res in self._iter_chunks(X)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def iter_detect(self, X: Iterable) -> Iterator[FileTypeResult]:
        """Like :meth:`detect`, but lazily: one chunk of ``batch_size`` items in memory at a time."""
        check_is_fitted(self)
        for _, _, w, (proba, threat, ok, empty, short) in self._iter_chunks(X, policy=False):
            labels = self._labels(proba, ok, empty, short)
            top = proba.argmax(axis=1)
            for i, st in enumerate(w.status):
                st: ReadStatus
                if not st.ok:
                    yield FileTypeResult(UNKNOWN, 0.0, UNKNOWN, float(threat[i]), False, st.error, st.size)
                elif empty[i]:
                    yield FileTypeResult(EMPTY, 1.0, EMPTY, 0.0, True, "", 0)
                else:
                    yield FileTypeResult(str(labels[i]), float(proba[i, top[i]]), str(self.classes_[top[i]]),
                                         float(threat[i]), True, "", int(st.size))

    def detect(self, X) -> list[FileTypeResult]:
        """One :class:`FileTypeResult` per item; never raises or warns for unreadable items."""
        return list(self.iter_detect(X))

    def explain(self, X, *, top_k: int = 5) -> list[Explanation]:
        """The byte n-grams, positions and statistics that most favour the top type over the runner-up."""
        check_is_fitted(self)
        X = list(X)
        out: list[Explanation] = []
        spec = self._spec()
        scores = self.threat_score(X)
        for start, chunk, w, (proba, _, ok, empty, short) in self._iter_chunks(X, policy=False):
            labels = self._labels(proba, ok, empty, short)
            Xm = feature_matrix(w, spec)
            for i in range(len(chunk)):
                idx = start + i
                if not ok[i]:
                    out.append(Explanation(idx, float(scores[idx]), fallback=True, note=w.status[i].error))
                    continue
                if empty[i]:
                    out.append(Explanation(idx, float(scores[idx]), note="empty content"))
                    continue
                order = np.argsort(-proba[i], kind="stable")
                a, b = order[0], order[1] if len(order) > 1 else order[0]
                row = Xm[i]
                contrib = row.data * (self.weights_[row.indices, a] - self.weights_[row.indices, b])
                best = np.argsort(-contrib, kind="stable")[:top_k]
                names = named_features(bytes(w.head.item(i)), bytes(w.tail.item(i)), spec)
                contributions = tuple(
                    Contribution(" | ".join(names.get(int(row.indices[j]), [f"feature {row.indices[j]}"])),
                                 float(row.data[j]), float(contrib[j]))
                    for j in best if contrib[j] > 0)
                note = (f"{labels[i]} (p={proba[i, a]:.3f}; best guess {self.classes_[a]}, "
                        f"runner-up {self.classes_[b]} p={proba[i, b]:.3f})")
                out.append(Explanation(idx, float(scores[idx]), contributions, note=note))
        return out

    @classmethod
    def _generic_check_data(cls) -> dict:
        rng = np.random.RandomState(0)

        def blob(prefix: bytes, n: int) -> bytes:
            return prefix + rng.randint(0, 256, n).astype(np.uint8).tobytes()

        def text(prefix: str, words: list[str]) -> bytes:
            return (prefix + " ".join(rng.choice(words, 30)) + "\n").encode()

        X, y = [], []
        for _ in range(8):
            X += [blob(b"\x7fELF\x02\x01\x01\x00", 200), blob(b"%PDF-1.5\n", 150),
                  text("#!/bin/sh\n", ["echo", "if", "then", "fi", "$HOME", "exit", ";"]),
                  text("{\"a\": ", ["1,", "\"b\":", "[2,", "3],", "{\"c\":", "null},"])]
            y += ["elf", "pdf", "shell", "json"]
        X_test = [blob(b"\x7fELF\x02\x01\x01\x00", 100), b"#!/bin/sh\necho hi\n", b"", b"x"]
        return {"X": X, "y": y, "X_test": X_test, "params": {"n_hash": 1024, "max_iter": 50, "head_size": 256,
                                                                 "tail_size": 64}}
