"""Hostile model files: arbitrary bytes and arbitrary object trees never crash `load` or run code."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from secml_detect.exceptions import ModelFormatError
from secml_detect.persistence import load

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
markers = st.sampled_from(["__dict__", "__ndarray__", "__tuple__", "__set__", "__mapping__", "__bytes__", "__dtype__",
                           "__sdtype__", "__objarray__", "__sparse__", "__type__", "__object__", "__float__",
                           "__npscalar__", "__frozenset__", "state", "shape"])
trees = st.recursive(
    json_leaf,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.one_of(markers, st.text(max_size=8)), children, max_size=3)),
    max_leaves=20,
)
type_names = st.sampled_from(["secml_detect.payl.ByteFrequencyModel", "secml_detect._ragged.Vocabulary",
                              "sklearn.linear_model._logistic.LogisticRegression", "builtins.eval", "os.system",
                              "secml_detect.nope.Thing", "numpy.float64"])


@settings(deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("f") / "m.smd"
    path.write_bytes(data)
    try:
        load(path)
    except ModelFormatError:
        pass


@settings(deadline=None)
@given(trees, type_names)
def test_arbitrary_object_trees(tmp_path_factory, tree, type_name):
    if isinstance(tree, dict) and "__object__" in tree:
        tree["__object__"] = type_name
    path = tmp_path_factory.mktemp("f") / "m.smd"
    buf = io.BytesIO()
    np.savez(buf, a0=np.arange(3))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model.json", json.dumps({"format": "secml_detect.model", "format_version": 1, "model": tree}))
        zf.writestr("arrays.npz", buf.getvalue())
    try:
        load(path)
    except ModelFormatError:
        pass
