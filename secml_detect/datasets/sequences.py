"""Loaders for call-sequence data: HDFS log keys, ADFA-LD system calls, Mal-API-2019.

Each loader returns plain Python lists (sequences as lists of tokens) and
numpy label arrays. The full sets come from the shared datasets
(:func:`secml_detect.datasets.dataset_files`); small samples of the
redistributable sets (HDFS and Mal-API-2019, both MIT) are bundled.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from . import bundled_path, dataset_files

__all__ = [
    "load_hdfs",
    "load_hdfs_sample",
    "load_adfa_ld",
    "load_malapi",
    "load_malapi_sample",
]

_HDFS = "logs_hdfs_deeplog"


def _read_keys(path: Path) -> list[list[int]]:
    with open(path, encoding="utf-8") as fh:
        return [[int(t) for t in line.split()] for line in fh if line.strip()]


def load_hdfs() -> tuple[list[list[int]], np.ndarray]:
    """HDFS block sessions as log-key sequences (DeepLog's preprocessing).

    Returns
    -------
    sequences : list of list of int
        Log keys 1-28, one session per item: first every normal session, then
        every anomalous one. A file of the folder whose name says
        ``abnormal`` (``hdfs_abnormal_sample.txt``, DeepLog's
        ``hdfs_test_abnormal``) holds anomalous sessions; every other one
        (``hdfs_train_normal.txt``, ``hdfs_test_normal``) normal ones.
    labels : ndarray of int
        0 normal, 1 anomalous.

    Notes
    -----
    DeepLog's held-out normal file is not in the shared data, so held-out
    normals must come from splitting the normal sessions (see the benchmark).
    """
    normal, abnormal = [], []
    for path in dataset_files(_HDFS, "hdfs*"):
        (abnormal if "abnormal" in path.name else normal).extend(_read_keys(path))
    return normal + abnormal, np.r_[np.zeros(len(normal), int), np.ones(len(abnormal), int)]


def load_hdfs_sample() -> tuple[list[list[int]], np.ndarray]:
    """The bundled HDFS sample (same format as :func:`load_hdfs`).

    Examples
    --------
    >>> seqs, labels = load_hdfs_sample()
    >>> len(seqs) == len(labels), sorted(set(labels.tolist()))
    (True, [0, 1])
    """
    seqs, labels = [], []
    with open(bundled_path("hdfs_sessions_sample.csv"), encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            seqs.append([int(t) for t in row["keys"].split()])
            labels.append(int(row["label"]))
    return seqs, np.array(labels, dtype=int)


def load_adfa_ld(*, deduplicate: bool = True, drop_conflicts: bool = True) -> dict:
    """ADFA-LD system-call traces with split, label and attack type.

    Parameters
    ----------
    deduplicate : bool, default=True
        Keep one copy of each distinct trace, as the MANIFEST advises (5,951
        rows hold 3,852 distinct traces). The copy kept is the first in the
        order train, validation, attack; a trace seen in both train and
        validation stays in train.
    drop_conflicts : bool, default=True
        Drop the traces that occur both as normal and as attack (label noise,
        two traces in the MANIFEST).

    Returns
    -------
    dict with keys ``sequences`` (list of list of int), ``label`` (0 normal, 1
    attack), ``split`` (``"train"``, ``"validation"``, ``"attack"``),
    ``attack_type`` (``""`` for normals) and ``attack_run`` (``""`` for normals),
    the last four as numpy arrays.
    """
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    rows = []
    for path in dataset_files("adfa_ld", "*.csv"):
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                rows.append((row["split"], row["label"], row["attack_type"], row["attack_run"], row["syscalls"]))
    if drop_conflicts:
        normal = {r[4] for r in rows if r[1] == "normal"}
        attack = {r[4] for r in rows if r[1] != "normal"}
        rows = [r for r in rows if r[4] not in (normal & attack)]
    if deduplicate:
        rank = {"train": 0, "validation": 1, "attack": 2}
        rows.sort(key=lambda r: rank.get(r[0], 3))  # stable: file order within a split
        seen, kept = set(), []
        for r in rows:
            if r[4] not in seen:
                seen.add(r[4])
                kept.append(r)
        rows = kept
    return {
        "sequences": [[int(t) for t in r[4].split()] for r in rows],
        "label": np.array([int(r[1] != "normal") for r in rows]),
        "split": np.array([r[0] for r in rows]),
        "attack_type": np.array([r[2] for r in rows]),
        "attack_run": np.array([r[3] for r in rows]),
    }


def _read_malapi(path: Path) -> tuple[list[list[str]], np.ndarray]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    seqs, fams = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            seqs.append(row["api_calls"].split())
            fams.append(row["family"])
    return seqs, np.array(fams)


def load_malapi() -> tuple[list[list[str]], np.ndarray]:
    """Mal-API-2019 companion subset: Windows API-call sequences of 8 malware families.

    Returns
    -------
    sequences : list of list of str
        API names, the first 1,000 calls of each sample.
    families : ndarray of str
        Trojan, Backdoor, Downloader, Worms, Spyware, Adware, Dropper, Virus.

    Notes
    -----
    35 rows duplicate another row's (truncated) sequence; split by distinct
    sequence so a copy never sits on both sides.
    """
    seqs, fams = [], []
    for path in dataset_files("apicalls_malapi2019", "*.csv"):
        part = _read_malapi(path)
        seqs += part[0]
        fams.append(part[1])
    return seqs, np.concatenate(fams)


def load_malapi_sample() -> tuple[list[list[str]], np.ndarray]:
    """The bundled Mal-API-2019 sample (same format as :func:`load_malapi`).

    Examples
    --------
    >>> seqs, fams = load_malapi_sample()
    >>> len(set(fams.tolist()))
    8
    """
    return _read_malapi(bundled_path("malapi_sample.csv"))
