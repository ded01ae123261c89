"""Safe persistence: round trips, and crafted files that would run code under pickle."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from secml_detect._ragged import Vocabulary
from secml_detect.exceptions import ModelFormatError, ModelVersionWarning, UntrustedModelError
from secml_detect.persistence import get_untrusted_types, load, save


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/secml_detect_pwned",))


def _write_raw(path, header: dict, arrays: dict | None = None, extra_members: dict | None = None):
    buf = io.BytesIO()
    np.savez(buf, **(arrays or {}))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", json.dumps(header))
        zf.writestr("arrays.npz", buf.getvalue())
        for name, data in (extra_members or {}).items():
            zf.writestr(name, data)


def _header(model_node):
    return {"format": "secml_detect.model", "format_version": 1, "versions": {}, "metadata": {}, "model": model_node}


def test_round_trip_of_plain_values(tmp_path):
    obj = {
        "a": np.arange(5, dtype=np.int32),
        "b": (1, 2.5, float("nan"), float("inf"), None, "x", b"\x00\xff"),
        "c": {1: "int key", (2, 3): "tuple key"},
        "d": sp.csr_matrix(np.eye(3)),
        "e": {"s", "t"},
        "f": np.float32(1.5),
        "g": np.dtype("<f4"),
        "h": Vocabulary(["x", "y"]),
        "i": np.array(["a", 1], dtype=object),
    }
    path = tmp_path / "m.smd"
    save(obj, path)
    back = load(path)
    np.testing.assert_array_equal(back["a"], obj["a"])
    assert back["b"][:2] == (1, 2.5) and np.isnan(back["b"][2]) and back["b"][3:] == (float("inf"), None, "x", b"\x00\xff")
    assert back["c"] == obj["c"]
    assert (back["d"] != obj["d"]).nnz == 0
    assert back["e"] == obj["e"] and back["f"] == np.float32(1.5) and back["g"] == np.dtype("<f4")
    assert back["h"].encode(["y"]).tolist() == [2]
    assert back["i"].tolist() == ["a", 1]


def test_sklearn_estimator_round_trip(tmp_path):
    X = np.random.RandomState(0).randn(50, 3)
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    save(model, tmp_path / "lr.smd")
    np.testing.assert_array_equal(load(tmp_path / "lr.smd").predict_proba(X), model.predict_proba(X))


def test_unsupported_objects_are_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match="cannot save"):
        save({"f": lambda x: x}, tmp_path / "x.smd")


def test_pickle_payload_in_arrays_is_not_executed(tmp_path):
    """An object array (which numpy stores as a pickle) must be refused, not unpickled."""
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)

    class Boom:
        def __reduce__(self):
            import pathlib

            return (pathlib.Path.touch, (marker,))

    evil[0] = Boom()
    path = tmp_path / "evil.smd"
    _write_raw(path, _header({"__ndarray__": "a0"}), {"a0": evil})
    # Sanity: the same bytes DO run code under pickle.
    pickle.loads(pickle.dumps(Boom()))
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UntrustedModelError):
        load(path)
    assert not marker.exists()


def test_untrusted_type_is_refused_before_import(tmp_path):
    path = tmp_path / "evil.smd"
    _write_raw(path, _header({"__object__": "os.system", "state": {"__dict__": {}}}))
    assert get_untrusted_types(path) == ["os.system"]
    with pytest.raises(UntrustedModelError, match="os.system"):
        load(path)


def test_prefix_trick_cannot_reach_foreign_types(tmp_path):
    path = tmp_path / "evil.smd"
    _write_raw(path, _header({"__object__": "secml_detect.persistence.importlib.import_module", "state": {"__dict__": {}}}))
    with pytest.raises(ModelFormatError):
        load(path)


def test_plain_pickle_file_is_not_a_model(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ModelFormatError):
        load(path)


def test_extra_members_are_refused(tmp_path):
    path = tmp_path / "m.smd"
    _write_raw(path, _header(None), extra_members={"payload.pkl": b"x"})
    with pytest.raises(ModelFormatError, match="not a secml_detect model"):
        load(path)


def test_version_mismatch_warns(tmp_path):
    path = tmp_path / "m.smd"
    save({"x": 1}, path)
    with zipfile.ZipFile(path) as zf:
        header = json.loads(zf.read("model.json"))
        arrays = zf.read("arrays.npz")
    header["versions"]["secml_detect"] = "0.0.1"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", json.dumps(header))
        zf.writestr("arrays.npz", arrays)
    with pytest.warns(ModelVersionWarning, match="0.0.1"):
        assert load(path) == {"x": 1}


def test_sgd_classifier_round_trip_and_keeps_learning(tmp_path):
    from sklearn.linear_model import SGDClassifier

    X = np.random.RandomState(0).randn(60, 3)
    y = (X[:, 0] > 0).astype(int)
    model = SGDClassifier(loss="log_loss", random_state=0).fit(X, y)
    save(model, tmp_path / "sgd.smd")
    loaded = load(tmp_path / "sgd.smd")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    loaded.partial_fit(X[:10], y[:10])  # the dropped loss object is rebuilt by partial_fit


def _strip_state_keys(path, keys) -> None:
    """Rewrite a model file as an older version wrote it: without the attributes ``keys``."""
    with zipfile.ZipFile(path) as zf:
        header, arrays = json.loads(zf.read("model.json")), zf.read("arrays.npz")

    def strip(node):
        if isinstance(node, dict):
            for key in keys:
                node.get("__dict__", {}).pop(key, None)
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(header["model"])
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", json.dumps(header))
        zf.writestr("arrays.npz", arrays)


def test_files_saved_before_new_parameters_still_load_and_score(tmp_path):
    from secml_detect import IPReputationClassifier, URLClassifier
    from secml_detect.datasets.urls import load_domain_sample

    bad = [f"203.0.113.{i}" for i in range(0, 200, 5)]
    good = [f"{a}.{b}.7.9" for a in (11, 23, 45, 67, 89) for b in range(1, 13)]
    ip = IPReputationClassifier(provider_ranges=None, interactions=False).fit(bad + good, [1] * len(bad) + [0] * len(good))
    domains, labels = load_domain_sample()
    url = URLClassifier(n_features=2**12, lm_bits=10, benign_weight=1.0).fit(domains[::2], labels[::2])
    for model, keys, probe in ((ip, ("interactions", "interaction_pairs_"), ["203.0.113.77", "45.3.7.9"]),
                               (url, ("benign_weight",), domains[1::20])):
        path = tmp_path / f"{type(model).__name__}.smd"
        save(model, path)
        _strip_state_keys(path, keys)
        old = load(path)
        with zipfile.ZipFile(path) as zf:
            assert not any(f'"{k}"' in zf.read("model.json").decode() for k in keys)
        np.testing.assert_allclose(old.threat_score(probe), model.threat_score(probe))
        assert old.get_params() == model.get_params()
