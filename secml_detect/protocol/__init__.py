"""Protocol anomaly detection: a generative model of normal application traffic.

:class:`ProtocolAnomalyModel` learns what a service's normal requests look
like (per service, endpoint and parameter, with empirical-Bayes shrinkage
between levels) and explains which field made a request unlikely. The
tolerant request parser lives in :mod:`secml_detect.protocol.parsing`.
"""

from .model import ProtocolAnomalyModel
from .parsing import ParsedRequest, parse_http_request, parse_item, parse_payload, parse_record

__all__ = ["ProtocolAnomalyModel", "ParsedRequest", "parse_http_request", "parse_record", "parse_payload",
           "parse_item"]
