"""secml_detect: security machine-learning detectors.

Signature rules catch what is known; learned models surface what is new;
analyst feedback turns confirmed model findings into new signatures.

Public names are imported lazily on first use, so ``import secml_detect``
stays fast and optional engines are only needed by the parts that use them.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from ._version import __version__

# Public name -> module that defines it. Each detector issue owns its block.
_LAZY: dict[str, str] = {
    # Foundation: contract, errors, persistence.
    "BaseDetector": "secml_detect.base",
    "ClassifierDetectorMixin": "secml_detect.base",
    "OutlierDetectorMixin": "secml_detect.base",
    "Explanation": "secml_detect.base",
    "Contribution": "secml_detect.base",
    "TailCalibrator": "secml_detect.base",
    "save": "secml_detect.persistence",
    "load": "secml_detect.persistence",
    "InvalidItemError": "secml_detect.exceptions",
    "BadInputWarning": "secml_detect.exceptions",
    "ByteFrequencyModel": "secml_detect.payl",

    # Signatures.
    "SignatureMatcher": "secml_detect.signatures",

    # URLs and IPs.
    "URLClassifier": "secml_detect.url",
    "URLFeatures": "secml_detect.url",
    "IPReputationClassifier": "secml_detect.ip",
    "IPSpatialFeatures": "secml_detect.ip",

    # File types.
    "FileTypeDetector": "secml_detect.filetype",

    # Protocol anomalies.
    "ProtocolAnomalyModel": "secml_detect.protocol",

    # Call sequences and process baselines.
    "APICallSequenceModel": "secml_detect.sequence",
    "APICallSequenceClassifier": "secml_detect.sequence",
    "ProcessBaseline": "secml_detect.sequence",
    "SequenceKNNModel": "secml_detect.sequence",

    # Rules and models together.
    "HybridDetector": "secml_detect.hybrid",
    "Alert": "secml_detect.hybrid",
}


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# Names whose module exists in this build (detector issues land one by one).
__all__ = ["__version__"] + [name for name, module in _LAZY.items() if _available(module)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'secml_detect' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
