"""Choosing the n-gram order from normal sequences only (held-out log-loss)."""

from __future__ import annotations

import numpy as np
import pytest

from secml_detect.exceptions import BadInputWarning, InvalidItemError, InvalidParameterError
from secml_detect.sequence import APICallSequenceModel, heldout_log_loss, select_order


def _markov2(rng, n):
    """Sequences where the next call depends on the two before it (and only on them)."""
    table = {(a, b): (a + 2 * b + 1) % 5 for a in range(5) for b in range(5)}
    X = []
    for _ in range(n):
        s = list(rng.randint(0, 5, size=2))
        for _ in range(rng.randint(20, 40)):
            s.append(table[(s[-2], s[-1])] if rng.rand() < 0.9 else rng.randint(0, 5))
        X.append(s)
    return X


def test_picks_the_order_of_the_process():
    X = _markov2(np.random.RandomState(0), 120)
    order, loss = select_order(X, orders=[0, 1, 2, 3])
    assert order >= 2
    assert loss[2] < 0.5 * min(loss[0], loss[1])  # one call before says nothing here; two say most


def test_equals_out_of_fold_surprise_per_call():
    rng = np.random.RandomState(1)
    X = _markov2(rng, 30)
    loss = heldout_log_loss(X, orders=[2], folds=3, random_state=4)
    fold = np.random.RandomState(4).permutation(len(X)) % 3
    total = 0.0
    for f in range(3):
        train = [x for x, g in zip(X, fold) if g != f]
        held = [x for x, g in zip(X, fold) if g == f]
        model = APICallSequenceModel(order=2).fit(train)
        total += sum(s.sum() for s in model.call_surprise(held))
    n_calls = sum(len(x) + 1 for x in X)  # every call plus the end event
    assert loss[2] == pytest.approx(total / n_calls, rel=1e-9)


def test_bad_items_are_left_out_or_raise():
    X = _markov2(np.random.RandomState(2), 20)
    clean = heldout_log_loss(X, orders=[1])
    with pytest.warns(BadInputWarning):
        dirty = heldout_log_loss(X + [None, 3], orders=[1])
    assert dirty == clean
    with pytest.raises(InvalidItemError):
        heldout_log_loss(X + [None], orders=[1], on_bad_input="raise")


def test_invalid_arguments():
    X = _markov2(np.random.RandomState(3), 5)
    with pytest.raises(InvalidParameterError):
        heldout_log_loss(X, folds=1)
    with pytest.raises(InvalidParameterError):
        heldout_log_loss(X[:1])
    with pytest.raises(InvalidParameterError):
        select_order(X, orders=[])
