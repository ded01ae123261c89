"""Choosing the n-gram order from normal sequences only: held-out log-loss."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .._ragged import Vocabulary
from ..base import handle_bad_items
from ..exceptions import InvalidParameterError
from ._encode import encode_sequences
from .ngram import APICallSequenceModel

__all__ = ["heldout_log_loss", "select_order"]


def heldout_log_loss(X, orders: Iterable[int] = range(1, 11), *, folds: int = 5, random_state: int = 0,
                     on_bad_input: str = "fallback", **params) -> dict[int, float]:
    """Out-of-fold surprise per call (nats) of normal sequences, for each n-gram order.

    The training sequences are split into ``folds`` folds; each fold is scored
    by an :class:`APICallSequenceModel` fitted on the others alone (counts,
    strengths and vocabulary: a call never seen there gets the unknown
    id's share), and the total
    surprise of every held-out call (and end event) is divided by the number
    of calls. Lower means the model of that order predicts *unseen normal*
    behaviour better: the usual language-model criterion, which needs no
    attack data. It rewards smoothing that generalises, not memorising.

    Parameters
    ----------
    X : list of sequences
        Normal sequences. Items that are not token sequences are left out
        (with a :class:`~secml_detect.exceptions.BadInputWarning`), or raise
        with ``on_bad_input="raise"``.
    orders : iterable of int, default=range(1, 11)
    folds : int, default=5
        At least 2; capped at the number of usable sequences.
    random_state : int, default=0
        Seed of the fold assignment (the same folds for every order).
    **params
        Other :class:`APICallSequenceModel` parameters (``end_event``,
        ``prior_strength``, ``max_len``...).

    Returns
    -------
    dict
        Order -> held-out surprise per call.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> X = [["a", "b", "c"] * rng.randint(2, 6) for _ in range(40)]
    >>> loss = heldout_log_loss(X, orders=[0, 2])
    >>> bool(loss[2] < loss[0])  # the context makes the next call predictable
    True
    """
    X = X if isinstance(X, list) else list(X)
    if not int(folds) >= 2:
        raise InvalidParameterError(f"folds must be >= 2, got {folds!r}")
    ragged, reasons = encode_sequences(X, Vocabulary(), grow=True, max_len=params.get("max_len"))
    if reasons:
        handle_bad_items(ragged.missing, reasons, on_bad_input, items=X, fallback_desc="left out")
    usable = np.flatnonzero(~ragged.missing)
    if usable.size < 2:
        raise InvalidParameterError("need at least 2 usable sequences to hold some out")
    clean = [X[i] for i in usable]
    n_calls = float(ragged.lengths[usable].sum() + (usable.size if params.get("end_event", True) else 0))
    n_folds = min(int(folds), usable.size)
    fold = np.random.RandomState(random_state).permutation(usable.size) % n_folds
    splits = [([clean[i] for i in np.flatnonzero(fold != f)], [clean[i] for i in np.flatnonzero(fold == f)])
              for f in range(n_folds)]
    out = {}
    for order in orders:
        total = 0.0
        for train, held in splits:
            # A true refit per fold: strengths and vocabulary never see the held-out fold.
            model = APICallSequenceModel(order=int(order), aggregate="sum", calibration_folds=1, **params)
            total -= float(model.fit(train).score_samples(held).sum())
        out[int(order)] = total / max(n_calls, 1.0)
    return out


def select_order(X, orders: Iterable[int] = range(1, 11), **kwargs) -> tuple[int, dict[int, float]]:
    """The order with the lowest held-out surprise per call (ties: the shorter context).

    Takes the arguments of :func:`heldout_log_loss` and returns the chosen
    order with the whole table.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> X = [["a", "b", "c"] * rng.randint(2, 6) for _ in range(40)]
    >>> order, loss = select_order(X, orders=[0, 1, 2])
    >>> order > 0
    True
    """
    loss = heldout_log_loss(X, orders, **kwargs)
    if not loss:
        raise InvalidParameterError("orders is empty")
    return min(loss, key=lambda o: (loss[o], o)), loss
