"""Build a HybridDetector from a JSON/YAML config (used by the CLI).

Example config (YAML or JSON)::

    components:
      - {name: payload, detector: ByteFrequencyModel, column: payload}
      - {name: url, detector: URLClassifier, column: url, params: {random_state: 0}}
    signatures:
      indicators: {ip: ["203.0.113.7"], domain: ["evil.example"]}
      rules: [tor_exits.txt, sigma/proc_creation.yml]   # IOC lists, Sigma, YARA, JSON Lines rules
    params: {alert_threshold: 0.5, random_state: 0}

Detector names are looked up among secml_detect's public classes only: a
config can never name arbitrary code to import. YAML is read with the safe
loader.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from ..base import BaseDetector
from ..exceptions import InvalidParameterError
from .detector import HybridDetector

__all__ = ["load_config", "build_from_config"]


def load_config(path: str | Path) -> dict:
    text = Path(path).read_text(encoding="utf-8")
    try:
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            config = yaml.safe_load(text)  # the safe loader builds plain data only, never objects
        else:
            config = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise InvalidParameterError(f"{path}: not a valid config ({exc})") from exc
    except Exception as exc:  # yaml.YAMLError and its subclasses (tags such as !!python/object)
        raise InvalidParameterError(f"{path}: not a valid config ({type(exc).__name__}: {exc})") from exc
    if not isinstance(config, dict):
        raise InvalidParameterError(f"{path}: the config must be a mapping")
    return config


def _detector_class(name: str) -> type:
    import secml_detect

    if name not in secml_detect.__all__:
        raise InvalidParameterError(f"unknown detector {name!r}; choose from secml_detect's public detectors")
    cls = getattr(secml_detect, name)
    if not (inspect.isclass(cls) and issubclass(cls, BaseDetector)) or cls is HybridDetector:
        raise InvalidParameterError(f"{name!r} is not a component detector")
    return cls


def build_from_config(config: dict, *, base_dir: str | Path = ".") -> HybridDetector:
    """A (not yet fitted) HybridDetector described by ``config``."""
    components = []
    for k, spec in enumerate(config.get("components", [])):
        try:
            cls = _detector_class(spec["detector"])
            components.append((spec.get("name", spec["column"]), cls(**spec.get("params", {})), spec["column"]))
        except KeyError as exc:
            raise InvalidParameterError(f"component {k}: missing key {exc}") from exc
    matcher = None
    sig = config.get("signatures")
    if sig:
        from ..signatures import SignatureMatcher

        rules = [str(Path(base_dir) / path) for path in sig.get("rules", [])]
        matcher = SignatureMatcher(rules=rules, indicators=sig.get("indicators"))
    return HybridDetector(components, matcher, **config.get("params", {}))
