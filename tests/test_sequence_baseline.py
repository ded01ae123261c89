"""ProcessBaseline: observe, lock, flag, edit, and the calibrated novelty score."""

from __future__ import annotations

import numpy as np
import pytest

from secml_detect.exceptions import InvalidParameterError
from secml_detect.persistence import load, save
from secml_detect.sequence import ProcessBaseline


def _events():
    rng = np.random.RandomState(0)
    out = []
    for t in range(0, 7200, 60):
        for dep in ("web", "api"):
            for container in ("main", "sidecar"):
                procs = {"main": ["nginx", "nginx", "sh"], "sidecar": ["envoy", "envoy", "pilot-agent"]}[container]
                out.append({"deployment": dep, "container": container, "process": procs[rng.randint(3)],
                            "network": "10.0.0.2:5432" if container == "main" else None, "time": float(t)})
    return out


def test_observation_then_lock_by_time():
    base = ProcessBaseline(observation_period=1800).fit(_events())
    assert base.locked_ == {"web/main", "web/sidecar", "api/main", "api/sidecar"}
    assert base.baseline("web/main") == {"locked": True, "process": ["nginx", "sh"], "network": ["10.0.0.2:5432"]}
    new = [{"deployment": "web", "container": "main", "process": p} for p in ("nginx", "curl")]
    assert base.violations(new).tolist() == [False, True]


def test_novelty_is_graded_by_the_hierarchy():
    base = ProcessBaseline(observation_period=1800).fit(_events())
    ev = [{"deployment": "web", "container": "main", "process": p} for p in ("nginx", "envoy", "xmrig")]
    s = base.score_samples(ev)
    # Allowed < seen elsewhere in the cluster (the sidecar runs envoy) < never seen anywhere.
    assert s[0] > s[1] > s[2]
    t = base.threat_score(ev)
    assert 0 <= t[0] < t[1] < t[2] <= 1
    assert base.violations(ev).tolist() == [False, True, True]


def test_locked_entities_do_not_learn_and_edits_work():
    base = ProcessBaseline(observation_events=5).fit([("c1", "app")] * 5)
    assert "c1" in base.locked_
    base.partial_fit([("c1", "miner")])
    assert base.baseline("c1")["process"] == ["app"]
    assert base.violations([("c1", "miner")]).tolist() == [True]
    base.add("c1", "miner")
    assert base.violations([("c1", "miner")]).tolist() == [False]
    base.remove("c1", "app")
    assert base.violations([("c1", "app")]).tolist() == [True]
    base.unlock("c1").partial_fit([("c1", "backup")])
    assert "backup" in base.baseline("c1")["process"]
    base.lock("c1")
    assert base.baseline("c1")["locked"]


def test_unlocked_entities_keep_observing():
    base = ProcessBaseline(auto_lock=False).fit([("c1", "app")] * 3)
    base.partial_fit([("c1", "cron")])
    assert base.violations([("c1", "cron"), ("c1", "other")]).tolist() == [False, False]
    assert base.baseline("c1")["process"] == ["app", "cron"]


def test_network_destinations_and_save_load(tmp_path):
    base = ProcessBaseline(observation_period=1800).fit(_events())
    ev = [{"deployment": "web", "container": "main", "process": "nginx", "network": "203.0.113.9:4444"}]
    assert base.violations(ev).tolist() == [True]
    exp = base.explain(ev)[0]
    assert exp.contributions[0].name.startswith("network (violation")
    save(base, tmp_path / "b.smd")
    loaded = load(tmp_path / "b.smd")
    np.testing.assert_array_equal(loaded.threat_score(ev), base.threat_score(ev))
    assert loaded.locked_ == base.locked_


def test_invalid_parameters():
    with pytest.raises(InvalidParameterError):
        ProcessBaseline(observation_period=-1).fit([("c", "p")])
    with pytest.raises(InvalidParameterError):
        ProcessBaseline().fit([("c", "p")]).add("c", "p", kind="file")
