"""Replay dated events to measure detection efficacy over time (the seed's Figure 1).

Each simulated day compares four strategies on the same events:

1. **rules only**: indicators from the malicious events known at the last
   signature update (updates every ``update_every`` days, published
   ``update_delay`` days late);
2. **models only**: the model components fitted on the history;
3. **hybrid**: rules (as in 1) and models together;
4. **hybrid + feedback**: as 3, and each day a simulated analyst labels the
   top ``analyst_k`` alerts that no rule fired on (rule hits are known
   threats; analyst time goes to what only the models surfaced); verdicts go through
   :meth:`HybridDetector.feedback` and confirmed findings are promoted to
   signatures at once (:meth:`HybridDetector.promote`).

Efficacy of a day = share of that day's malicious events ranked above the
point where the false alerts exceed ``alert_budget`` (only events with a
positive score are alerts). AI^2's comparison, at the analyst's budget, is
also kept: the true and false alerts among the day's top ``analyst_k`` of
the events that the shared feed does not flag (``detected_in_top``,
``false_in_top``; feed hits are the same for every strategy). So are the
counts at the fixed alert threshold over all events
(``detected_at_threshold``, ``false_at_threshold``).

Each day's events are shuffled (seeded) before scoring: ties keep table
order, and a day listed attacks first would credit every tie to the detector.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .detector import HybridDetector

__all__ = ["ReplayDay", "ReplayResult", "efficacy_at_budget", "top_k_outcome", "replay_efficacy", "plot_efficacy"]

STRATEGIES = ("rules only", "models only", "hybrid", "hybrid + feedback")


@dataclass
class ReplayDay:
    """One simulated day: a label (date), its events and their ground truth (1 = malicious)."""

    label: str
    events: list[dict]
    y: np.ndarray


@dataclass
class ReplayResult:
    days: list[str]
    efficacy: dict[str, np.ndarray]
    false_alerts: dict[str, np.ndarray]
    detected_at_threshold: dict[str, np.ndarray] = field(default_factory=dict)
    false_at_threshold: dict[str, np.ndarray] = field(default_factory=dict)
    detected_in_top: dict[str, np.ndarray] = field(default_factory=dict)
    false_in_top: dict[str, np.ndarray] = field(default_factory=dict)
    promoted: int = 0
    feedback_labels: int = 0
    settings: dict = field(default_factory=dict)

    def area_between(self, upper: str, lower: str) -> float:
        """Mean daily efficacy gap (``upper`` minus ``lower``) times the number of days."""
        return float(np.sum(self.efficacy[upper] - self.efficacy[lower]))

    def to_dict(self) -> dict:
        return {"days": self.days, "efficacy": {k: v.tolist() for k, v in self.efficacy.items()},
                "false_alerts": {k: v.tolist() for k, v in self.false_alerts.items()},
                "detected_at_threshold": {k: v.tolist() for k, v in self.detected_at_threshold.items()},
                "false_at_threshold": {k: v.tolist() for k, v in self.false_at_threshold.items()},
                "detected_in_top": {k: v.tolist() for k, v in self.detected_in_top.items()},
                "false_in_top": {k: v.tolist() for k, v in self.false_in_top.items()},
                "promoted": self.promoted, "feedback_labels": self.feedback_labels, "settings": self.settings}


def efficacy_at_budget(scores: np.ndarray, y: np.ndarray, budget: int) -> tuple[float, int]:
    """Share of malicious items detected before more than ``budget`` false alerts, and the false alerts used.

    Examples
    --------
    >>> efficacy_at_budget(np.array([0.9, 0.8, 0.7, 0.0]), np.array([1, 0, 1, 1]), budget=0)
    (0.3333333333333333, 0)
    >>> efficacy_at_budget(np.array([0.9, 0.8, 0.7, 0.0]), np.array([1, 0, 1, 1]), budget=1)
    (0.6666666666666666, 1)
    """
    y = np.asarray(y)
    n_bad = int(y.sum())
    if n_bad == 0:
        return float("nan"), 0
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] > 0]
    false_so_far = np.cumsum(y[order] == 0)
    within = order[false_so_far <= budget]
    return float(y[within].sum() / n_bad), int((y[within] == 0).sum())


def top_k_outcome(scores: np.ndarray, y: np.ndarray, k: int) -> tuple[int, int]:
    """True and false alerts among the ``k`` highest-scored events (the analyst's daily budget).

    Only events with a positive score are alerts; ties keep table order.

    Examples
    --------
    >>> top_k_outcome(np.array([0.9, 0.8, 0.7, 0.0]), np.array([1, 0, 1, 1]), k=2)
    (1, 1)
    >>> top_k_outcome(np.array([0.9, 0.8, 0.7, 0.0]), np.array([1, 0, 1, 1]), k=10)
    (2, 1)
    """
    order = np.argsort(-scores, kind="stable")[:k]
    order = order[scores[order] > 0]
    hits = int(np.asarray(y)[order].sum())
    return hits, len(order) - hits


def _indicators(events: Sequence[dict], columns: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, set] = {kind: set() for kind in columns}
    for event in events:
        for kind, column in columns.items():
            value = event.get(column)
            if isinstance(value, str) and value:
                out[kind].add(value)
    return {kind: sorted(values) for kind, values in out.items() if values}


def replay_efficacy(
    history: ReplayDay,
    days: Sequence[ReplayDay],
    make_components: Callable[[], list],
    *,
    indicator_columns: dict[str, str],
    update_every: int = 7,
    update_delay: int = 1,
    alert_budget: int = 10,
    analyst_k: int = 20,
    hybrid_params: dict | None = None,
    history_labels: bool = True,
    promote: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ReplayResult:
    """Run the four strategies over ``days`` (see the module docstring).

    Parameters
    ----------
    history : ReplayDay
        Labelled events before the first day: trains the models and seeds the
        signature feed.
    days : list of ReplayDay
    make_components : callable
        Returns fresh ``(name, detector, column)`` components for
        :class:`HybridDetector`.
    indicator_columns : dict
        Indicator kind -> event column, used for the feed and for promotion
        (for example ``{"ip": "dst_ip"}`` or ``{"url": "url", "domain": "host"}``).
    history_labels : bool, default=True
        False starts unsupervised (AI^2's setting): the models see only the
        benign history events, without labels, so classifier components wait
        for analyst verdicts; the feed still holds the known malicious ones.
    promote : bool, default=True
        False leaves confirmed findings out of the signatures (an ablation:
        what the models alone gain from the verdicts).
    """
    from ..signatures import SignatureMatcher

    params = {"random_state": 0, **(hybrid_params or {})}
    say = progress or (lambda msg: None)
    promote_columns = {kind: (col,) for kind, col in indicator_columns.items()}

    def feed(known_bad: list[dict]) -> SignatureMatcher:
        return SignatureMatcher(indicators=_indicators(known_bad, indicator_columns) or None).fit()

    say(f"fitting models on {len(history.events)} history events")
    if history_labels:
        models = HybridDetector(make_components(), **params).fit(history.events, history.y)
    else:
        models = HybridDetector(make_components(), **params).fit(
            [e for e, label in zip(history.events, history.y) if label == 0])
    hybrid = copy.deepcopy(models)
    learner = copy.deepcopy(models)
    malicious_by_day = [[e for e, label in zip(history.events, history.y) if label == 1]]
    efficacy = {s: np.full(len(days), np.nan) for s in STRATEGIES}
    false_alerts = {s: np.zeros(len(days), dtype=int) for s in STRATEGIES}
    detected_thr = {s: np.zeros(len(days), dtype=int) for s in STRATEGIES}
    false_thr = {s: np.zeros(len(days), dtype=int) for s in STRATEGIES}
    detected_top = {s: np.zeros(len(days), dtype=int) for s in STRATEGIES}
    false_top = {s: np.zeros(len(days), dtype=int) for s in STRATEGIES}
    threshold = models.alert_threshold
    rules = None
    n_feedback = 0
    shuffle = np.random.RandomState(params["random_state"])
    for t, day in enumerate(days):
        # Shuffled, because ties keep table order: a day listed attacks-first would credit every
        # tie (say, a saturated classifier at the model cap) to the detector.
        order = shuffle.permutation(len(day.events))
        day = ReplayDay(day.label, [day.events[i] for i in order], np.asarray(day.y)[order])
        if t % update_every == 0 or rules is None:
            # The feed published at day t holds what was known update_delay days earlier.
            # malicious_by_day[0] is the history, [d + 1] is day d.
            known = [e for block in malicious_by_day[:max(1, t - update_delay + 1)] for e in block]
            rules = feed(known)
            hybrid.set_signatures(copy.deepcopy(rules), keep_promoted=False)
            learner.set_signatures(copy.deepcopy(rules), keep_promoted=True)
        scores = {
            "rules only": rules.threat_score(day.events),
            "models only": models.threat_score(day.events),
            "hybrid": hybrid.threat_score(day.events),
            "hybrid + feedback": learner.threat_score(day.events),
        }
        # The budget metric ranks what the shared feed does not already flag: the new threats
        # an analyst's k daily reviews are for (the feed's hits are the same for every strategy).
        new = scores["rules only"] <= 0
        for name, s in scores.items():
            efficacy[name][t], false_alerts[name][t] = efficacy_at_budget(s, day.y, alert_budget)
            detected_thr[name][t] = int(((s >= threshold) & (day.y == 1)).sum())
            false_thr[name][t] = int(((s >= threshold) & (day.y == 0)).sum())
            detected_top[name][t], false_top[name][t] = top_k_outcome(s[new], day.y[new], analyst_k)
        # After today's scoring the analyst reviews the top alerts that no rule explains
        # (rule hits are already known threats).
        top = [a for a in learner.alerts(day.events, threshold=0.0, explain=False) if not a.rules][:analyst_k]
        if top:
            verdicts = ["malicious" if day.y[a.index] == 1 else "benign" for a in top]
            learner.feedback([a.alert_id for a in top], verdicts, events=[day.events[a.index] for a in top])
            if promote:
                learner.promote(columns=promote_columns)
            n_feedback += len(top)
        malicious_by_day.append([e for e, label in zip(day.events, day.y) if label == 1])
        say(f"day {t + 1}/{len(days)} {day.label}: " + ", ".join(f"{k} {efficacy[k][t]:.2f}" for k in STRATEGIES))
    settings = {"history_labels": history_labels, "update_every": update_every, "update_delay": update_delay, "alert_budget": alert_budget,
                "analyst_k": analyst_k, "promote": promote, "history_events": len(history.events),
                "events_per_day": float(np.mean([len(d.events) for d in days])) if days else 0.0}
    return ReplayResult([d.label for d in days], efficacy, false_alerts, detected_thr, false_thr,
                        detected_top, false_top, len(learner.promoted_), n_feedback, settings)


def plot_efficacy(result: ReplayResult, path=None, *, title: str = "Detection efficacy over time"):
    """Plot the four curves (matplotlib); save to ``path`` when given. Returns the figure."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    x = np.arange(len(result.days))
    styles = {"rules only": ("tab:grey", "--"), "models only": ("tab:blue", ":"),
              "hybrid": ("tab:orange", "-"), "hybrid + feedback": ("tab:green", "-")}
    for name in STRATEGIES:
        color, ls = styles[name]
        ax.plot(x, result.efficacy[name], ls, color=color, label=name, lw=2)
    every = result.settings.get("update_every", 7)
    for t in range(0, len(x), every):
        ax.axvline(t, color="lightgrey", lw=0.8, zorder=0)
    ax.set_xticks(x[::max(1, len(x) // 8)])
    ax.set_xticklabels([result.days[i] for i in x[::max(1, len(x) // 8)]], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(f"detected within {result.settings.get('alert_budget')} false alerts/period")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
