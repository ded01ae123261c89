"""Empirical-Bayes smoothing of counts in a hierarchy (the one Bayesian part).

Three detectors need the same idea: counts in a tree (address -> /24 -> /16;
parameter -> endpoint -> service -> global; context of length k -> k-1 -> ...),
smoothed so that a node with little data is pulled toward its parent, with
the pull strength learned from the data.

The model at each level is a Dirichlet-multinomial (Beta-binomial for two
outcomes): a node's distribution is drawn from ``Dirichlet(alpha * parent)``,
so its posterior-mean estimate is::

    p(x | node) = (count(node, x) + alpha * p(x | parent)) / (total(node) + alpha)

and ``alpha`` (one per level) maximises the marginal likelihood of all nodes'
counts given their parents (:func:`fit_concentration`). Sufficient statistics
(counts per node) add up, so models fitted on partitions merge exactly
(:meth:`BetaBinomialHierarchy.merge`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

__all__ = ["fit_concentration", "smooth", "BetaBinomialHierarchy"]

_LOG_ALPHA_BOUNDS = (-6.0, 12.0)


def _neg_log_marginal(alpha, totals, counts, base, node_of_count):
    # Terms with zero counts cancel, so only non-zero (node, category) cells are passed.
    ll = np.sum(gammaln(alpha) - gammaln(totals + alpha))
    ll += np.sum(gammaln(counts + alpha * base) - gammaln(alpha * base))
    return -ll


def fit_concentration(totals, counts, base, node_of_count=None) -> float:
    """Maximum-marginal-likelihood Dirichlet concentration ``alpha``.

    Parameters
    ----------
    totals : array of shape (n_nodes,)
        Total count of each node.
    counts : array of shape (n_cells,)
        Non-zero counts ``count(node, x)``, over all nodes.
    base : array of shape (n_cells,)
        Parent probability ``p(x | parent)`` of the same cells (in ``(0, 1]``).
    node_of_count : ignored
        Kept for readability at call sites (cells need not be grouped).

    Returns
    -------
    alpha : float
        In ``[exp(-6), exp(12)]``; large means nodes look like their parent.

    Examples
    --------
    Nodes that all share their parent's rate get a large ``alpha``; nodes that
    are each all-or-nothing get a small one:

    >>> import numpy as np
    >>> n = np.full(200, 20.0)
    >>> similar = fit_concentration(n, np.r_[np.full(200, 10.0), np.full(200, 10.0)], np.full(400, 0.5))
    >>> split = fit_concentration(n, np.full(200, 20.0), np.full(200, 0.5))
    >>> bool(similar > 100 > 1 > split)
    True
    """
    totals = np.asarray(totals, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    base = np.clip(np.asarray(base, dtype=np.float64), 1e-12, 1.0)
    keep = totals > 0
    totals = totals[keep]
    if totals.size == 0:
        return float(np.exp(_LOG_ALPHA_BOUNDS[1]))
    res = minimize_scalar(
        lambda la: _neg_log_marginal(np.exp(la), totals, counts, base, node_of_count),
        bounds=_LOG_ALPHA_BOUNDS,
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(np.exp(res.x))


def smooth(counts, totals, parent_probs, alpha):
    """Posterior-mean estimate ``(counts + alpha * parent) / (totals + alpha)``.

    Examples
    --------
    >>> float(smooth(1.0, 1.0, 0.1, 9.0))  # one bad observation, clean parent
    0.19
    """
    return (np.asarray(counts, dtype=np.float64) + alpha * np.asarray(parent_probs)) / (
        np.asarray(totals, dtype=np.float64) + alpha
    )


class BetaBinomialHierarchy:
    """Smoothed rates of a binary outcome at nested levels of integer keys.

    Each observation carries one key per level, coarsest first (for IPv4:
    ``ip >> 24``, ``ip >> 16``, ``ip >> 8``), and an outcome in ``{0, 1}``
    (for example "listed as bad"). Rates are smoothed top-down: the root rate
    is the global rate, and each level's strength ``alpha`` is fitted by
    :func:`fit_concentration` given the smoothed parent rates. Unseen nodes
    back off to their parent's rate.

    Parameters
    ----------
    prior_strength : float or None, default=None
        Fixed ``alpha`` for every level; ``None`` learns one per level.

    Attributes
    ----------
    keys_ : list of int64 arrays
        Sorted distinct node keys per level.
    parent_keys_ : list of int64 arrays
        Key of each node's parent (level 0: 0, the root).
    successes_, trials_ : list of float arrays
        Sufficient statistics per node (they add up across partitions).
    alphas_ : list of float
        Prior strength per level.
    rates_ : list of float arrays
        Smoothed rate per node.
    global_rate_ : float

    Examples
    --------
    >>> import numpy as np
    >>> ips = np.array([0x0A000001, 0x0A000002, 0x0A000103, 0x0B000001], dtype=np.int64)
    >>> bad = np.array([1, 1, 0, 0])
    >>> h = BetaBinomialHierarchy(prior_strength=2.0).fit([ips >> 24, ips >> 8], bad)
    >>> rates = h.rates([np.array([0x0A, 0x0B]), np.array([0x0A0000, 0x0B0000])])
    >>> rates.shape, bool(rates[0, 1] > rates[1, 1])
    ((2, 2), True)
    """

    def __init__(self, prior_strength: float | None = None) -> None:
        self.prior_strength = prior_strength

    def fit(self, level_keys, y, sample_weight=None) -> "BetaBinomialHierarchy":
        y = np.asarray(y, dtype=np.float64)
        w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.keys_, self.parent_keys_, self.successes_, self.trials_ = [], [], [], []
        previous = np.zeros(len(y), dtype=np.int64)
        for keys in level_keys:
            keys = np.asarray(keys, dtype=np.int64)
            uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            self.keys_.append(uniq)
            self.parent_keys_.append(previous[first])
            self.successes_.append(np.bincount(inverse, weights=w * y, minlength=len(uniq)))
            self.trials_.append(np.bincount(inverse, weights=w, minlength=len(uniq)))
            previous = keys
        return self._refit_rates()

    def _refit_rates(self) -> "BetaBinomialHierarchy":
        total_trials = float(self.trials_[0].sum()) if self.trials_ else 0.0
        total_succ = float(self.successes_[0].sum()) if self.successes_ else 0.0
        self.global_rate_ = (total_succ + 0.5) / (total_trials + 1.0)  # Jeffreys-style root
        self.alphas_, self.rates_ = [], []
        for level, keys in enumerate(self.keys_):
            if level == 0:
                parent = np.full(len(keys), self.global_rate_)
            else:
                parent = self.rates_[level - 1][np.searchsorted(self.keys_[level - 1], self.parent_keys_[level])]
            s, n = self.successes_[level], self.trials_[level]
            if self.prior_strength is not None:
                alpha = float(self.prior_strength)
            else:
                cells_pos = s > 0
                cells_neg = (n - s) > 0
                alpha = fit_concentration(
                    n,
                    np.r_[s[cells_pos], (n - s)[cells_neg]],
                    np.r_[parent[cells_pos], 1.0 - parent[cells_neg]],
                )
            self.alphas_.append(alpha)
            self.rates_.append(smooth(s, n, parent, alpha))
        return self

    def _lookup(self, level: int, keys) -> tuple[np.ndarray, np.ndarray]:
        table = self.keys_[level]
        keys = np.asarray(keys, dtype=np.int64)
        if len(table) == 0:  # a level with no nodes: everything backs off to the parent
            return np.zeros(len(keys), dtype=np.int64), np.zeros(len(keys), dtype=bool)
        pos = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        return pos, table[pos] == keys

    def rates(self, level_keys, *, exclude_y=None) -> np.ndarray:
        """Smoothed rate at every level for each query: shape (n, n_levels).

        Parameters
        ----------
        level_keys : list of int arrays
            One key array per level, coarsest first, as in ``fit``.
        exclude_y : array of {0, 1}, optional
            Leave-one-out: the queries are training observations with these
            outcomes, and their own contribution is removed from every count
            (so a training item's label never feeds its own features).
        """
        n = len(level_keys[0]) if level_keys else 0
        out = np.empty((n, len(self.keys_)), dtype=np.float64)
        parent = np.full(n, self.global_rate_)
        for level in range(len(self.keys_)):
            pos, found = self._lookup(level, level_keys[level])
            s = np.where(found, self.successes_[level][pos], 0.0) if found.any() else np.zeros(len(found))
            t = np.where(found, self.trials_[level][pos], 0.0) if found.any() else np.zeros(len(found))
            if exclude_y is not None:
                s = s - np.where(found, exclude_y, 0.0)
                t = t - found
            rate = smooth(s, t, parent, self.alphas_[level])
            out[:, level] = rate
            parent = rate
        return out

    def counts(self, level: int, keys) -> tuple[np.ndarray, np.ndarray]:
        """Raw (successes, trials) at ``level`` for ``keys`` (zeros when unseen)."""
        pos, found = self._lookup(level, keys)
        if not found.any():
            return np.zeros(len(found)), np.zeros(len(found))
        return (np.where(found, self.successes_[level][pos], 0.0), np.where(found, self.trials_[level][pos], 0.0))

    def merge(self, other: "BetaBinomialHierarchy") -> "BetaBinomialHierarchy":
        """A new hierarchy whose counts are the sums of both (exact for partitions)."""
        out = BetaBinomialHierarchy(self.prior_strength)
        out.keys_, out.parent_keys_, out.successes_, out.trials_ = [], [], [], []
        for level in range(len(self.keys_)):
            keys = np.concatenate([self.keys_[level], other.keys_[level]])
            uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            out.keys_.append(uniq)
            out.parent_keys_.append(np.concatenate([self.parent_keys_[level], other.parent_keys_[level]])[first])
            out.successes_.append(np.bincount(inverse, np.r_[self.successes_[level], other.successes_[level]], len(uniq)))
            out.trials_.append(np.bincount(inverse, np.r_[self.trials_[level], other.trials_[level]], len(uniq)))
        return out._refit_rates()
