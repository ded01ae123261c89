"""Signatures: IOC sets, field rules, Sigma and YARA rules in one explained matcher.

:class:`SignatureMatcher` is the public entry point; rules are
:class:`~secml_detect.signatures.rules.Rule` objects whose conditions are
built from :class:`Field`, :class:`Indicator`, ``&``, ``|`` and ``~``, or
loaded from files (:mod:`~secml_detect.signatures.iocfiles`,
:mod:`~secml_detect.signatures.sigma`, :mod:`~secml_detect.signatures.yara`).
"""

from .indicators import DEFAULT_FIELDS, INDICATOR_KINDS, IPRangeIndex, normalize_indicator, normalize_url
from .matcher import Hit, SignatureMatcher
from .rules import SEVERITY_SCORES, AllOf, AnyOf, Field, Indicator, Not, Rule

__all__ = [
    "SignatureMatcher",
    "Hit",
    "Rule",
    "Field",
    "Indicator",
    "AllOf",
    "AnyOf",
    "Not",
    "SEVERITY_SCORES",
    "DEFAULT_FIELDS",
    "INDICATOR_KINDS",
    "IPRangeIndex",
    "normalize_indicator",
    "normalize_url",
]
