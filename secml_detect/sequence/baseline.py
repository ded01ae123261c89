"""ProcessBaseline: learned allow-lists of processes and network destinations per container."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..base import BaseDetector, Contribution, Explanation, OutlierDetectorMixin, handle_bad_items
from ..exceptions import InvalidParameterError
from ..hierarchy import fit_concentration, smooth

__all__ = ["ProcessBaseline"]

KINDS = ("process", "network")
_GLOBAL = ""


def parse_event(item) -> tuple[str, str | None, dict, float | None] | None:
    """``(entity, group, {kind: value}, time)`` of one event, or None when malformed."""
    if isinstance(item, Mapping):
        entity = item.get("entity")
        group = item.get("group")
        if entity is None and item.get("deployment") is not None:
            container = item.get("container")
            entity = f"{item['deployment']}/{container}" if container is not None else item["deployment"]
            group = group if group is not None else item["deployment"]
        values = {k: item.get(k) for k in KINDS if item.get(k) is not None}
        when = item.get("time")
    elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
        entity, group, when = item[0], None, None
        values = {"process": item[1]}
        if len(item) == 3 and item[2] is not None:
            values["network"] = item[2]
        values = {k: v for k, v in values.items() if v is not None}
    else:
        return None
    if entity is None or not values:
        return None
    if when is not None:
        try:
            when = float(when)
        except (TypeError, ValueError):
            return None
        if math.isnan(when):
            return None
    return str(entity), (None if group is None else str(group)), {k: str(v) for k, v in values.items()}, when


class ProcessBaseline(OutlierDetectorMixin, BaseDetector):
    """StackRox-style process (and network) baselines per deployment / container.

    Each entity (a container, written ``"deployment/container"``, or any key)
    first **observes**: every process it runs (and, optionally, every network
    destination it talks to) joins its baseline. When its observation period
    is over the baseline is **locked**: anything new is a violation. Users edit
    baselines with :meth:`add`, :meth:`remove`, :meth:`lock` and :meth:`unlock`.

    Unlike a bare allow-list, every event also gets a **calibrated novelty
    score** from hierarchical counts, entity -> group (deployment) -> global::

        p_global(v) = (n(v) + a / V) / (n + a)
        p_group(v)  = (n_g(v) + b_g p_global(v)) / (n_g + b_g)
        p_entity(v) = (n_e(v) + b_e p_group(v)) / (n_e + b_e)

    with the strengths ``b_g``, ``b_e`` learned by
    :func:`secml_detect.hierarchy.fit_concentration`. The anomaly of an event
    is ``-log p_entity(v)`` (the largest over its process and network parts):
    a process new to this container but routine in its sibling containers
    scores lower than one never seen anywhere. ``threat_score`` maps that to
    the share of training events that were less novel, each scored
    leave-one-out (as if seen for the first time when it was).

    Parameters
    ----------
    observation_period : float, default=3600.0
        Seconds after an entity's first event (events carry ``"time"``) after
        which its baseline locks.
    observation_events : int, optional
        Also lock after this many events of the entity (for events without
        times). ``None``: no count limit.
    auto_lock : bool, default=True
        Lock baselines automatically at the end of the observation. With
        ``False`` only :meth:`lock` locks.
    prior_strength : float, optional
        Fixed strength for both levels instead of learned ones.
    contamination : float, default=0.01
        Share of training events that ``predict`` would flag.
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Malformed events (no entity, neither process nor network, not a dict
        or tuple) get ``score_samples = nan`` and ``threat_score = 1.0`` with
        a :class:`~secml_detect.exceptions.BadInputWarning`, or raise.

    Notes
    -----
    An event is a dict with ``"entity"`` (or ``"deployment"`` and
    ``"container"``), optional ``"group"``, ``"process"`` and/or ``"network"``,
    and optional ``"time"`` (seconds), or a tuple ``(entity, process)`` /
    ``(entity, process, network)``. Values are compared as strings.
    ``predict`` is the calibrated rule (``-1`` for the ``contamination`` most
    novel); :meth:`violations` is StackRox's yes/no (locked and not allowed).

    Attributes
    ----------
    counts_ : dict
        ``kind -> node -> value -> count``; nodes are ``"e:<entity>"``,
        ``"g:<group>"`` and ``""`` (global).
    allowed_ : dict
        ``kind -> entity -> set of values`` (the baselines).
    locked_ : set of str
        Locked entities.
    first_seen_, n_events_ : dict
        Per entity: time of its first event, number of events observed.
    group_of_ : dict
        Entity -> group.
    strengths_ : dict
        ``kind -> [a, b_group, b_entity]``.
    calibration_scores_ : ndarray
    offset_ : float
    calibrator_ : TailCalibrator

    Examples
    --------
    >>> events = [{"deployment": "web", "container": "nginx", "process": p, "time": t}
    ...           for t, p in enumerate(["nginx", "nginx", "sh", "nginx"] * 5)]
    >>> base = ProcessBaseline(observation_events=20).fit(events)
    >>> base.locked_
    {'web/nginx'}
    >>> new = [{"deployment": "web", "container": "nginx", "process": p} for p in ["nginx", "nc"]]
    >>> base.violations(new).tolist()
    [False, True]
    >>> s = base.threat_score(new)
    >>> bool(s[1] > s[0])
    True
    """

    fallback_threat_score = 1.0

    def __init__(self, observation_period: float = 3600.0, observation_events: int | None = None,
                 auto_lock: bool = True, prior_strength: float | None = None,
                 contamination: float = 0.01, on_bad_input: str = "fallback") -> None:
        self.observation_period = observation_period
        self.observation_events = observation_events
        self.auto_lock = auto_lock
        self.prior_strength = prior_strength
        self.contamination = contamination
        self.on_bad_input = on_bad_input

    def _validate_params(self) -> None:
        self._check_on_bad_input()
        if not float(self.observation_period) >= 0:
            raise InvalidParameterError(f"observation_period must be >= 0, got {self.observation_period!r}")
        if self.observation_events is not None and not int(self.observation_events) >= 1:
            raise InvalidParameterError(f"observation_events must be >= 1, got {self.observation_events!r}")
        if self.prior_strength is not None and not float(self.prior_strength) > 0:
            raise InvalidParameterError(f"prior_strength must be > 0, got {self.prior_strength!r}")

    def _parse(self, X) -> list:
        X = X if isinstance(X, list) else list(X)
        parsed = [parse_event(item) for item in X]
        bad = [i for i, p in enumerate(parsed) if p is None]
        handle_bad_items(bad, "not an event with an entity and a process or network value",
                         self.on_bad_input, items=X, fallback_desc="threat_score 1.0")
        return parsed

    def _reset(self) -> None:
        self.counts_ = {k: {} for k in KINDS}
        self.allowed_ = {k: {} for k in KINDS}
        self.locked_ = set()
        self.first_seen_, self.n_events_, self.group_of_ = {}, {}, {}
        self.calibration_scores_ = np.zeros(0)

    def fit(self, X, y=None) -> "ProcessBaseline":
        """Observe a batch of events from scratch (in order)."""
        self._validate_params()
        self._reset()
        return self._observe(X, calibrate_loo=True)

    def partial_fit(self, X, y=None) -> "ProcessBaseline":
        """Observe more events; locked entities learn nothing new (their new values are violations)."""
        self._validate_params()
        if not hasattr(self, "counts_"):
            self._reset()
            return self._observe(X, calibrate_loo=True)
        return self._observe(X, calibrate_loo=False)

    def _observe(self, X, calibrate_loo: bool) -> "ProcessBaseline":
        parsed = self._parse(X)
        prequential = []
        if not calibrate_loo and hasattr(self, "strengths_"):
            prequential = [a for a in self._anomalies(parsed) if np.isfinite(a)]
        for p in parsed:
            if p is None:
                continue
            entity, group, values, when = p
            if group is not None:
                self.group_of_[entity] = group
            if entity in self.locked_:
                continue
            if entity not in self.first_seen_:
                self.first_seen_[entity] = when
            elif self.first_seen_[entity] is None and when is not None:
                self.first_seen_[entity] = when
            self.n_events_[entity] = self.n_events_.get(entity, 0) + 1
            for kind, value in values.items():
                self._bump(kind, entity, value, 1)
                self.allowed_[kind].setdefault(entity, set()).add(value)
            if self.auto_lock and self._observation_over(entity, when):
                self.locked_.add(entity)
        self._refit_strengths()
        if calibrate_loo:
            calib = self._loo_anomalies()
        else:
            calib = np.r_[self.calibration_scores_, prequential][-100_000:]
        self.calibration_scores_ = calib if calib.size else np.zeros(1)
        self._fit_threshold(-self.calibration_scores_)
        return self

    def _observation_over(self, entity: str, when) -> bool:
        start = self.first_seen_.get(entity)
        if when is not None and start is not None and when - start >= float(self.observation_period):
            return True
        limit = self.observation_events
        return limit is not None and self.n_events_.get(entity, 0) >= int(limit)

    def _nodes(self, entity: str) -> list[str]:
        group = self.group_of_.get(entity)
        return [_GLOBAL] + ([f"g:{group}"] if group is not None else []) + [f"e:{entity}"]

    def _bump(self, kind: str, entity: str, value: str, delta: int) -> None:
        for node in self._nodes(entity):
            table = self.counts_[kind].setdefault(node, {})
            table[value] = table.get(value, 0) + delta
            if table[value] <= 0:
                del table[value]

    # ---------------------------------------------------------------- model
    def _refit_strengths(self) -> None:
        self.strengths_ = {}
        for kind in KINDS:
            counts = self.counts_[kind]
            glob = counts.get(_GLOBAL, {})
            n_values = len(glob) + 1
            fixed = None if self.prior_strength is None else float(self.prior_strength)
            a = fixed if fixed is not None else 1.0
            total = sum(glob.values())
            p_glob = {v: float(smooth(c, total, 1.0 / n_values, a)) for v, c in glob.items()}
            strengths = [a]
            for prefix in ("g:", "e:"):
                if fixed is not None:
                    strengths.append(fixed)
                    continue
                totals, cells, base = [], [], []
                for node, table in counts.items():
                    if not node.startswith(prefix):
                        continue
                    totals.append(sum(table.values()))
                    entity = node[2:]
                    for v, c in table.items():
                        cells.append(c)
                        if prefix == "g:":
                            base.append(p_glob[v])
                        else:
                            base.append(self._prob(kind, entity, v, strengths + [1.0], upto="group"))
                strengths.append(fit_concentration(totals, cells, base) if totals else 1.0)
            self.strengths_[kind] = strengths

    def _prob(self, kind: str, entity: str, value: str, strengths=None, upto: str = "entity",
              minus: int = 0) -> float:
        a, bg, be = strengths if strengths is not None else self.strengths_[kind]
        counts = self.counts_[kind]
        glob = counts.get(_GLOBAL, {})
        n_values = len(glob) + 1
        p = float(smooth(max(glob.get(value, 0) - minus, 0), sum(glob.values()) - minus, 1.0 / n_values, a))
        group = self.group_of_.get(entity)
        if group is not None:
            table = counts.get(f"g:{group}", {})
            p = float(smooth(max(table.get(value, 0) - minus, 0), max(sum(table.values()) - minus, 0), p, bg))
        if upto == "entity":
            table = counts.get(f"e:{entity}", {})
            c = table.get(value, 0)
            if c == 0 and value in self.allowed_[kind].get(entity, ()):
                c = 1  # a value added by hand counts as seen once
            p = float(smooth(max(c - minus, 0), max(sum(table.values()) - minus, 0), p, be))
        return p

    def _anomalies(self, parsed) -> np.ndarray:
        out = np.full(len(parsed), np.nan)
        for i, p in enumerate(parsed):
            if p is None:
                continue
            entity, _, values, _ = p
            out[i] = max(-math.log(self._prob(kind, entity, v)) for kind, v in values.items())
        return out

    def _loo_anomalies(self) -> np.ndarray:
        """Anomaly of every observed (entity, value) count, each event left out of its own counts."""
        out = []
        for kind in KINDS:
            for node, table in self.counts_[kind].items():
                if not node.startswith("e:"):
                    continue
                for value, c in table.items():
                    out.extend([-math.log(self._prob(kind, node[2:], value, minus=1))] * int(c))
        return np.array(out, dtype=np.float64)

    # ------------------------------------------------------------- scoring
    def score_samples(self, X) -> np.ndarray:
        """Log-probability of each event under its entity's smoothed model (``nan`` if malformed)."""
        check_is_fitted(self)
        return -self._anomalies(self._parse(X))

    def violations(self, X) -> np.ndarray:
        """StackRox's rule: the entity is locked and the event holds a value outside its baseline."""
        check_is_fitted(self)
        out = np.zeros(len(X), dtype=bool)
        for i, p in enumerate(self._parse(X)):
            if p is None:
                out[i] = True
                continue
            entity, _, values, _ = p
            if entity in self.locked_:
                out[i] = any(v not in self.allowed_[k].get(entity, ()) for k, v in values.items())
        return out

    def explain(self, X, *, top_k: int = 5) -> list[Explanation]:
        """Each part of the event (process, network) with its novelty in nats."""
        check_is_fitted(self)
        parsed = self._parse(X)
        scores = self.calibrator_.transform(self._anomalies(parsed))
        out = []
        for i, p in enumerate(parsed):
            if p is None:
                out.append(Explanation(i, float(scores[i]), fallback=True, note="malformed event"))
                continue
            entity, _, values, _ = p
            parts = []
            for kind, v in values.items():
                allowed = v in self.allowed_[kind].get(entity, ())
                state = "in baseline" if allowed else ("violation: not in locked baseline"
                                                       if entity in self.locked_ else "new (observing)")
                parts.append(Contribution(f"{kind} ({state})", v, -math.log(self._prob(kind, entity, v))))
            parts.sort(key=lambda c: -c.weight)
            out.append(Explanation(i, float(scores[i]), tuple(parts[:top_k])))
        return out

    # ---------------------------------------------------------- user edits
    def _edit_check(self, kind: str) -> None:
        check_is_fitted(self)
        if kind not in KINDS:
            raise InvalidParameterError(f"kind must be one of {KINDS}, got {kind!r}")

    def add(self, entity, value, kind: str = "process") -> "ProcessBaseline":
        """Allow ``value`` for ``entity`` (counts as observed once for the novelty score)."""
        self._edit_check(kind)
        self.allowed_[kind].setdefault(str(entity), set()).add(str(value))
        return self

    def remove(self, entity, value, kind: str = "process") -> "ProcessBaseline":
        """Take ``value`` out of ``entity``'s baseline and forget its counts there."""
        self._edit_check(kind)
        entity, value = str(entity), str(value)
        self.allowed_[kind].get(entity, set()).discard(value)
        c = self.counts_[kind].get(f"e:{entity}", {}).get(value, 0)
        if c:
            self._bump(kind, entity, value, -c)
            self._refit_strengths()
        return self

    def lock(self, entity) -> "ProcessBaseline":
        """Lock ``entity``'s baseline now: new values become violations."""
        check_is_fitted(self)
        self.locked_.add(str(entity))
        return self

    def unlock(self, entity) -> "ProcessBaseline":
        """Unlock ``entity``: it observes again (its observation period restarts)."""
        check_is_fitted(self)
        entity = str(entity)
        self.locked_.discard(entity)
        self.first_seen_.pop(entity, None)
        self.n_events_[entity] = 0
        return self

    def baseline(self, entity) -> dict:
        """``{"locked": bool, "process": sorted list, "network": sorted list}`` of ``entity``."""
        check_is_fitted(self)
        entity = str(entity)
        return {"locked": entity in self.locked_,
                **{k: sorted(self.allowed_[k].get(entity, ())) for k in KINDS}}

    @classmethod
    def _generic_check_data(cls) -> dict:
        rng = np.random.RandomState(0)
        procs = ["nginx", "nginx", "nginx", "sh", "logrotate"]
        X = [{"deployment": f"web{d}", "container": "main", "process": procs[rng.randint(5)], "time": float(t)}
             for t in range(40) for d in range(2)]
        X_test = [("web0/main", "nginx"), ("web1/main", "nc"), {"entity": "db/main", "process": "postgres"},
                  {"deployment": "web0", "container": "main", "process": "sh", "network": "10.0.0.9:4444"}]
        return {"X": X, "y": None, "X_test": X_test, "params": {"observation_events": 30}}
