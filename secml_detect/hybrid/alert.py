"""Alerts: small, frozen, JSON-serialisable results of the hybrid detector."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Alert", "severity_of"]

#: Lower bounds of ``threat_score`` for each severity, highest first.
SEVERITY_THRESHOLDS = (("critical", 0.95), ("high", 0.85), ("medium", 0.6), ("low", 0.3))


def severity_of(score: float) -> str:
    """Severity name for a threat score.

    Examples
    --------
    >>> severity_of(0.97), severity_of(0.7), severity_of(0.1)
    ('critical', 'medium', 'informational')
    """
    for name, bound in SEVERITY_THRESHOLDS:
        if score >= bound:
            return name
    return "informational"


@dataclass(frozen=True)
class Alert:
    """One ranked alert.

    Attributes
    ----------
    alert_id : str
        Stable id (a content hash of the event: the same event always gets
        the same id, across runs and processes).
    index : int
        Row of the event in the scored table.
    threat_score : float
        Combined score in ``[0, 1]``.
    severity : str
        ``critical``, ``high``, ``medium``, ``low`` or ``informational``.
    rules : tuple of str
        Signature rule ids that fired.
    hits : tuple of dict
        The rule hits (rule id, field, value, kind, severity).
    contributions : dict
        Component name -> its ``threat_score`` for this event (missing
        components are absent), plus ``"rules"`` for the signature part.
    explanations : dict
        Component name -> list of contribution dicts from its ``explain``.
    event : dict
        The event (JSON-serialisable copy).
    suppressed : bool
        True when an analyst dismissed this very event before.
    """

    alert_id: str
    index: int
    threat_score: float
    severity: str
    rules: tuple[str, ...] = ()
    hits: tuple[dict, ...] = ()
    contributions: dict = field(default_factory=dict)
    explanations: dict = field(default_factory=dict)
    event: dict = field(default_factory=dict)
    suppressed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        out = asdict(self)
        out["rules"] = list(self.rules)
        out["hits"] = list(self.hits)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)

    def __str__(self) -> str:
        parts = [f"[{self.severity}] {self.threat_score:.3f} {self.alert_id}"]
        if self.rules:
            parts.append("rules=" + ",".join(self.rules))
        models = {k: round(v, 3) for k, v in self.contributions.items() if k != "rules"}
        if models:
            parts.append(f"models={models}")
        return " ".join(parts)
