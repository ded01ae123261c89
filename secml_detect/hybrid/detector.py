"""HybridDetector: signature rules and learned models over one event table."""

from __future__ import annotations

import copy
import hashlib
import logging
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier, is_outlier_detector
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ..base import BaseDetector, Contribution, Explanation, handle_bad_items
from ..exceptions import InvalidParameterError
from .alert import Alert, severity_of
from .combiner import blend_weight, combine, combiner_features, unsupervised_model_part
from .events import as_event_list, column_values, event_fingerprint, jsonable_event

__all__ = ["HybridDetector"]

logger = logging.getLogger(__name__)

VERDICTS = ("malicious", "benign")

#: Event columns whose values become indicators when an alert is confirmed.
DEFAULT_PROMOTE_COLUMNS = {
    "ip": ("dst_ip", "src_ip_malicious"),
    "domain": ("domain",),
    "url": ("url",),
    "hash": ("file_hash", "md5", "sha1", "sha256"),
    "process": ("process",),
}
#: Columns that link events in :meth:`HybridDetector.trace`.
TRACE_COLUMNS = ("src_ip", "dst_ip", "domain", "url", "file_hash", "process", "service", "user", "host")


def _storable(row: dict) -> dict:
    # Keep raw values the components need (bytes, token lists); anything else as text.
    out = {}
    for key, value in row.items():
        if isinstance(value, (str, bytes, int, float, bool)):
            out[key] = value
        elif isinstance(value, (list, tuple)):
            out[key] = [v if isinstance(v, (str, int, float, bool, bytes)) else str(v) for v in value]
        else:
            out[key] = str(value)
    return out


def _slash24(value: Any) -> str | None:
    parts = str(value).split(".")
    if len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts):
        return ".".join(parts[:3]) + ".0/24"
    return None


