"""Loaders for HTTP parameter values (Morzeux HttpParamsDataset)."""

from __future__ import annotations

import csv
from pathlib import Path

from . import bundled_path, shared_dataset_path

__all__ = ["load_http_params", "load_http_params_sample"]


def _read(path: Path) -> tuple[list[str], list[str], list[int]]:
    values, kinds, labels = [], [], []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            values.append(row["payload"])
            kinds.append(row["attack_type"])
            labels.append(int(row["label"] != "norm"))
    return values, kinds, labels


def load_http_params() -> tuple[list[str], list[str], list[int]]:
    """The full train split from the shared datasets.

    Returns
    -------
    values : list of str
        Parameter values.
    attack_types : list of str
        ``"norm"``, ``"sqli"``, ``"xss"``, ``"path-traversal"`` or ``"cmdi"``.
    labels : list of int
        1 for attacks, 0 for normal values.
    """
    return _read(shared_dataset_path("http_params_morzeux", "payload_train.csv"))


def load_http_params_sample() -> tuple[list[str], list[str], list[int]]:
    """The small sample bundled in the package (same columns as :func:`load_http_params`).

    Examples
    --------
    >>> values, kinds, labels = load_http_params_sample()
    >>> len(values) == len(labels), sorted(set(labels))
    (True, [0, 1])
    """
    return _read(bundled_path("http_params_sample.csv"))
