"""The benchmark scripts' shared helpers (benchmarks/_common.py) that decide what is measured."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from _common import fitted_date  # noqa: E402


def _days(start, stop):
    return np.arange(np.datetime64(start), np.datetime64(stop)).astype("datetime64[s]")


def test_fitted_date_keeps_a_date_the_data_fits():
    dates = _days("2024-10-12", "2026-03-01")
    assert fitted_date(dates, "2026-01-01") == np.datetime64("2026-01-01T00:00:00")
    assert fitted_date(dates, "2026-02-01", after_days=28) == np.datetime64("2026-02-01T00:00:00")


def test_fitted_date_moves_to_the_period_of_later_data(capsys):
    later = _days("2026-03-01", "2026-08-01")  # an evaluation set of the same form, months later
    cut = fitted_date(later, "2026-01-01")
    assert later.min() < cut < later.max() and np.mean(later < cut) >= 0.05
    start = fitted_date(later, "2026-02-01", after_days=28)
    assert start + np.timedelta64(28, "D") <= later.max() + np.timedelta64(1, "D")
    assert "do not fit" in capsys.readouterr().out


def test_fitted_date_moves_when_the_window_runs_past_the_data():
    dates = _days("2025-01-01", "2026-02-10")
    start = fitted_date(dates, "2026-02-01", after_days=28)
    assert start < np.datetime64("2026-02-01") and start + np.timedelta64(27, "D") <= dates.max()
