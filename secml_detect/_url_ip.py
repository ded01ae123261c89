"""IP-reputation columns for URLs whose host is an IP literal.

A URL such as ``http://203.0.113.7/login.php`` has no registered label for
the language models or the label n-grams to judge; what it has is an
address, and addresses cluster in dirty neighbourhoods. Given a fitted
:class:`~secml_detect.ip.IPReputationClassifier` (one column: its log-odds)
or :class:`~secml_detect.ip.IPSpatialFeatures` (its spatial columns), this
block scores the host of each IP-literal URL; every other row, and a
numeric host that the IP parser refuses (``http://999.1.2.3/``), gets zeros.

Only the IP-literal rows are decoded to Python strings, so the block costs
nothing on the (usual) batch without them.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .exceptions import InvalidParameterError

__all__ = ["check_ip_model", "ip_block_names", "ip_block"]


def _kind(ip_model) -> str:
    from .ip import IPReputationClassifier, IPSpatialFeatures

    if isinstance(ip_model, IPReputationClassifier):
        return "classifier"
    if isinstance(ip_model, IPSpatialFeatures):
        return "spatial"
    raise InvalidParameterError(
        f"ip_model must be None, a fitted IPReputationClassifier or IPSpatialFeatures, got {type(ip_model).__name__}")


def check_ip_model(ip_model) -> None:
    """Raise :class:`~secml_detect.exceptions.InvalidParameterError` unless ``ip_model`` is usable."""
    if ip_model is None:
        return
    _kind(ip_model)
    try:
        check_is_fitted(ip_model)
    except Exception as exc:  # NotFittedError; clone() also returns unfitted copies
        raise InvalidParameterError(
            "ip_model must be fitted before URLClassifier.fit (clone() copies it unfitted: set it again)") from exc


def ip_block_names(ip_model) -> list[str]:
    """Names of the block's columns (none without a model)."""
    if ip_model is None:
        return []
    if _kind(ip_model) == "classifier":
        return ["ip_reputation_logodds"]
    return ["ip_" + str(name) for name in ip_model.get_feature_names_out()]


def _host_strings(data: np.ndarray, spans: np.ndarray, rows: np.ndarray) -> list[str]:
    buf = data.tobytes() if rows.size else b""
    # Kernel spans of an IPv6 host include the brackets, which the parser accepts.
    return [buf[int(spans[i, 0]):int(spans[i, 1])].decode("ascii", "replace") for i in rows]


def ip_block(ip_model, data: np.ndarray, spans: np.ndarray, ip_host: np.ndarray) -> np.ndarray:
    """``(n, len(ip_block_names(ip_model)))`` columns: the IP model on each IP-literal host, 0 elsewhere.

    Parameters
    ----------
    ip_model : IPReputationClassifier, IPSpatialFeatures or None (fitted)
    data, spans : the ragged buffer and the host spans of :meth:`URLFeatures.lexical_ragged`
    ip_host : bool array (n,)
        The lexical ``ip_host`` flag.

    Examples
    --------
    >>> import numpy as np
    >>> from secml_detect import URLFeatures
    >>> from secml_detect.ip import IPReputationClassifier
    >>> rng = np.random.RandomState(0)
    >>> bad = [f"203.0.113.{i}" for i in range(1, 60)]
    >>> bg = [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.randint(1, 224, (200, 4))]
    >>> ipm = IPReputationClassifier(provider_ranges=None).fit(bad + bg, [1] * 59 + [0] * 200)
    >>> f = URLFeatures(n_features=16).fit()
    >>> r = f.to_ragged(["http://203.0.113.200/a", "http://example.com/", "http://999.1.2.3/"])
    >>> lex, spans = f.lexical_ragged(r)
    >>> z = ip_block(ipm, r.data, spans, lex[:, f.feature_names_.index("ip_host")] > 0)
    >>> bool(z[0, 0] > 0), float(z[1, 0]), float(z[2, 0])
    (True, 0.0, 0.0)
    """
    n = spans.shape[0]
    names = ip_block_names(ip_model)
    out = np.zeros((n, len(names)))
    rows = np.flatnonzero(ip_host)
    if ip_model is None or rows.size == 0:
        return out
    from .ip import ParsedAddresses, parse_addresses

    parsed = parse_addresses(_host_strings(data, spans, rows))
    ok = ~parsed.bad
    if not ok.any():
        return out
    good = ParsedAddresses(parsed.kind[ok], parsed.v4[ok], parsed.hi6[ok], {})
    if _kind(ip_model) == "classifier":
        # The parsed path: no bad-item warnings (invalid hosts were dropped above).
        out[rows[ok], 0] = ip_model._decision_parsed(good)
    else:
        out[rows[ok]] = np.nan_to_num(ip_model._features_in_order(good), nan=0.0)
    return out