class HybridDetector(BaseDetector):
    """Rules and models together: ranked, explained alerts that learn from analysts.

    The detector reads an **event table** (a pandas DataFrame or a list of
    mappings; one row an event, with columns such as ``url``, ``dst_ip``,
    ``payload``, ``file``, ``calls``, ``service``). A routing spec says which
    model reads which column, like scikit-learn's ``ColumnTransformer``; the
    signature matcher sees whole events. Missing columns and values are normal:
    a component simply does not vote on an event that lacks its column.

    Parameters
    ----------
    components : list of (name, detector, column)
        Model components. Each detector follows the secml_detect contract
        (``threat_score``); ``fit`` fits a copy of each on its column
        (outlier models on events labelled 0, or on all events without
        labels; classifiers on labelled events). A classifier without labels
        of both classes waits (``pending_``) and is first fitted on analyst
        verdicts once both classes have been seen: the active-learning start
        of AI^2, where an unsupervised ranking bootstraps a supervised model.
    signatures : SignatureMatcher, optional
        Rules applied to whole events. A copy is used (fitted first unless it
        already is) and extended by :meth:`promote`. Without one,
        :meth:`promote` starts an empty matcher.
    refit_components : bool, default=True
        False uses already-fitted components as they are (for example the
        shipped ``FileTypeDetector``).
    alert_threshold : float, default=0.5
        :meth:`alerts` reports events at or above this score.
    model_fpr : float, default=0.01
        Per-component false-positive rate on normal traffic at which an
        outlier model alone scores ``0.5`` in the unsupervised combination.
    model_cap : float, default=0.8
        Highest score a model alone can give, below the "high" rule severity
        (0.85): a model finding never outranks a high or critical rule hit,
        and models rank everything else.
    label_prior : float, default=20.0
        Pseudo-count of the unsupervised combination when blending in the
        combiner learned from labels: with ``n`` labels the learned part has
        weight ``n / (n + label_prior)``.
    suppression : float, default=0.1
        Factor applied to the score of an event an analyst dismissed.
    cidr_min_confirmations : int, default=2
        Confirmed-malicious addresses in one /24 before :meth:`promote` adds
        the whole /24.
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Rows that are not mappings get ``threat_score = 1.0`` (an unreadable
        event is surfaced, not hidden) with a ``BadInputWarning``, or raise.
    random_state : int or None, default=None
        Seed of the learned combiner.

    Attributes
    ----------
    components_ : dict of name -> fitted detector
    columns_ : dict of name -> column
    signatures_ : fitted signature matcher or None
    feedback_ : list of dict
        Analyst verdicts with the alert id, event, note, analyst and time.
    promoted_ : list of dict
        Indicators promoted to signatures, with provenance.
    alert_log_ : dict
        Alert id -> event, for the alerts reported so far (bounded).
    pending_ : set of str
        Classifier components still waiting for labels of both classes.
    feedback_labels_ : dict
        Analyst-labelled values collected for pending classifiers.
    background_ : list of dict
        A uniform reservoir of the events seen by :meth:`alerts` that no rule
        fired on, used as presumed-benign examples for classifiers trained on
        verdicts only and for the learned combiner.
    labelled_scores_, labelled_y_ : ndarray
        What the learned combiner is fitted on: component scores of labelled
        events (taken before feedback taught the components those events)
        and their labels.
    labelled_presumed_ : ndarray of bool
        Which of them are presumed-benign reservoir events, not verdicts.

    Examples
    --------
    >>> from secml_detect import ByteFrequencyModel
    >>> normal = [{"payload": f"id={i}&q=shoes"} for i in range(100)]
    >>> hd = HybridDetector([("payload", ByteFrequencyModel(), "payload")]).fit(normal)
    >>> events = [{"payload": "id=7&q=shoes"}, {"payload": "id=1' OR 1=1--"}, {"dst_ip": "10.0.0.1"}]
    >>> [a.index for a in hd.alerts(events)]
    [1]
    """

    fallback_threat_score = 1.0
    MAX_ALERT_LOG = 100_000
    #: Events kept as presumed-benign background for classifiers trained on verdicts.
    BACKGROUND_SIZE = 2_000
    #: Presumed-benign background events added per analyst label.
    BACKGROUND_RATIO = 1
    #: Labelled events of each class a component needs before the learned combiner weighs it.
    MIN_LABELS_PER_CLASS = 20
    #: Labels below which a classifier trained on verdicts is refitted on all of them each round.
    REFIT_LIMIT = 5_000

    def __init__(
        self,
        components: Sequence[tuple[str, Any, str]] = (),
        signatures: Any = None,
        *,
        refit_components: bool = True,
        alert_threshold: float = 0.5,
        model_fpr: float = 0.01,
        model_cap: float = 0.8,
        label_prior: float = 20.0,
        suppression: float = 0.1,
        cidr_min_confirmations: int = 2,
        on_bad_input: str = "fallback",
        random_state: int | None = None,
    ) -> None:
        self.components = components
        self.signatures = signatures
        self.refit_components = refit_components
        self.alert_threshold = alert_threshold
        self.model_fpr = model_fpr
        self.model_cap = model_cap
        self.label_prior = label_prior
        self.suppression = suppression
        self.cidr_min_confirmations = cidr_min_confirmations
        self.on_bad_input = on_bad_input
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def _validate(self) -> None:
        self._check_on_bad_input()
        names = [c[0] for c in self.components]
        if len(set(names)) != len(names):
            raise InvalidParameterError(f"component names must be unique, got {names}")
        for spec in self.components:
            if len(spec) != 3 or not hasattr(spec[1], "threat_score"):
                raise InvalidParameterError(f"components must be (name, detector with threat_score, column), got {spec!r}")
        for name in ("alert_threshold", "model_cap", "suppression"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise InvalidParameterError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not 0.0 < float(self.model_fpr) < 0.5 or not 0.5 < float(self.model_cap) <= 1.0:
            raise InvalidParameterError("model_fpr must be in (0, 0.5) and model_cap in (0.5, 1]")

    def _rows(self, events) -> list[dict]:
        rows, bad = as_event_list(events)
        handle_bad_items(bad, "event is not a mapping", self.on_bad_input,
                         items=None, fallback_desc="threat_score 1.0")
        self._last_bad = bad
        return rows

    def fit(self, X, y=None) -> "HybridDetector":
        """Fit every component on its column, the rules' indexes and the combiner.

        Parameters
        ----------
        X : DataFrame or list of mappings
            The event table.
        y : array of {0, 1, nan}, optional
            Labels where known (1 = malicious). Outlier components train on
            events labelled 0 (all events when ``y`` is None); classifier
            components train on labelled events; the combiner learns from the
            labelled events when both classes are present.
        """
        self._validate()
        rows = self._rows(X)
        labels = None if y is None else np.asarray(y, dtype=np.float64)
        if labels is not None and len(labels) != len(rows):
            raise InvalidParameterError(f"y has {len(labels)} labels for {len(rows)} events")
        self.components_, self.columns_ = {}, {}
        self.pending_, self.feedback_labels_, self.verdict_trained_ = set(), {}, set()
        for name, detector, column in self.components:
            est = copy.deepcopy(detector) if not self.refit_components else clone(detector)
            self.columns_[name] = column
            if self.refit_components:
                self._fit_component(name, est, column, rows, labels)
            self.components_[name] = est
        self.signatures_ = None
        if self.signatures is not None:
            # A matcher that is already fitted (rules added at run time) is used as it is.
            matcher = copy.deepcopy(self.signatures)
            self.signatures_ = matcher if hasattr(matcher, "rules_") else matcher.fit(rows)
        self.feedback_, self.promoted_, self.alert_log_ = [], [], {}
        self.background_, self.n_seen_ = [], 0
        self.suppressed_ = set()
        self.labelled_scores_ = np.zeros((0, len(self.components_)))
        self.labelled_y_ = np.zeros(0)
        self.labelled_presumed_ = np.zeros(0, dtype=bool)
        self.combiner_ = None
        self.supervised_ = np.zeros(len(self.components_), dtype=bool)
        if labels is not None:
            known = ~np.isnan(labels)
            scores, _, _ = self._component_scores([rows[i] for i in np.flatnonzero(known)], rules=False)
            self.labelled_scores_ = scores
            self.labelled_y_ = labels[known]
            self.labelled_presumed_ = np.zeros(len(self.labelled_y_), dtype=bool)
            self._refit_combiner()
        return self

    def _fit_component(self, name, est, column, rows, labels) -> None:
        idx, values = column_values(rows, column)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bad items in training data are the component's business
            if is_classifier(est):
                keep = [] if labels is None else [k for k, i in enumerate(idx) if not np.isnan(labels[i])]
                y = labels[[idx[k] for k in keep]].astype(int) if keep else np.zeros(0, dtype=int)
                if len(np.unique(y)) < 2:
                    # No labels of both classes yet: the classifier waits for analyst feedback.
                    self.pending_.add(name)
                    logger.info("component %s waits for labels of both classes", name)
                    return
                est.fit([values[k] for k in keep], y)
            else:
                if labels is not None:
                    keep = [k for k, i in enumerate(idx) if labels[i] == 0]
                    values = [values[k] for k in keep]
                if not values:
                    raise InvalidParameterError(f"no events with column {column!r} to fit component {name!r}")
                est.fit(values)
        logger.info("fitted component %s on %d events in %.2fs", name, len(values), time.perf_counter() - start)

    # -------------------------------------------------------------- scoring
    def _component_scores(self, rows: list[dict], rules: bool = True):
        n = len(rows)
        scores = np.full((n, len(self.components_)), np.nan)
        for j, (name, est) in enumerate(self.components_.items()):
            idx, values = column_values(rows, self.columns_[name])
            if idx and name not in self.pending_:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scores[idx, j] = est.threat_score(values)
        hits: list[list] = [[] for _ in range(n)]
        rule_scores = np.zeros(n)
        if rules and self.signatures_ is not None and n:
            hits = self.signatures_.match(rows)
            rule_scores = np.asarray(self.signatures_.threat_score(rows), dtype=np.float64)
        return scores, rule_scores, hits

    def _combine(self, rows, scores, rule_scores) -> np.ndarray:
        is_outlier = np.array([is_outlier_detector(est) for est in self.components_.values()], dtype=bool)
        sup = self.supervised_
        model_part = unsupervised_model_part(scores[:, ~sup], is_outlier[~sup], self.model_cap, self.model_fpr)
        if self.combiner_ is not None:
            # Components with labels of both classes are combined by the learned model,
            # blended with their unsupervised evidence while labels are few.
            w = blend_weight(self.n_combiner_labels_, self.label_prior)
            sub = scores[:, sup]
            unsup = unsupervised_model_part(sub, is_outlier[sup], self.model_cap, self.model_fpr)
            learned = self.combiner_.predict_proba(combiner_features(sub))[:, 1]
            learned = np.where((~np.isnan(sub)).any(axis=1), learned, 0.0)
            model_part = np.maximum(model_part, (1 - w) * unsup + w * learned)
        final = combine(model_part, rule_scores, self.model_cap)
        if self.suppressed_:
            dismissed = np.array([event_fingerprint(r) in self.suppressed_ for r in rows], dtype=bool)
            final = np.where(dismissed, final * self.suppression, final)
        return np.clip(final, 0.0, 1.0)

    def threat_score(self, events) -> np.ndarray:
        """Combined score of each event in ``[0, 1]`` (1.0 for rows that are not mappings)."""
        check_is_fitted(self, "components_")
        rows = self._rows(events)
        scores, rule_scores, _ = self._component_scores(rows)
        final = self._combine(rows, scores, rule_scores)
        final[self._last_bad] = self.fallback_threat_score
        return final

    def predict(self, X) -> np.ndarray:
        """1 for events of the table ``X`` at or above ``alert_threshold``, else 0."""
        return (self.threat_score(X) >= self.alert_threshold).astype(int)

    def alerts(self, events, *, threshold: float | None = None, top: int | None = None,
               explain: bool = True) -> list[Alert]:
        """Ranked alerts for the events at or above ``threshold``.

        Parameters
        ----------
        events : DataFrame or list of mappings
        threshold : float, optional
            Defaults to ``alert_threshold``.
        top : int, optional
            Keep only the ``top`` highest-ranked alerts.
        explain : bool, default=True
            Ask each contributing component why (slower).

        Returns
        -------
        list of Alert, highest score first (ties keep table order).
        """
        check_is_fitted(self, "components_")
        rows = self._rows(events)
        scores, rule_scores, hits = self._component_scores(rows)
        # Events a rule fired on are known threats, not presumed-benign background.
        self._sample_background([row for row, r in zip(rows, rule_scores) if r <= 0])
        final = self._combine(rows, scores, rule_scores)
        final[self._last_bad] = self.fallback_threat_score
        cut = self.alert_threshold if threshold is None else threshold
        order = [i for i in np.argsort(-final, kind="stable") if final[i] >= cut]
        if top is not None:
            order = order[:top]
        explanations = self._explanations(rows, order) if explain else {}
        names = list(self.components_)
        out = []
        for i in order:
            fingerprint = event_fingerprint(rows[i])
            alert_id = f"A-{fingerprint}"
            contributions = {names[j]: float(scores[i, j]) for j in range(len(names)) if not np.isnan(scores[i, j])}
            if rule_scores[i] > 0:
                contributions["rules"] = float(rule_scores[i])
            hit_dicts = tuple(h.to_dict() if hasattr(h, "to_dict") else dict(h) for h in hits[i])
            out.append(Alert(
                alert_id=alert_id, index=int(i), threat_score=float(final[i]), severity=severity_of(final[i]),
                rules=tuple(dict.fromkeys(h["rule_id"] for h in hit_dicts)), hits=hit_dicts,
                contributions=contributions, explanations=explanations.get(i, {}),
                event=jsonable_event(rows[i]), suppressed=fingerprint in self.suppressed_,
            ))
            self._log_alert(alert_id, rows[i])
        return out

    def _sample_background(self, rows: list[dict]) -> None:
        """Keep a uniform reservoir of the events seen by :meth:`alerts` (Algorithm R).

        A classifier that learns only from analyst verdicts sees the top of the
        queue, which makes its probabilities too high on ordinary traffic; a
        few reservoir events serve as presumed-benign examples (malicious
        events are rare in traffic as a whole). The caller leaves out events
        a rule fired on.
        """
        if not self.pending_ and not any(is_classifier(e) for e in self.components_.values()):
            return
        rng = np.random.RandomState((self.n_seen_ + (self.random_state or 0)) % 2**32)
        for row in rows:
            self.n_seen_ += 1
            if len(self.background_) < self.BACKGROUND_SIZE:
                self.background_.append(_storable(row))
            else:
                k = rng.randint(self.n_seen_)
                if k < self.BACKGROUND_SIZE:
                    self.background_[k] = _storable(row)

    def _background_rows(self, n_labels: int, seed: int) -> list[dict]:
        """``BACKGROUND_RATIO`` presumed-benign reservoir events per label, when a classifier learns from verdicts."""
        n = self.BACKGROUND_RATIO * n_labels
        if n <= 0 or not self.background_ or not any(self._learns_from_verdicts(c) for c in self.components_):
            return []
        pick = np.random.RandomState(seed % 2**32).choice(len(self.background_), size=min(n, len(self.background_)),
                                                          replace=False)
        return [self.background_[i] for i in pick]

    def _log_alert(self, alert_id: str, row: dict) -> None:
        if len(self.alert_log_) >= self.MAX_ALERT_LOG:
            self.alert_log_.pop(next(iter(self.alert_log_)))
        self.alert_log_[alert_id] = _storable(row)

    def _explanations(self, rows, order) -> dict[int, dict]:
        out: dict[int, dict] = {i: {} for i in order}
        for name, est in self.components_.items():
            column = self.columns_[name]
            present = [i for i in order if column in rows[i]] if name not in self.pending_ else []
            if not present:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exps = est.explain([rows[i][column] for i in present], top_k=3)
            for i, exp in zip(present, exps):
                out[i][name] = [{"name": c.name, "value": str(c.value), "weight": c.weight} for c in exp.contributions]
        return out

    def explain(self, events, *, top_k: int = 5) -> list[Explanation]:
        """Per event: the rules that fired and each component's score."""
        check_is_fitted(self, "components_")
        rows = self._rows(events)
        scores, rule_scores, hits = self._component_scores(rows)
        final = self._combine(rows, scores, rule_scores)
        final[self._last_bad] = self.fallback_threat_score
        names = list(self.components_)
        out = []
        for i in range(len(rows)):
            contrib = [Contribution(names[j], self.columns_[names[j]], float(scores[i, j]))
                       for j in np.argsort(-np.nan_to_num(scores[i], nan=-1.0), kind="stable")[:top_k]
                       if not np.isnan(scores[i, j])]
            rules = tuple(dict.fromkeys(getattr(h, "rule_id", None) or h["rule_id"] for h in hits[i]))
            out.append(Explanation(i, float(final[i]), tuple(contrib), rules,
                                   fallback=i in self._last_bad,
                                   note="event is not a mapping" if i in self._last_bad else ""))
        return out

    # ------------------------------------------------------------- feedback
    def feedback(self, alert_ids: Sequence[str], verdicts: Sequence[str], *, events=None,
                 notes: Sequence[str] | None = None, analyst: str = "analyst") -> "HybridDetector":
        """Record analyst verdicts and adapt.

        Parameters
        ----------
        alert_ids : list of str
            Ids of alerts returned by :meth:`alerts` (or of events in ``events``).
        verdicts : list of {"malicious", "benign"}
        events : DataFrame or list of mappings, optional
            Where to find events whose alerts were not reported by this
            instance (for example after loading it from a file).
        notes : list of str, optional
        analyst : str

        What changes:

        * the verdicts are stored with the alert (``feedback_``);
        * a benign verdict suppresses that very event (score times
          ``suppression``) and teaches the outlier components that support
          ``partial_fit`` that its values are normal; classifier components
          get it as a negative;
        * a malicious verdict is a positive for classifier components that
          support ``partial_fit`` (outlier profiles are left alone);
        * a classifier that learns from verdicts only (it had no labels of
          both classes at ``fit``) also gets ``BACKGROUND_RATIO``
          presumed-benign reservoir events per label, and is refitted on all
          of them while they number fewer than ``REFIT_LIMIT``;
        * the learned combiner is refitted on all labelled events (and the
          presumed-benign ones), from the scores the components gave them
          before this update: out-of-sample, hence calibrated.
        """
        check_is_fitted(self, "components_")
        if len(alert_ids) != len(verdicts):
            raise InvalidParameterError("alert_ids and verdicts must have the same length")
        lookup = dict(self.alert_log_)
        if events is not None:
            for row in as_event_list(events)[0]:
                lookup.setdefault(f"A-{event_fingerprint(row)}", _storable(row))
        rows, labels = [], []
        for k, (alert_id, verdict) in enumerate(zip(alert_ids, verdicts)):
            if verdict not in VERDICTS:
                raise InvalidParameterError(f"verdict {k} must be one of {VERDICTS}, got {verdict!r}")
            if alert_id not in lookup:
                raise InvalidParameterError(f"unknown alert id {alert_id!r} (pass events=... to look it up)")
            row = lookup[alert_id]
            rows.append(row)
            labels.append(1.0 if verdict == "malicious" else 0.0)
            self.feedback_.append({
                "alert_id": alert_id, "verdict": verdict, "analyst": analyst,
                "note": "" if notes is None else str(notes[k]),
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": row,
            })
            fingerprint = alert_id[2:]
            if verdict == "benign":
                self.suppressed_.add(fingerprint)
            else:
                self.suppressed_.discard(fingerprint)
        labels_arr = np.array(labels)
        # Presumed-benign reservoir events join the verdicts as negatives (see _background_rows).
        background = self._background_rows(len(rows), len(self.feedback_))
        batch = rows + background
        # Scores taken *before* the components learn this batch are out-of-sample: the combiner
        # learns calibrated weights from them, not from scores of events a classifier just memorised.
        scores, _, _ = self._component_scores(batch, rules=False)
        self._update_components(rows, labels_arr, background)
        self.labelled_scores_ = np.vstack([self.labelled_scores_, scores])
        self.labelled_y_ = np.r_[self.labelled_y_, labels_arr, np.zeros(len(background))]
        # getattr: detectors saved before presumed-benign events were marked have none.
        presumed = getattr(self, "labelled_presumed_", np.zeros(len(self.labelled_y_) - len(batch), dtype=bool))
        self.labelled_presumed_ = np.r_[presumed, np.zeros(len(rows), dtype=bool),
                                        np.ones(len(background), dtype=bool)]
        self._refit_combiner()
        return self

    def _update_components(self, rows: list[dict], labels: np.ndarray, background: list[dict] = ()) -> None:
        for name, est in self.components_.items():
            idx, values = column_values(rows, self.columns_[name])
            if not idx:
                continue
            y = labels[idx]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if is_classifier(est):
                    extra = column_values(list(background), self.columns_[name])[1] if self._learns_from_verdicts(name) else []
                    self._teach_classifier(name, est, list(values) + extra,
                                           np.r_[y.astype(int), np.zeros(len(extra), dtype=int)])
                elif is_outlier_detector(est) and hasattr(est, "partial_fit"):
                    normal = [v for v, label in zip(values, y) if label == 0]
                    if normal:
                        est.partial_fit(normal)

    def _learns_from_verdicts(self, name: str) -> bool:
        return name in self.pending_ or name in self.verdict_trained_

    def _teach_classifier(self, name: str, est, values: list, y: np.ndarray) -> None:
        """Analyst labels for a classifier: first fit once both classes are seen, then updates.

        A classifier that learns only from verdicts is refitted on all of
        them (with the presumed-benign events that came with them) while
        they number fewer than ``REFIT_LIMIT``, and updated by
        ``partial_fit`` after that. While labels are few the refit is cheap,
        and it keeps class weights in step with the labels: weights fixed by
        a first batch of one confirmed alert among many negatives would keep
        pushing ordinary events up round after round.
        """
        if name in self.pending_ or name in self.feedback_labels_:
            seen_values, seen_y = self.feedback_labels_.setdefault(name, ([], []))
            seen_values.extend(values)
            seen_y.extend(int(v) for v in y)
            if len(set(seen_y)) < 2:
                return
            if len(seen_y) < self.REFIT_LIMIT or not hasattr(est, "partial_fit"):
                est.fit(list(seen_values), np.array(seen_y))
            else:
                est.partial_fit(list(values), y)
                del self.feedback_labels_[name]  # from now on updated online only
            self.pending_.discard(name)
            self.verdict_trained_.add(name)
        elif hasattr(est, "partial_fit"):
            est.partial_fit(list(values), y)

    def _refit_combiner(self) -> None:
        """Learn how to combine the components that have labels of both classes."""
        y = self.labelled_y_
        present = ~np.isnan(self.labelled_scores_)
        # A component joins the learned combination once it has enough labels of each class;
        # a handful of confirmed alerts would otherwise re-weight it on anecdotes.
        # Presumed-benign reservoir events count as negatives: they stand for ordinary traffic.
        counts = [np.bincount(y[present[:, j]].astype(int), minlength=2) for j in range(present.shape[1])]
        self.supervised_ = np.array([c.min() >= self.MIN_LABELS_PER_CLASS for c in counts], dtype=bool)
        rows = present[:, self.supervised_].any(axis=1)
        self.n_combiner_labels_ = int(rows.sum())
        if not self.supervised_.any() or len(np.unique(y[rows])) < 2:
            self.combiner_ = None
            self.supervised_[:] = False
            return
        # No class re-weighting: the learned probability keeps the labelled base rate, not 50/50.
        self.combiner_ = LogisticRegression(random_state=self.random_state)
        self.combiner_.fit(combiner_features(self.labelled_scores_[rows][:, self.supervised_]), y[rows].astype(int))

    # ------------------------------------------------------------ promotion
    def promote(self, *, columns: dict | None = None) -> list[dict]:
        """Turn confirmed-malicious alerts into signatures in ``signatures_``.

        Each confirmed alert's indicator values (by default: ``dst_ip``,
        ``domain``, ``url``, file hashes, ``process``; a ``file`` given as
        bytes contributes its SHA-256) become indicators with provenance
        (alert id, verdict, analyst, note, time). When at least
        ``cidr_min_confirmations`` confirmed addresses share a /24, the /24 is
        added as a CIDR indicator. Already promoted alerts are skipped.

        Returns
        -------
        list of dict
            The new indicators: ``rule_id``, ``kind``, ``value``, ``provenance``.
        """
        check_is_fitted(self, "components_")
        if self.signatures_ is None:
            from ..signatures import SignatureMatcher

            self.signatures_ = SignatureMatcher().fit()
        columns = DEFAULT_PROMOTE_COLUMNS if columns is None else columns
        done = {p["provenance"]["alert_id"] for p in self.promoted_}
        known = {(p["kind"], p["value"]) for p in self.promoted_}
        new: list[dict] = []

        def add(kind: str, value: str, provenance: dict) -> None:
            if (kind, value) in known:
                return
            known.add((kind, value))
            rule_id = self.signatures_.add_indicators(
                "ip" if kind == "cidr" else kind, [value], title=f"promoted from alert {provenance['alert_id']}",
                severity="high", tags=("promoted",), provenance=provenance)
            record = {"rule_id": rule_id, "kind": kind, "value": value, "provenance": provenance}
            new.append(record)
            self.promoted_.append(record)

        confirmed = [f for f in self.feedback_ if f["verdict"] == "malicious"]
        for fb in confirmed:
            if fb["alert_id"] in done:
                continue
            provenance = {k: fb[k] for k in ("alert_id", "verdict", "analyst", "note", "time")}
            event = fb["event"]
            for kind, cols in columns.items():
                for col in cols:
                    if col in event and isinstance(event[col], (str, int)):
                        add(kind, str(event[col]), provenance)
            if isinstance(event.get("file"), bytes):
                add("hash", hashlib.sha256(event["file"]).hexdigest(), provenance)
        by_net: dict[str, list[dict]] = {}
        for fb in confirmed:
            net = _slash24(fb["event"].get("dst_ip", ""))
            if net:
                by_net.setdefault(net, []).append(fb)
        for net, fbs in by_net.items():
            if len({fb["event"]["dst_ip"] for fb in fbs}) >= self.cidr_min_confirmations:
                provenance = {"alert_id": fbs[-1]["alert_id"], "verdict": "malicious",
                              "analyst": fbs[-1]["analyst"], "note": f"{len(fbs)} confirmed alerts in {net}",
                              "time": fbs[-1]["time"], "alert_ids": [fb["alert_id"] for fb in fbs]}
                add("cidr", net, provenance)
        return new

    def set_signatures(self, signatures: Any, *, keep_promoted: bool = True) -> "HybridDetector":
        """Swap in an updated signature set (for example today's feed) without refitting models.

        Parameters
        ----------
        signatures : SignatureMatcher
            Used as given (fitted here if needed).
        keep_promoted : bool, default=True
            Add the indicators promoted from analyst verdicts so far to the new
            set, so a feed update does not forget what analysts confirmed.
        """
        check_is_fitted(self, "components_")
        matcher = signatures if hasattr(signatures, "rules_") else signatures.fit()
        if keep_promoted:
            for record in self.promoted_:
                kind = "ip" if record["kind"] == "cidr" else record["kind"]
                matcher.add_indicators(kind, [record["value"]], title=f"promoted from alert {record['provenance']['alert_id']}",
                                       severity="high", tags=("promoted",), provenance=record["provenance"])
        self.signatures_ = matcher
        return self

    def export_signatures(self, format: str = "stix") -> Any:
        """The live signatures for sharing: ``"stix"`` (STIX 2.1 dicts) or ``"ioc"`` (lists per kind)."""
        check_is_fitted(self, "components_")
        if self.signatures_ is None:
            return [] if format == "stix" else {}
        if format == "stix":
            return self.signatures_.to_stix()
        if format == "ioc":
            return self.signatures_.to_ioc_lists()
        raise InvalidParameterError(f"format must be 'stix' or 'ioc', got {format!r}")

    # ---------------------------------------------------------------- trace
    def trace(self, alert_id: str, events, *, time_column: str = "timestamp",
              max_results: int = 50) -> list[dict]:
        """Breadcrumbs: the earlier events linked to an alert, oldest first.

        Events are linked when they share an indicator value (IP, domain,
        URL, hash, process, service, user, host), a destination IPv4 /24, or a similar
        call sequence (Jaccard similarity of call bigrams >= 0.5). "Earlier"
        uses ``time_column`` when both events have it, else table order.

        Returns
        -------
        list of dict
            ``index``, ``event``, ``links`` (the shared things), oldest first.
        """
        check_is_fitted(self, "components_")
        rows = as_event_list(events)[0]
        fingerprints = [event_fingerprint(r) for r in rows]
        target_fp = alert_id[2:] if alert_id.startswith("A-") else alert_id
        if target_fp in fingerprints:
            t_index = fingerprints.index(target_fp)
            target = rows[t_index]
        elif alert_id in self.alert_log_:
            t_index, target = len(rows), self.alert_log_[alert_id]
        else:
            raise InvalidParameterError(f"alert {alert_id!r} is neither in events nor in the alert log")
        target_values = {(c, str(target[c])) for c in TRACE_COLUMNS if c in target}
        # Only destinations: sources in one internal /24 are linked by topology, not by the attack.
        target_nets = {_slash24(target["dst_ip"])} - {None} if "dst_ip" in target else set()
        target_calls = _bigrams(target.get("calls"))
        t_time = target.get(time_column)
        found = []
        for i, row in enumerate(rows):
            if i == t_index or fingerprints[i] == target_fp:
                continue
            r_time = row.get(time_column)
            earlier = (str(r_time) < str(t_time)) if (r_time is not None and t_time is not None) else i < t_index
            if not earlier:
                continue
            links = [f"{c}={v}" for c, v in sorted(target_values) if c in row and str(row[c]) == v]
            nets = {_slash24(row["dst_ip"])} - {None} if "dst_ip" in row else set()
            links += [f"same /24 {n}" for n in sorted(nets & target_nets) if not any(n[:-5] in link for link in links)]
            calls = _bigrams(row.get("calls"))
            if target_calls and calls:
                jaccard = len(target_calls & calls) / len(target_calls | calls)
                if jaccard >= 0.5:
                    links.append(f"similar calls (Jaccard {jaccard:.2f})")
            if links:
                found.append({"index": i, "event": jsonable_event(row), "links": links,
                              "time": None if r_time is None else str(r_time)})
        found.sort(key=lambda f: (f["time"] is None, f["time"] or "", f["index"]))
        return found[-max_results:] if len(found) > max_results else found

    @classmethod
    def _generic_check_data(cls) -> dict:
        from ..payl import ByteFrequencyModel

        rng = np.random.RandomState(0)
        X = [{"payload": f"id={rng.randint(1000)}&q=shoes{rng.randint(9)}", "service": "shop"} for _ in range(60)]
        X_test = [{"payload": "id=12&q=shoes3"}, {"payload": "id=<script>alert(1)</script>"}, {"dst_ip": "1.2.3.4"}, {}]
        return {"X": X, "y": None, "X_test": X_test,
                "params": {"components": [("payload", ByteFrequencyModel(), "payload")], "random_state": 0}}


def _bigrams(calls: Any) -> set:
    if not isinstance(calls, (list, tuple)) or len(calls) < 2:
        return set()
    return {(str(a), str(b)) for a, b in zip(calls[:-1], calls[1:])}
