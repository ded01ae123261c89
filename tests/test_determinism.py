"""Identical inputs and random_state give identical scores in another process.

The other process runs with a different ``PYTHONHASHSEED``, so any dependence
on set or dict iteration order of strings would show up here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from test_common import DETECTORS, _make

SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from test_determinism import _scores_here
print(json.dumps(_scores_here()))
"""


def _scores_here() -> dict:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cls in DETECTORS:
            est, data = _make(cls)
            if "random_state" in est.get_params():
                est.set_params(random_state=0)
            est.fit(data["X"], data["y"])
            out[cls.__name__] = np.asarray(est.threat_score(data["X_test"]), dtype=float).tolist()
    return out


def test_scores_identical_across_processes_and_hash_seeds():
    here = _scores_here()
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    tests_dir = str(Path(__file__).resolve().parent)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, tests_dir], capture_output=True, text=True, env=env,
                          timeout=600, check=True)
    there = json.loads(proc.stdout.strip().splitlines()[-1])
    assert there.keys() == here.keys()
    for name in here:
        assert there[name] == here[name], name
