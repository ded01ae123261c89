"""How component scores and rule hits become one threat score.

Unsupervised start (documented in the user guide):

* **Outlier components** give tail probabilities ``s_c`` (uniform on normal
  traffic). Over the ``k`` outlier components present for an event the model
  evidence is ``(max_c s_c) ** k`` (the Šidák correction: an event is not more
  suspicious just for having more components), raised to the power ``gamma``
  chosen so that an event at the ``model_fpr`` tail of normal traffic scores
  exactly 0.5, the default alert threshold.
* **Classifier components** give probabilities of "malicious" and are used
  as they are.
* The model part ``m`` is the larger of the two, capped at ``model_cap``; the
  rule part ``r`` is the signature matcher's severity score; the combination
  is the noisy-OR ``1 - (1 - r) * (1 - model_cap * m)``: a critical rule alone
  gives 1.0, a model alone at most ``model_cap``, and agreement ranks above
  either alone.

With labels (from ``fit`` or analyst feedback) a logistic regression over the
combiner features is fitted and blended in with weight
``n_labels / (n_labels + label_prior)``, so it takes over as evidence grows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["combiner_features", "unsupervised_score", "blend_weight", "ANCHOR"]

#: Score of a model-only event at the ``model_fpr`` tail (the default alert threshold).
ANCHOR = 0.5


def combiner_features(model_scores: np.ndarray, rule_scores: np.ndarray) -> np.ndarray:
    """Features the learned combiner sees: scores (0 when missing), missing flags, rule score."""
    present = ~np.isnan(model_scores)
    filled = np.where(present, model_scores, 0.0)
    return np.hstack([filled, (~present).astype(float), rule_scores[:, None]])


def unsupervised_score(model_scores: np.ndarray, is_outlier: np.ndarray, rule_scores: np.ndarray,
                       model_cap: float, model_fpr: float) -> np.ndarray:
    """The documented combination without labels (see the module docstring).

    Examples
    --------
    >>> s = np.array([[0.99, np.nan], [0.2, np.nan], [np.nan, 0.7]])
    >>> np.round(unsupervised_score(s, np.array([True, False]), np.array([0.0, 1.0, 0.0]), 0.9, 0.01), 3).tolist()
    [0.5, 1.0, 0.63]
    """
    n = len(rule_scores)
    present = ~np.isnan(model_scores)
    filled = np.where(present, model_scores, 0.0)
    outlier_part = np.zeros(n)
    if is_outlier.any():
        out_present = present[:, is_outlier]
        k = out_present.sum(axis=1)
        best = filled[:, is_outlier].max(axis=1)
        gamma = np.log(ANCHOR / model_cap) / np.log1p(-model_fpr)
        outlier_part = np.where(k > 0, best ** (np.maximum(k, 1) * gamma), 0.0)
    classifier_part = filled[:, ~is_outlier].max(axis=1) if (~is_outlier).any() else np.zeros(n)
    model_part = np.maximum(outlier_part, classifier_part)
    return 1.0 - (1.0 - rule_scores) * (1.0 - model_cap * model_part)


def blend_weight(n_labels: int, label_prior: float) -> float:
    return n_labels / (n_labels + label_prior) if n_labels else 0.0
