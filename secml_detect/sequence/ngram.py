"""APICallSequenceModel: a hierarchically smoothed n-gram model of normal call sequences."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
from sklearn.utils import metadata_routing
from sklearn.utils.validation import check_is_fitted

from .._kernels import sequence as K
from .._ragged import RaggedArray, Vocabulary
from ..base import BaseDetector, Contribution, Explanation, OutlierDetectorMixin, handle_bad_items
from ..exceptions import InvalidParameterError
from ..hierarchy import fit_concentration
from ._encode import _as_tokens, encode_sequences, entity_list

__all__ = ["APICallSequenceModel"]

AGGREGATES = {"mean": 0, "max": 1, "sum": 2, "topg": 3}
_MAX_CALIBRATION = 100_000


def take_items(ragged: RaggedArray, idx: np.ndarray) -> RaggedArray:
    """The items ``idx`` of a ragged batch, as a new ragged batch."""
    idx = np.asarray(idx, dtype=np.int64)
    lengths = ragged.lengths[idx]
    offsets = np.zeros(idx.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    starts = ragged.offsets[idx]
    pos = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
    return RaggedArray(ragged.data[pos], offsets, ragged.missing[idx], ragged.truncated[idx])


class APICallSequenceModel(OutlierDetectorMixin, BaseDetector):
    """Generative model of normal call sequences, smoothed over contexts and entities.

    Trained on normal sequences of tokens (system-call numbers, API names, log
    keys: any hashable values), it predicts each call from the ``order``
    calls before it and scores a sequence by how surprised it is.

    **Model.** The probability of the next call ``x`` after the context
    ``c_k = (x_{t-k} .. x_{t-1})`` backs off over context lengths, in the
    spirit of hierarchical Dirichlet (Pitman-Yor with discount 0) language
    models::

        p_0(x)       = (n(x) + a_0 / V) / (n + a_0)
        p_j(x | c_j) = (n(c_j, x) + a_j p_{j-1}(x | c_{j-1})) / (n(c_j) + a_j)

    Contexts before the first call are padded with a start symbol and, with
    ``end_event=True``, the end of the sequence is one more predicted event
    (so truncated sessions are surprising too). When sequences carry an
    entity key (service, container, host), the longest-context estimate is
    smoothed once more, entity -> group -> global::

        p_group(x | c_k)  = (n_g(c_k, x) + b_g p_k(x | c_k)) / (n_g(c_k) + b_g)
        p_entity(x | c_k) = (n_e(c_k, x) + b_e p_group(x | c_k)) / (n_e(c_k) + b_e)

    so an entity with few sequences is judged by its group and the global
    model, and one with many by its own habits. Every strength ``a_j``,
    ``b_g``, ``b_e`` is learned by maximum marginal likelihood
    (:func:`secml_detect.hierarchy.fit_concentration`) unless
    ``prior_strength`` fixes them. Counts are sufficient statistics, so
    :meth:`partial_fit` adds batches exactly.

    **Scores.** The surprise of a call is ``-log p`` (nats). A sequence's
    anomaly score aggregates its calls' surprises (``aggregate``):

    * ``"max"``: the largest mean surprise over ``window`` consecutive calls
      (``window=1``: the single most surprising call);
    * ``"mean"``: mean surprise per call (length-independent);
    * ``"sum"``: total surprise, the negative log-likelihood;
    * ``"topg"``: the number of calls outside the ``top_g`` most frequent
      successors of their longest seen context (DeepLog's rule over counts).

    ``score_samples`` is minus that score (high = normal). The threshold
    ``offset_`` and the calibration of ``threat_score`` use **out-of-fold**
    scores of the training sequences (``calibration_folds``-fold cross-fitting:
    each fold scored by the counts of the others), so they see no test labels
    and are not fooled by the model having memorised its own training data.
    ``predict`` flags about ``contamination`` of normal sequences.

    Parameters
    ----------
    order : int, default=3
        Longest context ``k`` (calls before the predicted one).
    aggregate : {"max", "mean", "sum", "topg"}, default="max"
    window : int, default=1
        Window length for ``aggregate="max"``.
    top_g : int, default=9
        ``g`` of the top-g rule (used by ``aggregate="topg"`` and reported in
        explanations).
    end_event : bool, default=True
        Predict the end of each sequence as one more event.
    entity_groups : dict, optional
        Entity key -> group key (for example container -> deployment). Entities
        not listed have no group level.
    prior_strength : float, optional
        Fixed strength for every level instead of learned ones.
    contamination : float, default=0.01
        Target false-positive rate on normal sequences.
    calibration_folds : int, default=5
        Folds of the cross-fitting that produces the calibration scores.
    max_len : int, optional
        Keep at most this many calls of each sequence (``None``: all; the
        kernels are linear in the length, so a sequence of a million calls is
        fine).
    random_state : int, default=0
        Seed of the fold assignment.
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that are not sequences of hashable tokens (``None``, a bare
        string, a number, a sequence holding a list) get ``score_samples =
        nan`` and ``threat_score = 1.0`` with a
        :class:`~secml_detect.exceptions.BadInputWarning`, or raise.

    Notes
    -----
    Documented scores for odd but valid input: an **empty sequence** is
    scored by the surprise of ending immediately (with ``end_event=False`` it
    scores 0, the least suspicious). A **token never seen** in training maps
    to the unknown id and gets the uniform share of the base level: a large
    but finite surprise. Tokens of **mixed types** are fine; they are
    compared with Python equality, so ``1`` and ``"1"`` are different calls
    but ``1`` and ``1.0`` are the same.

    Attributes
    ----------
    vocabulary_ : Vocabulary
    alphas_ : ndarray of shape (order + 1,)
        Learned strength per context length.
    beta_group_, beta_entity_ : float
        Learned strengths of the group and entity levels (``nan`` if unused).
    ngram_keys_, ngram_counts_, ngram_levels_, ngram_nodes_, ngram_rows_ : ndarrays
        The sufficient statistics: one row per distinct (node, context, call).
    group_ids_, entity_ids_ : dict
        Node id of each group and entity seen in training.
    n_sequences_seen_ : int
    calibration_scores_ : ndarray
        Out-of-fold (or, after ``partial_fit``, score-then-learn) anomaly scores.
    offset_ : float
    calibrator_ : TailCalibrator

    Examples
    --------
    >>> normal = [["open", "read", "read", "close"], ["open", "write", "close"]] * 30
    >>> model = APICallSequenceModel(order=2).fit(normal)
    >>> s = model.threat_score([["open", "read", "close"], ["open", "exec", "socket"]])
    >>> bool(s[1] > s[0])
    True
    >>> model.explain([["open", "exec", "socket"]])[0].contributions[0].value
    "['<start>', 'open'] -> 'exec'"
    """

    fallback_threat_score = 1.0

    # ``entities`` is data, not routed metadata: no set_*_request methods for it.
    __metadata_request__fit = {"entities": metadata_routing.UNUSED}
    __metadata_request__partial_fit = {"entities": metadata_routing.UNUSED}
    __metadata_request__predict = {"entities": metadata_routing.UNUSED}
    __metadata_request__decision_function = {"entities": metadata_routing.UNUSED}

    def __init__(self, order: int = 3, aggregate: str = "max", window: int = 1, top_g: int = 9,
                 end_event: bool = True, entity_groups: dict | None = None,
                 prior_strength: float | None = None, contamination: float = 0.01,
                 calibration_folds: int = 5, max_len: int | None = None, random_state: int = 0,
                 on_bad_input: str = "fallback") -> None:
        self.order = order
        self.aggregate = aggregate
        self.window = window
        self.top_g = top_g
        self.end_event = end_event
        self.entity_groups = entity_groups
        self.prior_strength = prior_strength
        self.contamination = contamination
        self.calibration_folds = calibration_folds
        self.max_len = max_len
        self.random_state = random_state
        self.on_bad_input = on_bad_input

    # ------------------------------------------------------------------ input
    def _validate_params(self) -> None:
        self._check_on_bad_input()
        if not (isinstance(self.order, (int, np.integer)) and 0 <= self.order <= 16):
            raise InvalidParameterError(f"order must be an int in [0, 16], got {self.order!r}")
        if self.aggregate not in AGGREGATES:
            raise InvalidParameterError(f"aggregate must be one of {sorted(AGGREGATES)}, got {self.aggregate!r}")
        if not int(self.window) >= 1:
            raise InvalidParameterError(f"window must be >= 1, got {self.window!r}")
        if not int(self.top_g) >= 1:
            raise InvalidParameterError(f"top_g must be >= 1, got {self.top_g!r}")
        if self.prior_strength is not None and not float(self.prior_strength) > 0:
            raise InvalidParameterError(f"prior_strength must be > 0, got {self.prior_strength!r}")
        if not int(self.calibration_folds) >= 1:
            raise InvalidParameterError(f"calibration_folds must be >= 1, got {self.calibration_folds!r}")
        if self.max_len is not None and not int(self.max_len) > 0:
            raise InvalidParameterError(f"max_len must be > 0 or None, got {self.max_len!r}")
        if self.entity_groups is not None and not hasattr(self.entity_groups, "get"):
            raise InvalidParameterError("entity_groups must be a mapping entity -> group")

    def _encode(self, X, grow: bool) -> RaggedArray:
        ragged, reasons = encode_sequences(X, self.vocabulary_, grow=grow, max_len=self.max_len)
        if reasons:
            handle_bad_items(ragged.missing, reasons, self.on_bad_input, items=list(X) if not isinstance(X, list) else X,
                             fallback_desc="threat_score 1.0")
        return ragged

    def _group_of(self, entity: Hashable) -> Hashable | None:
        if self.entity_groups is None:
            return None
        try:
            return self.entity_groups.get(entity)
        except TypeError:
            return None

    def _nodes(self, entities, n: int, grow: bool) -> tuple[np.ndarray, np.ndarray]:
        """Group and entity node of each item (-1 = none)."""
        keys = entity_list(entities, n)
        groups = np.full(n, -1, dtype=np.int64)
        ents = np.full(n, -1, dtype=np.int64)
        for i, e in enumerate(keys):
            if e is None:
                continue
            g = self._group_of(e)
            if g is not None:
                gid = self.group_ids_.get(g)
                if gid is None and grow:
                    gid = self.group_ids_[g] = self.n_nodes_
                    self.n_nodes_ += 1
                groups[i] = -1 if gid is None else gid
            eid = self.entity_ids_.get(e)
            if eid is None and grow:
                eid = self.entity_ids_[e] = self.n_nodes_
                self.n_nodes_ += 1
                self.entity_group_[eid] = int(groups[i])
            ents[i] = -1 if eid is None else eid
        return groups, ents

    # --------------------------------------------------------------- counting
    def _count(self, ragged: RaggedArray, groups: np.ndarray, ents: np.ndarray) -> dict:
        """Distinct (node, level, context, call) rows of a batch with their counts."""
        k = int(self.order)
        eos = bool(self.end_event)
        usable = ~ragged.missing
        occ_item, occ_pos = K.occurrences(ragged.offsets, eos)
        parts = []
        for nodes, level_from in ((np.where(usable, 0, -1), 0),
                                  (np.where(usable, groups, -1), k),
                                  (np.where(usable, ents, -1), k)):
            if not np.any(nodes >= 0):
                continue
            cells, _ = K.emit_keys(ragged.data, ragged.offsets, nodes.astype(np.int64), k, level_from, eos)
            valid = nodes[occ_item] >= 0
            for col in range(cells.shape[1]):
                level = level_from + col
                keys = cells[valid, col]
                uk, first, cnt = np.unique(keys, return_index=True, return_counts=True)
                it = occ_item[valid][first]
                rows = K.gather_rows(ragged.data, ragged.offsets, it, occ_pos[valid][first], level, k, eos)
                parts.append((uk, cnt.astype(np.float64), np.full(uk.size, level, np.int8), nodes[it], rows))
        return _concat_stats(parts, k)

    def _derive_table(self, stats: dict) -> tuple[np.ndarray, np.ndarray]:
        """Hash table of cell counts, context totals and top-g thresholds."""
        k = int(self.order)
        keys, counts, levels, nodes, rows = (stats[f] for f in ("keys", "counts", "levels", "nodes", "rows"))
        _, ctxs, gths = K.row_keys(rows, levels.astype(np.int64), nodes, k)
        uctx, inv = np.unique(ctxs, return_inverse=True)
        totals = np.bincount(inv, weights=counts, minlength=uctx.size)
        g = int(self.top_g)
        glob = np.flatnonzero(nodes == 0)
        gkeys = np.zeros(0, np.uint64)
        gvals = np.zeros(0, np.float64)
        if glob.size:
            o = glob[np.lexsort((-counts[glob], ctxs[glob]))]
            sc = ctxs[o]
            starts = np.r_[0, np.flatnonzero(sc[1:] != sc[:-1]) + 1]
            sizes = np.diff(np.r_[starts, sc.size])
            gvals = np.where(sizes >= g, counts[o][np.minimum(starts + g - 1, sc.size - 1)], 1.0)
            gkeys = gths[o][starts]
        all_keys = np.concatenate([keys, uctx, gkeys])
        all_vals = np.concatenate([counts, totals, gvals])
        tkeys, tvals = K.build_table(all_keys, all_vals)
        self._ctx_cache = (ctxs, uctx, inv, totals)
        return tkeys, tvals

    def _uniform(self) -> float:
        # Known tokens + the unknown id + the end event share the base level.
        return 1.0 / (len(self.vocabulary_) + 1)

    def _fit_strengths(self, stats: dict, tkeys: np.ndarray, tvals: np.ndarray) -> None:
        k = int(self.order)
        levels = stats["levels"].astype(np.int64)
        nodes, counts, rows = stats["nodes"], stats["counts"], stats["rows"]
        _, uctx, inv, totals = self._ctx_cache
        fixed = None if self.prior_strength is None else float(self.prior_strength)
        self.alphas_ = np.ones(k + 1)
        self.beta_group_ = self.beta_entity_ = float("nan")
        u = self._uniform()
        none = np.full(rows.shape[0], -1, dtype=np.int64)

        def strength(sel, base):
            if fixed is not None:
                return fixed
            node_totals = totals[np.unique(inv[sel])]
            return fit_concentration(node_totals, counts[sel], base)

        for j in range(k + 1):
            sel = (levels == j) & (nodes == 0)
            if not sel.any():
                continue
            if j == 0:
                base = np.full(int(sel.sum()), u)
            else:
                base = K.row_probs(rows[sel], levels[sel], j - 1, k, self.alphas_, u, tkeys, tvals,
                                   none[sel], 1.0, none[sel], 1.0)
            self.alphas_[j] = strength(sel, base)
        group_nodes = np.array(sorted(self.group_ids_.values()), dtype=np.int64)
        is_group = np.isin(nodes, group_nodes)
        is_entity = (nodes > 0) & ~is_group
        if is_group.any():
            sel = is_group
            base = K.row_probs(rows[sel], levels[sel], k, k, self.alphas_, u, tkeys, tvals,
                               none[sel], 1.0, none[sel], 1.0)
            self.beta_group_ = strength(sel, base)
        if is_entity.any():
            sel = is_entity
            ent_groups = np.array([self.entity_group_.get(int(e), -1) for e in nodes[sel]], dtype=np.int64)
            bg = self.beta_group_ if np.isfinite(self.beta_group_) else 1.0
            base = K.row_probs(rows[sel], levels[sel], k, k, self.alphas_, u, tkeys, tvals,
                               ent_groups, bg, none[sel], 1.0)
            self.beta_entity_ = strength(sel, base)

    # ---------------------------------------------------------------- scoring
    def _betas(self) -> tuple[float, float]:
        bg = self.beta_group_ if np.isfinite(self.beta_group_) else 1.0
        be = self.beta_entity_ if np.isfinite(self.beta_entity_) else 1.0
        return bg, be

    def _surprise(self, ragged, groups, ents, tkeys=None, tvals=None, flags: bool = True):
        tkeys = self.table_keys_ if tkeys is None else tkeys
        tvals = self.table_values_ if tvals is None else tvals
        bg, be = self._betas()
        # The top-g flags cost one more lookup per level: skip them when nobody reads them.
        top_g = int(self.top_g) if flags else 0
        return K.surprises(ragged.data, ragged.offsets, groups, ents, int(self.order), self.alphas_,
                           self._uniform(), tkeys, tvals, bg, be, bool(self.end_event), top_g)

    def _anomaly(self, ragged, groups, ents, tkeys=None, tvals=None) -> np.ndarray:
        surprise, flags = self._surprise(ragged, groups, ents, tkeys, tvals, flags=self.aggregate == "topg")
        toff = K.target_offsets(ragged.offsets, bool(self.end_event))
        out = K.aggregate(surprise, flags, toff, AGGREGATES[self.aggregate], int(self.window))
        out[ragged.missing] = np.nan
        return out

    # ---------------------------------------------------------------- fitting
    def _reset(self) -> None:
        self.vocabulary_ = Vocabulary()
        self.group_ids_, self.entity_ids_, self.entity_group_ = {}, {}, {}
        self.n_nodes_ = 1
        self.n_sequences_seen_ = 0
        for name in ("ngram_keys_", "calibration_scores_"):
            self.__dict__.pop(name, None)

    def fit(self, X, y=None, *, entities=None) -> "APICallSequenceModel":
        """Fit on a batch of normal sequences (optionally with one entity key each)."""
        self._validate_params()
        self._reset()
        X = X if isinstance(X, list) else list(X)
        if len(X) == 0:
            raise InvalidParameterError("cannot fit on an empty batch")
        return self._learn(X, entities)

    def partial_fit(self, X, y=None, *, entities=None) -> "APICallSequenceModel":
        """Add a batch of normal sequences.

        Counts add up exactly; strengths are re-learned. The new batch is
        scored by the model *before* it learns from it, and those
        score-then-learn scores join the calibration set (the most recent
        100,000 are kept).
        """
        self._validate_params()
        if not hasattr(self, "ngram_keys_"):
            self._reset()
        return self._learn(X if isinstance(X, list) else list(X), entities)

    def _learn(self, X, entities) -> "APICallSequenceModel":
        first = not hasattr(self, "ngram_keys_")
        n_known = len(self.vocabulary_)
        ragged = self._encode(X, grow=True)
        groups, ents = self._nodes(entities, len(ragged), grow=True)
        usable = ~ragged.missing
        if len(ragged) == 0:
            return self
        if not first:
            # Score with the current model first (new tokens are unknown to it).
            seen = RaggedArray(np.where(ragged.data >= n_known, 0, ragged.data).astype(np.int32),
                               ragged.offsets, ragged.missing, ragged.truncated)
            prequential = self._anomaly(seen, groups, ents)[usable]
        stats = self._count(ragged, groups, ents)
        if not first:
            stats = _merge_stats(self._stats(), stats, int(self.order))
        self._set_stats(stats)
        tkeys, tvals = self._derive_table(stats)
        self._fit_strengths(stats, tkeys, tvals)
        self.table_keys_, self.table_values_ = tkeys, tvals
        self.n_sequences_seen_ += int(usable.sum())
        if first:
            calib = self._cross_fit(ragged, groups, ents, stats)
        else:
            calib = np.r_[self.calibration_scores_, prequential][-_MAX_CALIBRATION:]
        if calib.size == 0:
            calib = np.zeros(1)
        self.calibration_scores_ = calib
        self._fit_threshold(-calib)
        del self._ctx_cache
        return self

    def _cross_fit(self, ragged, groups, ents, stats) -> np.ndarray:
        """Out-of-fold anomaly scores of the usable training items."""
        usable = np.flatnonzero(~ragged.missing)
        n_folds = min(int(self.calibration_folds), usable.size)
        if n_folds < 2:
            return self._anomaly(take_items(ragged, usable), groups[usable], ents[usable])
        rng = np.random.RandomState(self.random_state)
        fold = rng.permutation(usable.size) % n_folds
        out = np.empty(usable.size)
        k = int(self.order)
        for f in range(n_folds):
            idx = usable[fold == f]
            sub = take_items(ragged, idx)
            rest = _subtract_stats(stats, self._count(sub, groups[idx], ents[idx]), k)
            tkeys, tvals = self._derive_table(rest)
            out[fold == f] = self._anomaly(sub, groups[idx], ents[idx], tkeys, tvals)
        return out

    def _stats(self) -> dict:
        return {"keys": self.ngram_keys_, "counts": self.ngram_counts_, "levels": self.ngram_levels_,
                "nodes": self.ngram_nodes_, "rows": self.ngram_rows_}

    def _set_stats(self, stats: dict) -> None:
        self.ngram_keys_, self.ngram_counts_ = stats["keys"], stats["counts"]
        self.ngram_levels_, self.ngram_nodes_, self.ngram_rows_ = stats["levels"], stats["nodes"], stats["rows"]

    # ------------------------------------------------------------ public API
    def _prepare(self, X, entities):
        check_is_fitted(self)
        X = X if isinstance(X, list) else list(X)
        ragged = self._encode(X, grow=False)
        groups, ents = self._nodes(entities, len(ragged), grow=False)
        return ragged, groups, ents

    def score_samples(self, X, *, entities=None) -> np.ndarray:
        """Minus the aggregated surprise: high for normal sequences, ``nan`` for bad items."""
        return -self._anomaly(*self._prepare(X, entities))

    def decision_function(self, X, *, entities=None) -> np.ndarray:
        """``score_samples - offset_``: negative means anomalous."""
        return self.score_samples(X, entities=entities) - self.offset_

    def predict(self, X, *, entities=None) -> np.ndarray:
        """``+1`` for normal sequences, ``-1`` for anomalies (bad items: ``-1``)."""
        return np.where(self.decision_function(X, entities=entities) >= 0, 1, -1)

    def threat_score(self, X, *, entities=None) -> np.ndarray:
        """Tail probability of the sequence's score among out-of-fold training scores."""
        check_is_fitted(self)
        return self.calibrator_.transform(-self.score_samples(X, entities=entities))

    def call_surprise(self, X, *, entities=None) -> list[np.ndarray]:
        """Per-call surprise ``-log p`` (nats) of each sequence.

        With ``end_event=True`` the last value is the surprise of the end.
        Bad items get an empty array.
        """
        ragged, groups, ents = self._prepare(X, entities)
        surprise, _ = self._surprise(ragged, groups, ents)
        toff = K.target_offsets(ragged.offsets, bool(self.end_event))
        return [np.zeros(0) if ragged.missing[i] else surprise[toff[i]:toff[i + 1]].copy()
                for i in range(len(ragged))]

    def explain(self, X, *, top_k: int = 5, entities=None) -> list[Explanation]:
        """The most surprising calls of each sequence, with their context.

        Each contribution is named ``"call <position>"`` (``"end"`` for the end
        event), its value reads ``"[context] -> call"`` and its weight is the
        surprise in nats. Calls outside DeepLog's top-g set are marked in the name.
        """
        X = X if isinstance(X, list) else list(X)
        ragged, groups, ents = self._prepare(X, entities)
        surprise, flags = self._surprise(ragged, groups, ents)
        toff = K.target_offsets(ragged.offsets, bool(self.end_event))
        anomaly = K.aggregate(surprise, flags, toff, AGGREGATES[self.aggregate], int(self.window))
        anomaly[ragged.missing] = np.nan
        scores = self.calibrator_.transform(anomaly)
        k = int(self.order)
        out = []
        for i in range(len(ragged)):
            if ragged.missing[i]:
                out.append(Explanation(i, float(scores[i]), fallback=True, note="not a sequence of tokens"))
                continue
            s = surprise[toff[i]:toff[i + 1]]
            f = flags[toff[i]:toff[i + 1]]
            raw = _as_tokens(X[i])  # show the caller's own tokens, unknown ones included
            top = np.argsort(-s, kind="stable")[:top_k]
            contribs = []
            for t in top:
                t = int(t)
                x = raw[t] if t < ragged.lengths[i] else "<end>"
                ctx = [raw[p] if p >= 0 else "<start>" for p in range(max(t - k, -1), t)]
                name = "end" if t >= ragged.lengths[i] else f"call {t}"
                if f[t]:
                    name += f" (outside top-{int(self.top_g)})"
                contribs.append(Contribution(name, f"{ctx!r} -> {x!r}", float(s[t])))
            out.append(Explanation(i, float(scores[i]), tuple(contribs)))
        return out

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_ctx_cache", None)
        return state

    @classmethod
    def _generic_check_data(cls) -> dict:
        rng = np.random.RandomState(0)
        X = []
        for _ in range(60):
            seq = ["open"] + ["read"] * rng.randint(1, 4) + [["write", "send"][rng.randint(2)]] + ["close"]
            X.append(seq)
        X_test = [["open", "read", "close"], ["open", "exec", "socket", "connect"], [], ["open", 7, 2.5]]
        return {"X": X, "y": None, "X_test": X_test, "params": {"order": 2, "calibration_folds": 3}}


def _concat_stats(parts, k: int) -> dict:
    if not parts:
        return {"keys": np.zeros(0, np.uint64), "counts": np.zeros(0), "levels": np.zeros(0, np.int8),
                "nodes": np.zeros(0, np.int64), "rows": np.zeros((0, k + 1), np.int32)}
    keys = np.concatenate([p[0] for p in parts])
    o = np.argsort(keys, kind="stable")
    return {"keys": keys[o], "counts": np.concatenate([p[1] for p in parts])[o],
            "levels": np.concatenate([p[2] for p in parts])[o],
            "nodes": np.concatenate([p[3] for p in parts]).astype(np.int64)[o],
            "rows": np.concatenate([p[4] for p in parts])[o]}


def _merge_stats(a: dict, b: dict, k: int) -> dict:
    """Sum of two sets of sufficient statistics (exact)."""
    keys = np.concatenate([a["keys"], b["keys"]])
    uk, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    counts = np.bincount(inv, weights=np.concatenate([a["counts"], b["counts"]]), minlength=uk.size)
    pick = {f: np.concatenate([a[f], b[f]])[first] for f in ("levels", "nodes", "rows")}
    return {"keys": uk, "counts": counts, **pick}


def _subtract_stats(a: dict, b: dict, k: int) -> dict:
    """``a - b`` where ``b`` counts a subset of ``a``'s data; empty rows dropped."""
    pos = np.searchsorted(a["keys"], b["keys"])
    counts = a["counts"].copy()
    np.subtract.at(counts, pos, b["counts"])
    keep = counts > 0.5
    return {"keys": a["keys"][keep], "counts": counts[keep], "levels": a["levels"][keep],
            "nodes": a["nodes"][keep], "rows": a["rows"][keep]}
