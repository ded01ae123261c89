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


def _write_hdfs(folder: Path, sessions, labels, names) -> None:
    folder.mkdir(parents=True)
    for label, name in zip((0, 1), names):
        (folder / name).write_text("".join(" ".join(map(str, s)) + "\n" for s, y in zip(sessions, labels) if y == label))


def test_bench_heldout_scores_an_evaluation_folder_of_the_same_form(tmp_path):
    """The independent-evaluation benchmark trains on one data home and scores another (bundled samples)."""
    import bench_heldout
    from secml_detect.datasets import data_home
    from secml_detect.datasets.sequences import load_hdfs_sample

    sessions, labels = load_hdfs_sample()
    half = np.arange(len(sessions)) % 2 == 0
    dev, evaluation = tmp_path / "dev", tmp_path / "eval"
    _write_hdfs(dev / "logs_hdfs_deeplog", [s for s, h in zip(sessions, half) if h], labels[half],
                ("hdfs_train_normal.txt", "hdfs_abnormal_sample.txt"))
    _write_hdfs(evaluation / "logs_hdfs_deeplog", [s for s, h in zip(sessions, half) if not h], labels[~half],
                ("hdfs_test_normal", "hdfs_test_abnormal"))  # DeepLog's names: found by pattern
    rows: list = []
    with data_home(dev):
        bench_heldout.hdfs(rows, evaluation)
    f1 = {r["system"]: r["value"] for r in rows if r["metric"] == "F1"}
    assert set(f1) == {"APICallSequenceModel (order 3, max surprise)", "DeepLog-style top-9 rule (same n-gram counts)"}
    n_normal, n_anomalous = int((labels[~half] == 0).sum()), int(labels[~half].sum())
    assert all(f"{n_normal} normal + {n_anomalous} anomalous" in r["task"] for r in rows)
    assert f1["APICallSequenceModel (order 3, max surprise)"] > 0.8
