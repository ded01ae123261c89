"""Safe save and load of fitted models: arrays + JSON, never pickle.

A model file (suffix ``.smd`` by convention) is a ZIP archive holding

* ``model.json``: the object tree, with versions of the libraries that wrote it;
* ``arrays.npz``: every numpy array, read with ``allow_pickle=False``.

Objects are rebuilt only for **trusted types**: classes defined in
``secml_detect`` and an explicit list of scikit-learn and scipy types. Before
anything is imported or instantiated, every type named in the file is checked
against that list; one unknown type rejects the whole file with
:class:`~secml_detect.exceptions.UntrustedModelError`. No code from the file
is ever run: objects are made with ``cls.__new__`` and given their stored
attributes, the way scikit-learn's own ``__setstate__`` expects.

Examples
--------
>>> import tempfile, os
>>> from sklearn.linear_model import LogisticRegression
>>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
>>> path = os.path.join(tempfile.mkdtemp(), "model.smd")
>>> save(model, path)
>>> load(path).predict([[0.9]]).tolist()
[1]
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import platform
import warnings
import zipfile
from os import PathLike
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._version import __version__
from .exceptions import ModelFormatError, ModelVersionWarning, UntrustedModelError

__all__ = ["save", "load", "get_untrusted_types", "TRUSTED_TYPES"]

FORMAT_NAME = "secml_detect.model"
FORMAT_VERSION = 1
_MAX_MEMBER_BYTES = 2 * 1024**3  # refuse zip bombs before reading

#: Types outside secml_detect that a model file may contain.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.linear_model._stochastic_gradient.SGDOneClassSVM",
        "sklearn.linear_model._ridge.RidgeClassifier",
        "sklearn.naive_bayes.MultinomialNB",
        "sklearn.naive_bayes.ComplementNB",
        "sklearn.naive_bayes.BernoulliNB",
        "sklearn.isotonic.IsotonicRegression",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._data.MaxAbsScaler",
        "sklearn.preprocessing._label.LabelEncoder",
        "sklearn.decomposition._pca.PCA",
        "sklearn.calibration._SigmoidCalibration",
    }
)
_TRUSTED_PREFIX = "secml_detect."
# Attributes rebuilt by the estimator itself when needed (compiled objects with no
# dict state): they are left out when saving.
_TRANSIENT_ATTRIBUTES = {
    "sklearn.linear_model._stochastic_gradient.SGDClassifier": ("_loss_function_",),
    "sklearn.linear_model._stochastic_gradient.SGDOneClassSVM": ("_loss_function_",),
}
# Scalar types that may appear as parameter values (e.g. ``dtype=np.float32``).
_TRUSTED_SCALAR_TYPES = {
    f"numpy.{name}": getattr(np, name)
    for name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint32", "bool_")
}
_TRUSTED_SCALAR_TYPES.update({"builtins.float": float, "builtins.int": int, "builtins.bool": bool, "builtins.str": str})


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_trusted(name: str, extra: frozenset[str]) -> bool:
    return name.startswith(_TRUSTED_PREFIX) or name in TRUSTED_TYPES or name in extra


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _array(self, arr: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        return key

    def encode(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int) and not isinstance(obj, bool):
            return obj
        if isinstance(obj, float):
            return obj if np.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                return {"__objarray__": [self.encode(v, f"{where}[]") for v in obj.ravel().tolist()], "shape": list(obj.shape)}
            return {"__ndarray__": self._array(obj)}
        if isinstance(obj, np.generic):
            return {"__npscalar__": self._array(np.asarray(obj))}
        if isinstance(obj, np.dtype):
            if obj.names is None:
                return {"__dtype__": obj.str}
            return {"__sdtype__": self._array(np.zeros(0, dtype=obj))}
        if isinstance(obj, bytes):
            return {"__bytes__": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, (set, frozenset)):
            kind = "__frozenset__" if isinstance(obj, frozenset) else "__set__"
            return {kind: [self.encode(v, f"{where}{{}}") for v in sorted(obj, key=repr)]}
        if isinstance(obj, dict):
            if all(isinstance(k, str) for k in obj):
                return {"__dict__": {k: self.encode(v, f"{where}.{k}") for k, v in obj.items()}}
            return {"__mapping__": [[self.encode(k, where), self.encode(v, f"{where}[{k!r}]")] for k, v in obj.items()]}
        if sp.issparse(obj):
            m = obj.tocsr()
            return {
                "__sparse__": "csr",
                "shape": list(m.shape),
                "data": self._array(m.data),
                "indices": self._array(m.indices),
                "indptr": self._array(m.indptr),
            }
        if isinstance(obj, type):
            name = _type_name(obj)
            if name not in _TRUSTED_SCALAR_TYPES and not name.startswith(_TRUSTED_PREFIX):
                raise TypeError(f"cannot save type object {name} at {where}")
            return {"__type__": name}
        if hasattr(obj, "__dict__") or hasattr(obj, "__getstate__"):
            state = obj.__getstate__() if hasattr(obj, "__getstate__") else vars(obj)
            transient = _TRANSIENT_ATTRIBUTES.get(_type_name(type(obj)), ())
            if transient and isinstance(state, dict):
                state = {k: v for k, v in state.items() if k not in transient}
            if not isinstance(state, dict):
                raise TypeError(f"cannot save {_type_name(type(obj))} at {where}: its state is not a dict")
            return {"__object__": _type_name(type(obj)), "state": self.encode(state, where)}
        raise TypeError(f"cannot save object of type {type(obj).__name__} at {where}")


def save(model: Any, path: str | PathLike, *, metadata: dict | None = None) -> None:
    """Write ``model`` to ``path`` in the safe secml_detect format.

    Parameters
    ----------
    model : estimator
        A (fitted) secml_detect detector or a trusted scikit-learn estimator.
    path : str or path-like
        Destination file (conventionally ``*.smd``).
    metadata : dict, optional
        JSON-serialisable user metadata stored alongside (for example the
        training corpus description).
    """
    writer = _Writer()
    tree = writer.encode(model, "model")
    import sklearn
    import scipy

    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": {
            "secml_detect": __version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "python": platform.python_version(),
        },
        "metadata": metadata or {},
        "model": tree,
    }
    buf = io.BytesIO()
    np.savez_compressed(buf, **writer.arrays)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.json", json.dumps(header))
        zf.writestr("arrays.npz", buf.getvalue())


def _read(path: str | PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if names != {"model.json", "arrays.npz"}:
                raise ModelFormatError(f"{path}: not a secml_detect model file (members {sorted(names)})")
            for info in zf.infolist():
                if info.file_size > _MAX_MEMBER_BYTES:
                    raise ModelFormatError(f"{path}: member {info.filename} is too large")
            header = json.loads(zf.read("model.json"))
            npz = np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False)
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{path}: not a secml_detect model file ({exc})") from exc
    except ValueError as exc:
        if isinstance(exc, ModelFormatError):
            raise
        # numpy refuses object arrays without pickle: a crafted file.
        raise UntrustedModelError(f"{path}: refused array data ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME or "model" not in header:
        raise ModelFormatError(f"{path}: not a secml_detect model file")
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(f"{path}: unsupported format version {header.get('format_version')!r}")
    return header, arrays


def _named_types(node: Any, found: set[str]) -> set[str]:
    if isinstance(node, list):
        for v in node:
            _named_types(v, found)
    elif isinstance(node, dict):
        for key in ("__object__", "__type__"):
            if key in node:
                found.add(str(node[key]))
        for v in node.values():
            _named_types(v, found)
    return found


def get_untrusted_types(path: str | PathLike, *, trusted: list[str] | None = None) -> list[str]:
    """Names of the types in a model file that :func:`load` would refuse.

    Nothing is imported or instantiated.
    """
    header, _ = _read(path)
    extra = frozenset(trusted or ())
    names = _named_types(header["model"], set())
    return sorted(n for n in names if not _is_trusted(n, extra) and n not in _TRUSTED_SCALAR_TYPES)


def _resolve(name: str, extra: frozenset[str]) -> type:
    if name in _TRUSTED_SCALAR_TYPES:
        return _TRUSTED_SCALAR_TYPES[name]
    if not _is_trusted(name, extra):
        raise UntrustedModelError(f"type {name} is not trusted")
    module_name, _, qualname = name.rpartition(".")
    # Walk up for nested classes (module.Outer.Inner).
    while module_name:
        try:
            module = importlib.import_module(module_name)
            break
        except ImportError:
            module_name, _, outer = module_name.rpartition(".")
            qualname = f"{outer}.{qualname}"
    else:
        raise ModelFormatError(f"cannot find type {name}")
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not isinstance(obj, type) or _type_name(obj) != name:
        raise ModelFormatError(f"cannot find type {name}")
    return obj


class _Reader:
    def __init__(self, arrays: dict[str, np.ndarray], extra: frozenset[str]) -> None:
        self.arrays = arrays
        self.extra = extra

    def _array(self, key: Any) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays:
            raise ModelFormatError(f"missing array {key!r}")
        return self.arrays[key]

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise ModelFormatError(f"malformed node {node!r:.80}")
        if "__dict__" in node:
            return {k: self.decode(v) for k, v in node["__dict__"].items()}
        if "__ndarray__" in node:
            return self._array(node["__ndarray__"])
        if "__npscalar__" in node:
            return self._array(node["__npscalar__"])[()]
        if "__float__" in node:
            return float(node["__float__"])
        if "__tuple__" in node:
            return tuple(self.decode(v) for v in node["__tuple__"])
        if "__set__" in node:
            return {self.decode(v) for v in node["__set__"]}
        if "__frozenset__" in node:
            return frozenset(self.decode(v) for v in node["__frozenset__"])
        if "__mapping__" in node:
            return {self.decode(k): self.decode(v) for k, v in node["__mapping__"]}
        if "__bytes__" in node:
            return base64.b64decode(node["__bytes__"])
        if "__dtype__" in node:
            return np.dtype(str(node["__dtype__"]))
        if "__sdtype__" in node:
            return self._array(node["__sdtype__"]).dtype
        if "__objarray__" in node:
            values = [self.decode(v) for v in node["__objarray__"]]
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out.reshape(node["shape"])
        if "__sparse__" in node:
            return sp.csr_matrix(
                (self._array(node["data"]), self._array(node["indices"]), self._array(node["indptr"])),
                shape=tuple(node["shape"]),
            )
        if "__type__" in node:
            return _resolve(node["__type__"], self.extra)
        if "__object__" in node:
            cls = _resolve(node["__object__"], self.extra)
            state = self.decode(node["state"])
            obj = cls.__new__(cls)
            if hasattr(obj, "__setstate__"):
                obj.__setstate__(state)
            else:
                obj.__dict__.update(state)
            return obj
        raise ModelFormatError(f"unknown node kind {sorted(node)!r:.80}")


def load(path: str | PathLike, *, trusted: list[str] | None = None) -> Any:
    """Read a model written by :func:`save`, without running code from the file.

    Parameters
    ----------
    path : str or path-like
    trusted : list of str, optional
        Extra fully qualified type names to trust (after checking them with
        :func:`get_untrusted_types`).

    Raises
    ------
    UntrustedModelError
        The file names a type that is not trusted (nothing was instantiated).
    ModelFormatError
        The file is not a valid model file.

    Warns
    -----
    ModelVersionWarning
        The file was written with other versions of secml_detect or scikit-learn.
    """
    header, arrays = _read(path)
    extra = frozenset(trusted or ())
    names = _named_types(header["model"], set())
    untrusted = sorted(n for n in names if not _is_trusted(n, extra) and n not in _TRUSTED_SCALAR_TYPES)
    if untrusted:
        raise UntrustedModelError(f"{path}: untrusted types {untrusted}; pass trusted=[...] only if you trust them")
    import sklearn

    versions = header.get("versions", {})
    for lib, installed in (("secml_detect", __version__), ("scikit-learn", sklearn.__version__)):
        if versions.get(lib) not in (None, installed):
            warnings.warn(
                ModelVersionWarning(f"{path} was saved with {lib} {versions.get(lib)}, installed is {installed}"),
                stacklevel=2,
            )
    with warnings.catch_warnings():
        # scikit-learn's own version warning is replaced by ModelVersionWarning above.
        warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
        try:
            return _Reader(arrays, extra).decode(header["model"])
        except ModelFormatError:
            raise
        except (TypeError, KeyError, ValueError, AttributeError, IndexError, OverflowError, RecursionError) as exc:
            raise ModelFormatError(f"{path}: malformed model data ({type(exc).__name__}: {exc})") from exc
