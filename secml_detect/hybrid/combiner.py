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
* The model part ``m`` is the larger of the two; the rule part ``r`` is the
  signature matcher's severity score; the combination is the noisy-OR
  ``1 - (1 - r) * (1 - model_cap * m)``: a critical rule alone gives 1.0, a
  model alone at most ``model_cap``, and agreement ranks above either alone.

With labels (from ``fit`` or analyst feedback), the components that have
labelled events of **both** classes (at least
``HybridDetector.MIN_LABELS_PER_CLASS`` of each) are combined by a logistic regression over
their scores and missingness flags, whose probability replaces their
unsupervised evidence with weight ``n_labels / (n_labels + label_prior)``, so
it takes over as evidence grows. Components whose labelled events are all of
one class (for example an anomaly model trained on normal traffic only) keep
their unsupervised evidence: a learned weight for them would only say "never
seen an attack", and would silence them. The model part is the larger of the
two.
Rules stay outside the learned part on purpose: a rule's severity keeps
dominating even when the labelled history held no rule hits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["combiner_features", "unsupervised_model_part", "combine", "blend_weight", "ANCHOR"]

#: Score of a model-only event at the ``model_fpr`` tail (the default alert threshold).
ANCHOR = 0.5


def combiner_features(model_scores: np.ndarray) -> np.ndarray:
    """Features the learned combiner sees: component scores (0 when missing) and missing flags."""
    present = ~np.isnan(model_scores)
    return np.hstack([np.where(present, model_scores, 0.0), (~present).astype(float)])


def unsupervised_model_part(model_scores: np.ndarray, is_outlier: np.ndarray, model_cap: float,
                            model_fpr: float) -> np.ndarray:
    """Model evidence in [0, 1] without labels (see the module docstring)."""
    n = len(model_scores)
    present = ~np.isnan(model_scores)
    filled = np.where(present, model_scores, 0.0)
    outlier_part = np.zeros(n)
    if is_outlier.any():
        k = present[:, is_outlier].sum(axis=1)
        best = filled[:, is_outlier].max(axis=1)
        gamma = np.log(ANCHOR / model_cap) / np.log1p(-model_fpr)
        outlier_part = np.where(k > 0, best ** (np.maximum(k, 1) * gamma), 0.0)
    classifier_part = filled[:, ~is_outlier].max(axis=1) if (~is_outlier).any() else np.zeros(n)
    return np.maximum(outlier_part, classifier_part)


def combine(model_part: np.ndarray, rule_scores: np.ndarray, model_cap: float) -> np.ndarray:
    """Noisy-OR of rules and (capped) models.

    Examples
    --------
    >>> np.round(combine(np.array([0.5 / 0.9, 0.0, 1.0]), np.array([0.0, 1.0, 0.85]), 0.9), 3).tolist()
    [0.5, 1.0, 0.985]
    """
    return 1.0 - (1.0 - rule_scores) * (1.0 - model_cap * model_part)


def blend_weight(n_labels: int, label_prior: float) -> float:
    return n_labels / (n_labels + label_prior) if n_labels else 0.0
