
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secml_detect.base import Explanation, Contribution, TailCalibrator, handle_bad_items
from secml_detect.exceptions import BadInputWarning, InvalidItemError, InvalidParameterError


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200), st.lists(st.floats(-1e7, 1e7), max_size=50))
def test_calibrator_is_monotone_and_bounded(reference, queries):
    cal = TailCalibrator().fit(np.array(reference))
    q = np.sort(np.array(queries, dtype=float))
    out = cal.transform(q)
    assert np.all((out >= 0) & (out <= 1))
    assert np.all(np.diff(out) >= -1e-12)


def test_calibrator_maps_fpr():
    ref = np.random.RandomState(0).randn(100_000)
    cal = TailCalibrator().fit(ref)
    fresh = np.random.RandomState(1).randn(100_000)
    for fpr in (0.1, 0.01):
        assert abs(np.mean(cal.transform(fresh) > 1 - fpr) - fpr) < fpr * 0.2


def test_calibrator_ranks_beyond_the_reference():
    cal = TailCalibrator().fit(np.arange(10.0))
    out = cal.transform(np.array([20.0, 30.0, 1000.0]))
    assert out[0] < out[1] <= out[2] <= 1.0


def test_calibrator_nan_is_max():
    assert TailCalibrator().fit(np.arange(3.0)).transform(np.array([np.nan]))[0] == 1.0


def test_handle_bad_items_fallback_warns_with_indices():
    with pytest.warns(BadInputWarning) as rec:
        handle_bad_items(np.array([False, True, True]), "empty", "fallback")
    assert rec[0].message.indices == (1, 2)


def test_handle_bad_items_raise_names_item():
    with pytest.raises(InvalidItemError, match="item 1: bad") as info:
        handle_bad_items([1], "bad", "raise", items=["ok", "nope"])
    assert info.value.index == 1 and isinstance(info.value, ValueError)


def test_handle_bad_items_rejects_unknown_policy():
    with pytest.raises(InvalidParameterError):
        handle_bad_items([0], "bad", "ignore")


def test_explanation_to_dict_is_json_ready():
    import json

    e = Explanation(0, 0.5, (Contribution("byte", b"\xff", 1.0), Contribution("x", np.int64(3))), ("r1",))
    d = json.loads(json.dumps(e.to_dict()))
    assert d["contributions"][0]["value"] == "\\xff" and d["rules"] == ["r1"]
