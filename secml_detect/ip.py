"""IP-address reputation from the spatial structure of the address space.

Blocklists cannot keep up: addresses are re-assigned and new ones appear every
day. But bad addresses cluster — in the same /24s, /16s and provider blocks —
and the neighbourhood of a listed address predicts where the next listings
appear. :class:`IPSpatialFeatures` turns an address into numbers that describe
its neighbourhood in a set of labelled addresses (a blocklist snapshot plus
background), and :class:`IPReputationClassifier` learns from them which
neighbourhoods make an unseen address suspicious.

Addresses
---------
IPv4 dotted quads (strict: four decimal octets, no leading zeros, as
:mod:`ipaddress`), integers, :class:`ipaddress.IPv4Address` /
:class:`ipaddress.IPv6Address`, bytes, surrounding whitespace and ``[...]``
brackets around IPv6. IPv4-mapped IPv6 addresses (``::ffff:1.2.3.4``) are
scored as the IPv4 address. Other IPv6 addresses are scored on the same
features computed over their top 64 bits, with the levels /16, /32, /48,
/56, /64 standing in for IPv4's /8, /16, /20, /24, /32 (the feature names keep
the IPv4 labels). Integers below ``2**32`` are IPv4, larger ones (below
``2**128``) IPv6.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from ._kernels.ip import build_prefix_forest, lookup_prefix_forest, parse_ipv4
from ._kernels.ipfeatures import (
    NO_BUCKETS,
    bucket_offsets,
    hierarchy_lookup,
    B8_LOG_BAD,
    B8_LOG_BENIGN,
    B8_LOGIT,
    B8_NODE,
    B16_BAD_HI,
    B16_BAD_LO,
    B16_CHILD_HI,
    B16_CHILD_LO,
    B16_LOG_BAD,
    B16_LOG_BENIGN,
    B16_LOGIT,
    B16_NODE,
    B16_PRESENT,
    B16_TOR_HI,
    B16_TOR_LO,
    B16_WIDTH,
    ipv4_block,
    pairwise_scores,
    provider_block,
    segment_lookup,
    nearest_distance,
    prefix_counts,
    split_lines,
)
from ._ragged import to_ragged_bytes
from .base import BaseDetector, ClassifierDetectorMixin, Contribution, Explanation, handle_bad_items
from .exceptions import InvalidParameterError
from ._netaddr import inet_aton_value
from .hierarchy import BetaBinomialHierarchy

__all__ = ["IPReputationClassifier", "IPSpatialFeatures", "parse_addresses", "ParsedAddresses", "INTERACTION_FEATURES"]

LEVELS = ("/8", "/16", "/20", "/24", "/32")
_V4_SHIFTS = np.array([24, 16, 12, 8, 0], dtype=np.int64)
_V4_BUCKET_SHIFTS = np.array([0, 0, 4, 8, 16], dtype=np.int64)
_V6_SHIFTS = (48, 32, 16, 8)  # /16 /32 /48 /56 on the top 64 bits; /64 is the whole value
_SIGN64 = np.uint64(1 << 63)
_TOR_PREFIXES = {4: np.array([32, 24, 16], dtype=np.int64), 6: np.array([64, 56, 32], dtype=np.int64)}

#: Provider -> category of the published ranges (``ip_provider_ranges``).
PROVIDER_CATEGORIES = {
    "amazon": "cloud", "digitalocean": "cloud", "linode": "cloud", "vultr": "cloud",
    "oracle": "cloud", "microsoft": "cloud", "google": "cloud",
    "cloudflare": "service", "facebook": "service", "twitter": "service",
    "telegram": "service", "github": "service",
    "bing": "crawler", "googlebot": "crawler", "duckduckbot": "crawler",
    "duckassistbot": "crawler", "openai": "crawler", "perplexity": "crawler",
    "pingdom": "monitoring", "statuscake": "monitoring",
    "protonvpn": "vpn_proxy", "apple-proxy": "vpn_proxy",
}
CATEGORIES = ("cloud", "service", "crawler", "monitoring", "vpn_proxy", "other")

_SCORE_CHUNK = 4096
_RATE_COLS = np.arange(2, 15, 3)
_LOG1P_TABLE = np.log1p(np.arange(4097, dtype=np.float64))
_LOG1P_TABLE.flags.writeable = False


def _feature_names() -> list[str]:
    names = []
    for lev in LEVELS:
        names += [f"bad{lev}", f"benign{lev}", f"logit_rate{lev}"]
    names += ["nearest_bad_log2_distance", "nearest_bad_common_prefix", "in_provider_range"]
    names += [f"provider_{c}" for c in CATEGORIES]
    names += ["provider_bad", "provider_benign", "provider_logit_rate", "range_bad", "range_benign", "range_logit_rate"]
    names += ["tor_exit", "tor/24", "tor/16", "ipv6"]
    return names


FEATURE_NAMES = tuple(_feature_names())
N_FEATURES = len(FEATURE_NAMES)

#: Columns whose pairwise products :class:`IPReputationClassifier` adds
#: (``interactions=True``): a count at one level means more when the
#: neighbouring levels, the nearest listed address or the provider agree.
#: Chosen on a pseudo-temporal validation inside the training period
#: (``benchmarks/bench_ip.py``), never on the test window.
INTERACTION_FEATURES = ("bad/24", "bad/20", "bad/16", "nearest_bad_log2_distance",
                        "nearest_bad_common_prefix", "provider_cloud", "range_logit_rate")


def _interaction_pairs(enabled: bool) -> np.ndarray:
    """``(n_pairs, 2)`` column indices of the products the classifier uses."""
    if not enabled:
        return np.zeros((0, 2), dtype=np.int64)
    idx = [FEATURE_NAMES.index(name) for name in INTERACTION_FEATURES]
    return np.array([(a, b) for i, a in enumerate(idx) for b in idx[i + 1:]], dtype=np.int64).reshape(-1, 2)


def _with_products(Z: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``Z`` with the product columns of ``pairs`` appended."""
    return np.hstack([Z, Z[:, pairs[:, 0]] * Z[:, pairs[:, 1]]]) if len(pairs) else Z


# --------------------------------------------------------------------------- parsing


class ParsedAddresses:
    """A batch of addresses as integers.

    Attributes
    ----------
    kind : int8 array (n,)
        4, 6, or 0 for an item that is not an address.
    v4 : uint32 array (n,)
        The IPv4 value (0 elsewhere).
    hi6 : uint64 array (n,)
        The top 64 bits of an IPv6 address (0 elsewhere).
    reasons : dict int -> str
        Why each bad item was refused.
    """

    __slots__ = ("kind", "v4", "hi6", "reasons")

    def __init__(self, kind, v4, hi6, reasons) -> None:
        self.kind, self.v4, self.hi6, self.reasons = kind, v4, hi6, reasons

    def __len__(self) -> int:
        return self.kind.shape[0]

    @property
    def bad(self) -> np.ndarray:
        return self.kind == 0

    def permute(self, order: np.ndarray) -> "ParsedAddresses":
        """The batch reordered by the permutation ``order`` (reasons renumbered)."""
        reasons = {}
        if self.reasons:
            inverse = np.empty(len(order), dtype=np.int64)
            inverse[order] = np.arange(len(order))
            reasons = {int(inverse[i]): r for i, r in self.reasons.items()}
        return ParsedAddresses(self.kind[order], self.v4[order], self.hi6[order], reasons)

    def sort_order(self) -> np.ndarray:
        """A permutation visiting the addresses in increasing order (IPv4 first).

        Lookups in sorted order sweep the tables instead of jumping around in
        memory, which is several times faster for large random batches.
        """
        if bool((self.kind == 4).all()):
            return np.argsort(self.v4)
        key = np.where(self.kind == 4, self.v4.astype(np.uint64), self.hi6)
        return np.lexsort((key, self.kind != 4))

    def take(self, start: int, stop: int) -> "ParsedAddresses":
        reasons = {i - start: r for i, r in self.reasons.items() if start <= i < stop}
        return ParsedAddresses(self.kind[start:stop], self.v4[start:stop], self.hi6[start:stop], reasons)


def _parse_one(item) -> tuple[int, int, str]:
    """``(kind, value, reason)`` of one item by the slow, obvious route."""
    if isinstance(item, (bool, np.bool_)):
        return 0, 0, "a boolean is not an IP address"
    if isinstance(item, (int, np.integer)):
        v = int(item)
        if 0 <= v < 1 << 32:
            return 4, v, ""
        if (1 << 32) <= v < 1 << 128:
            return 6, v, ""
        return 0, 0, "integer out of the IPv4/IPv6 range"
    if isinstance(item, ipaddress.IPv4Address):
        return 4, int(item), ""
    if isinstance(item, ipaddress.IPv6Address):
        return (4, int(item.ipv4_mapped), "") if item.ipv4_mapped is not None else (6, int(item), "")
    if isinstance(item, (bytes, bytearray, memoryview)):
        try:
            item = bytes(item).decode("ascii")
        except UnicodeDecodeError:
            return 0, 0, "not a valid IPv4 or IPv6 address (non-ASCII bytes)"
    if not isinstance(item, str):
        return 0, 0, f"not an IP address ({type(item).__name__})"
    text = item.strip()
    if len(text) > 2 and text[0] == "[" and text[-1] == "]":
        text = text[1:-1]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        # Decimal, hex, octal and short forms (what inet_aton and browsers accept).
        aton = inet_aton_value(text)
        if aton is None:
            return 0, 0, "not a valid IPv4 or IPv6 address"
        return 4, aton, ""
    return _parse_one(addr)


def parse_addresses(X) -> ParsedAddresses:
    """Parse a batch of addresses (strings, bytes, integers, ``ipaddress`` objects).

    Clean dotted quads take the fast path (one joined buffer, parsed by the
    numba kernel :func:`secml_detect._kernels.ip.parse_ipv4`); everything
    else (IPv6, whitespace, objects) is parsed item by item with
    :mod:`ipaddress`. Nothing is dropped or reordered. A numpy integer array
    (1-D, or one column) is read as IPv4 values; values outside
    ``[0, 2**32)`` are bad items. In a list, Python integers of ``2**32`` and
    above are IPv6 addresses.

    Examples
    --------
    >>> p = parse_addresses(["192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1", "nope", 16909060])
    >>> p.kind.tolist(), int(p.v4[0]), int(p.v4[4]), sorted(p.reasons)
    ([4, 6, 4, 0, 4], 3221225985, 16909060, [3])
    """
    if isinstance(X, (str, bytes)):
        raise TypeError("expected a batch (a list of addresses), got a single str/bytes")
    if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1:
        X = X[:, 0]
    if isinstance(X, np.ndarray) and X.ndim != 1:
        raise ValueError(f"expected a 1-D batch of addresses, got an array of shape {X.shape}")
    if isinstance(X, np.ndarray) and X.dtype.kind in "iu":
        vals = X.astype(np.int64, copy=False) if X.dtype != np.uint64 else X
        kind = np.where((vals >= 0) & (vals < (1 << 32)), 4, 0).astype(np.int8)
        reasons = {int(i): "integer out of the IPv4 range" for i in np.flatnonzero(kind == 0)}
        v4 = np.where(kind == 4, vals, 0).astype(np.uint32)
        return ParsedAddresses(kind, v4, np.zeros(len(kind), dtype=np.uint64), reasons)
    if isinstance(X, np.ndarray):
        X = X.tolist()
    elif not isinstance(X, (list, tuple)):
        X = list(X)
    n = len(X)
    kind = np.zeros(n, dtype=np.int8)
    v4 = np.zeros(n, dtype=np.uint32)
    hi6 = np.zeros(n, dtype=np.uint64)
    reasons: dict[int, str] = {}
    if n == 0:
        return ParsedAddresses(kind, v4, hi6, reasons)
    ok = False
    try:
        buf = np.frombuffer("\n".join(X).encode("utf-8", "surrogatepass"), dtype=np.uint8)
        data, offsets, ok = split_lines(buf, n)
    except TypeError:  # not all str
        pass
    if not ok:
        ragged = to_ragged_bytes(X)
        data, offsets = ragged.data, ragged.offsets
    vals, valid = parse_ipv4(data, offsets)
    v4[valid] = vals[valid]
    kind[valid] = 4
    for i in np.flatnonzero(~valid).tolist():
        k, value, reason = _parse_one(X[i])
        kind[i] = k
        if k == 4:
            v4[i] = value
        elif k == 6:
            hi6[i] = value >> 64
        else:
            reasons[i] = reason
    return ParsedAddresses(kind, v4, hi6, reasons)


# --------------------------------------------------------------------------- provider ranges


def _parse_ranges(ranges) -> dict:
    """Sorted interval forests (v4 on 32 bits, v6 on the top 64 bits) of ``(provider, cidr)`` pairs."""
    providers: list[str] = []
    pid: dict[str, int] = {}
    rows = {4: ([], [], []), 6: ([], [], [])}
    seen = set()
    for provider, cidr in ranges:
        provider = str(provider)
        net = ipaddress.ip_network(str(cidr).strip(), strict=False)
        if net.version == 4:
            start, end = int(net.network_address), int(net.broadcast_address)
        else:
            start, end = int(net.network_address) >> 64, int(net.broadcast_address) >> 64
        key = (net.version, start, end)
        if key in seen:  # identical block published by two providers: keep the first
            continue
        seen.add(key)
        if provider not in pid:
            pid[provider] = len(providers)
            providers.append(provider)
        rows[net.version][0].append(start)
        rows[net.version][1].append(end)
        rows[net.version][2].append(pid[provider])
    out = {"providers": providers}
    for version, dtype in ((4, np.uint32), (6, np.uint64)):
        starts = np.array(rows[version][0], dtype=dtype)
        ends = np.array(rows[version][1], dtype=dtype)
        prov = np.array(rows[version][2], dtype=np.int64)
        order, parent = build_prefix_forest(starts, ends)
        out[version] = (starts[order], ends[order], parent, prov[order])
    return out


@functools.lru_cache(maxsize=2)
def _bundled_ranges() -> dict:
    from .datasets.ips import load_provider_ranges

    return _parse_ranges(load_provider_ranges(bundled=True))


# --------------------------------------------------------------------------- features


def _level_keys(values: np.ndarray, version: int) -> np.ndarray:
    """Node key of each address at each level, coarsest first: int64 (n, 5)."""
    if version == 4:
        v = values.astype(np.int64)
        return v[:, None] >> _V4_SHIFTS[None, :]
    v = values.astype(np.uint64)
    keys = np.empty((len(v), 5), dtype=np.int64)
    for j, s in enumerate(_V6_SHIFTS):
        keys[:, j] = (v >> np.uint64(s)).astype(np.int64)
    keys[:, 4] = (v ^ _SIGN64).view(np.int64)
    return keys


def _ipv4_tables(h: BetaBinomialHierarchy, bad: np.ndarray, tor: np.ndarray) -> tuple:
    """Arguments of :func:`ipv4_block` after ``(q, ex, out, loo)``."""
    sizes = [len(k) for k in h.keys_]
    lstart = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    keys = np.concatenate(h.keys_).astype(np.int64)
    children = np.zeros((len(keys), 2), dtype=np.int64)
    for lev in (1, 2, 3):
        delta = int(_V4_SHIFTS[lev] - _V4_SHIFTS[lev + 1])
        here, below = h.keys_[lev].astype(np.int64), h.keys_[lev + 1].astype(np.int64)
        children[lstart[lev]:lstart[lev + 1], 0] = np.searchsorted(below, here << delta) + lstart[lev + 1]
        children[lstart[lev]:lstart[lev + 1], 1] = np.searchsorted(below, (here + 1) << delta) + lstart[lev + 1]
    succ = np.concatenate(h.successes_).astype(np.float64)
    trials = np.concatenate(h.trials_).astype(np.float64)
    rates = np.concatenate(h.rates_).astype(np.float64)
    values = _node_values(succ, trials, rates)
    root = float(_logit(np.array([h.global_rate_]))[0])

    block = np.zeros((1 << 16, B16_WIDTH))
    all16 = np.arange(1 << 16)
    # /8 node of every /16 (absent: zero counts, the root rate)
    node8 = np.full(256, -1, dtype=np.int64)
    node8[h.keys_[0]] = np.arange(sizes[0]) + lstart[0]
    n8 = node8[all16 >> 8]
    block[:, B8_NODE] = n8
    block[:, B8_LOGIT] = root
    has8 = n8 >= 0
    block[has8, B8_LOG_BAD] = values[n8[has8], 0]
    block[has8, B8_LOG_BENIGN] = values[n8[has8], 1]
    block[has8, B8_LOGIT] = values[n8[has8], 2]
    # /16 node (absent: zero counts, the /8 rate; no children)
    n16 = np.full(1 << 16, -1, dtype=np.int64)
    n16[h.keys_[1]] = np.arange(sizes[1]) + lstart[1]
    has16 = n16 >= 0
    block[:, B16_NODE] = n16
    block[:, B16_PRESENT] = has16
    block[:, B16_LOGIT] = block[:, B8_LOGIT]
    block[has16, B16_LOG_BAD] = values[n16[has16], 0]
    block[has16, B16_LOG_BENIGN] = values[n16[has16], 1]
    block[has16, B16_LOGIT] = values[n16[has16], 2]
    block[has16, B16_CHILD_LO] = children[n16[has16], 0]
    block[has16, B16_CHILD_HI] = children[n16[has16], 1]
    # bounds of each /16 in the sorted bad and Tor tables
    for lo_col, hi_col, table in ((B16_BAD_LO, B16_BAD_HI, bad), (B16_TOR_LO, B16_TOR_HI, tor)):
        edges = np.searchsorted(table.astype(np.int64), np.arange((1 << 16) + 1, dtype=np.int64) << 16)
        block[:, lo_col] = edges[:-1]
        block[:, hi_col] = edges[1:]
    node_values = np.ascontiguousarray(np.concatenate([values, children.astype(np.float64)], axis=1))
    return (block, keys, succ, trials, node_values, bad, tor, _LOG1P_TABLE)


_SEGMENT_CACHE: dict = {}


def _build_segments(starts, ends, parent, offset: int, version: int) -> tuple:
    """``(cuts, values, bucket offsets, bucket shift)`` for :func:`segment_lookup`."""
    top = np.iinfo(starts.dtype).max
    cuts = np.unique(np.concatenate([starts, ends[ends < top] + starts.dtype.type(1)]))
    inner = lookup_prefix_forest(cuts, np.ones(len(cuts), dtype=np.bool_), starts, ends, parent)
    values = np.where(inner >= 0, inner + offset, -1).astype(np.int64)
    if version == 4 and len(cuts):
        return cuts, values, bucket_offsets(cuts, 16).astype(np.int64), 16
    return cuts, values, np.zeros(1, dtype=np.int64), NO_BUCKETS


def _node_values(succ, trials, rates) -> np.ndarray:
    return np.ascontiguousarray(np.stack([np.log1p(succ), np.log1p(trials - succ), _logit(rates)], axis=1))


def _provider_tables(h: BetaBinomialHierarchy, n_providers: int, n_ranges: int, range_provider,
                     provider_category) -> tuple:
    """Arguments of :func:`provider_block` after ``(rid, ex, out, loo)``."""
    provider_node = np.full(n_providers, -1, dtype=np.int64)
    range_node = np.full(n_ranges, -1, dtype=np.int64)
    k0, k1 = h.keys_
    known = k0 < n_providers
    provider_node[k0[known]] = np.flatnonzero(known)
    known = k1 > 0
    range_node[k1[known] - 1] = np.flatnonzero(known) + len(k0)
    succ = np.concatenate(h.successes_).astype(np.float64)
    trials = np.concatenate(h.trials_).astype(np.float64)
    rates = np.concatenate(h.rates_).astype(np.float64)
    return (range_provider, provider_category, provider_node, range_node, succ, trials,
            _node_values(succ, trials, rates), float(_logit(np.array([h.global_rate_]))[0]))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1.0 - p))


def _hier_tables(h: BetaBinomialHierarchy, bucket_shifts) -> tuple:
    n_levels = len(h.keys_)
    sizes = [len(k) for k in h.keys_]
    tab_start = np.zeros(n_levels + 1, dtype=np.int64)
    tab_start[1:] = np.cumsum(sizes)
    cat = (lambda arrs, dt: np.concatenate(arrs).astype(dt) if n_levels else np.zeros(0, dt))
    offs = []
    shifts = np.full(n_levels, NO_BUCKETS, dtype=np.int64)
    for lev in range(n_levels):
        if bucket_shifts is not None and sizes[lev]:
            shifts[lev] = bucket_shifts[lev]
            offs.append(bucket_offsets(h.keys_[lev], int(bucket_shifts[lev])))
        else:
            offs.append(np.zeros(1, dtype=np.int64))
    off_start = np.zeros(n_levels + 1, dtype=np.int64)
    off_start[1:] = np.cumsum([len(o) for o in offs])
    return (cat(h.keys_, np.int64), cat(h.successes_, np.float64), cat(h.trials_, np.float64),
            cat(h.rates_, np.float64), tab_start, np.concatenate(offs), off_start, shifts,
            float(h.global_rate_))


class IPSpatialFeatures(TransformerMixin, BaseEstimator):
    """Neighbourhood features of IP addresses in a labelled address set.

    ``fit(X, y)`` takes addresses with labels (1 = known bad, for example
    listed on a blocklist; 0 = known benign or background) and stores counts
    of both per /8, /16, /20, /24 and /32 in a
    :class:`~secml_detect.hierarchy.BetaBinomialHierarchy` (so a /24 with one
    bad observation is not called 100% bad: its rate is shrunk toward its /20,
    with the strength learned from the data), the sorted known-bad addresses,
    the published provider ranges and the Tor exits. ``transform(X)`` then
    describes each address (see ``get_feature_names_out``):

    * ``bad/L``, ``benign/L``: ``log1p`` of the known-bad and known-benign
      counts sharing the address's prefix ``L`` (``/32`` is the address itself);
    * ``logit_rate/L``: logit of the smoothed bad rate of that prefix;
    * ``nearest_bad_log2_distance``: ``log2(1 + |address - nearest bad|) / 32``,
      and ``nearest_bad_common_prefix``: longest common prefix with a nearest
      bad address / 32 (IPv6: / 64 on the top 64 bits);
    * ``in_provider_range`` and ``provider_<category>``: membership in a
      published range (innermost), by category (cloud, service, crawler,
      monitoring, vpn_proxy, other), and the bad/benign counts and smoothed
      rate of the provider and of the range itself (a second hierarchy, fed
      only by training addresses that lie in some published range);
    * ``tor_exit``, ``tor/24``, ``tor/16``: whether the address, and how many
      (``log1p``) addresses of its /24 and /16, are known Tor exits;
    * ``ipv6``: 1 for IPv6 addresses.

    **No leakage.** ``fit_transform(X, y)`` returns *leave-one-out* features:
    each training address's own label is removed from every count, rate and
    nearest-neighbour search that describes it, so a training address looks
    exactly like a new address whose neighbours are known. (Like scikit-learn's
    ``TargetEncoder``, ``fit_transform`` therefore differs from
    ``fit(X, y).transform(X)``.)

    Parameters
    ----------
    provider_ranges : "bundled", None or sequence of (provider, cidr), default="bundled"
        Published provider ranges; ``"bundled"`` uses the copy shipped with
        the package (:func:`secml_detect.datasets.ips.load_provider_ranges`).
    tor_exits : sequence of addresses or None, default=None
        Known Tor exit addresses (for a temporal evaluation: only those first
        seen before the cut-off).
    prior_strength : float or None, default=None
        Fixed Beta-binomial strength for every level; ``None`` learns one per
        level (empirical Bayes).
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that are not addresses get an all-``nan`` feature row with a
        :class:`~secml_detect.exceptions.BadInputWarning`, or raise
        :class:`~secml_detect.exceptions.InvalidItemError` naming the index.
        In ``fit`` they are left out of the tables.

    Attributes
    ----------
    hierarchy4_, hierarchy6_ : BetaBinomialHierarchy
        Bad/benign counts per level for IPv4 and IPv6.
    provider_hierarchy_ : BetaBinomialHierarchy
        Counts per provider and per published range.
    bad4_, bad6_ : sorted arrays of the known-bad addresses (uint32 / uint64 top bits)
    tor4_, tor6_ : sorted arrays of the Tor exits
    providers_ : list of str
    n_features_out_ : int

    Examples
    --------
    >>> bad = ["203.0.113.7", "203.0.113.9", "198.51.100.4"]
    >>> background = ["8.8.8.8", "1.1.1.1", "9.9.9.9", "93.184.216.34"]
    >>> f = IPSpatialFeatures(provider_ranges=None).fit(bad + background, [1, 1, 1, 0, 0, 0, 0])
    >>> Z = f.transform(["203.0.113.200", "8.8.4.4"])
    >>> col = list(f.get_feature_names_out()).index("bad/24")
    >>> np.expm1(Z[:, col]).round().tolist()
    [2.0, 0.0]
    """

    def __init__(self, provider_ranges="bundled", tor_exits=None, prior_strength=None,
                 on_bad_input: str = "fallback") -> None:
        self.provider_ranges = provider_ranges
        self.tor_exits = tor_exits
        self.prior_strength = prior_strength
        self.on_bad_input = on_bad_input

    # ----------------------------------------------------------------- state

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_cache", None)
        return state

    def _validate(self) -> None:
        policy = self.on_bad_input
        if policy not in ("fallback", "raise"):
            raise InvalidParameterError(f"on_bad_input must be 'fallback' or 'raise', got {policy!r}")
        if self.prior_strength is not None and not float(self.prior_strength) > 0:
            raise InvalidParameterError(f"prior_strength must be > 0 or None, got {self.prior_strength!r}")

    def _parse(self, X, where: str = "") -> ParsedAddresses:
        parsed = parse_addresses(X)
        if parsed.reasons:
            idx = sorted(parsed.reasons)
            handle_bad_items(idx, [parsed.reasons[i] for i in idx], self.on_bad_input,
                             items=X if isinstance(X, (list, tuple, np.ndarray)) else None,
                             fallback_desc=where or "the fallback")
        return parsed

    @staticmethod
    def _labels(y, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,):
            raise InvalidParameterError(f"y must have one label per address ({n}), got shape {y.shape}")
        if y.dtype == bool:
            return y.astype(np.int8)
        if not np.all(np.isin(y, (0, 1))):
            raise InvalidParameterError("y must hold 0 (benign/background) or 1 (known bad)")
        return y.astype(np.int8)

    def _ranges(self):
        if self.provider_ranges is None:
            return _parse_ranges([])
        if isinstance(self.provider_ranges, str):
            if self.provider_ranges != "bundled":
                raise InvalidParameterError(
                    f"provider_ranges must be 'bundled', None or (provider, cidr) pairs, got {self.provider_ranges!r}")
            return _bundled_ranges()
        try:
            return _parse_ranges(self.provider_ranges)
        except ValueError as exc:
            raise InvalidParameterError(f"provider_ranges: {exc}") from exc

    # ----------------------------------------------------------------- fit

    def fit(self, X, y) -> "IPSpatialFeatures":
        """Store the neighbourhood tables of labelled addresses (1 = known bad)."""
        self._validate()
        self.__dict__.pop("_cache", None)
        parsed = self._parse(X, "no table entry")
        y = self._labels(y, len(parsed))
        ranges = self._ranges()
        self.providers_ = list(ranges["providers"])
        self.provider_category_ = np.array(
            [CATEGORIES.index(PROVIDER_CATEGORIES.get(p, "other")) for p in self.providers_], dtype=np.int64)
        for v in (4, 6):
            s, e, parent, prov = ranges[v]
            setattr(self, f"range_start{v}_", s)
            setattr(self, f"range_end{v}_", e)
            setattr(self, f"range_parent{v}_", parent)
            setattr(self, f"range_provider{v}_", prov)
        tor = parse_addresses(list(self.tor_exits) if self.tor_exits is not None else [])
        self.tor4_ = np.sort(tor.v4[tor.kind == 4])
        self.tor6_ = np.sort(tor.hi6[tor.kind == 6])
        self._set_tables(parsed, y)
        self.n_features_in_ = 1
        self.n_features_out_ = N_FEATURES
        return self

    def _set_tables(self, parsed: ParsedAddresses, y: np.ndarray) -> None:
        for version in (4, 6):
            sel = parsed.kind == version
            vals = parsed.v4[sel] if version == 4 else parsed.hi6[sel]
            keys = _level_keys(vals, version)
            h = BetaBinomialHierarchy(self.prior_strength).fit(list(keys.T), y[sel])
            setattr(self, f"hierarchy{version}_", h)
            setattr(self, f"bad{version}_", np.sort(vals[y[sel] == 1]))
        # Only addresses inside a published range feed the provider tables: one
        # catch-all "no provider" node would hold nearly every address, and its
        # leave-one-out count would then reveal each training address's label.
        pkeys, pid, _ = self._provider_keys(parsed)
        good = ~parsed.bad & (pid >= 0)
        self.provider_hierarchy_ = BetaBinomialHierarchy(self.prior_strength).fit(list(pkeys[good].T), y[good])

    def partial_fit(self, X, y) -> "IPSpatialFeatures":
        """Add labelled addresses to the tables (exact: counts add up).

        The provider ranges and Tor exits stay as fitted; the hierarchies are
        merged with :meth:`BetaBinomialHierarchy.merge` (prior strengths are
        refitted on the merged counts).
        """
        if not hasattr(self, "hierarchy4_"):
            return self.fit(X, y)
        self._validate()
        parsed = self._parse(X, "no table entry")
        y = self._labels(y, len(parsed))
        self.__dict__.pop("_cache", None)
        old = {v: (getattr(self, f"hierarchy{v}_"), getattr(self, f"bad{v}_")) for v in (4, 6)}
        old_provider = self.provider_hierarchy_
        self._set_tables(parsed, y)
        for v in (4, 6):
            h_old, bad_old = old[v]
            setattr(self, f"hierarchy{v}_", h_old.merge(getattr(self, f"hierarchy{v}_")))
            setattr(self, f"bad{v}_", np.sort(np.concatenate([bad_old, getattr(self, f"bad{v}_")])))
        self.provider_hierarchy_ = old_provider.merge(self.provider_hierarchy_)
        return self

    # ----------------------------------------------------------------- transform

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns."""
        return np.array(FEATURE_NAMES, dtype=object)

    def transform(self, X) -> np.ndarray:
        """Features of each address, shape ``(n, n_features_out_)`` (``nan`` rows for bad items)."""
        check_is_fitted(self)
        self._validate()
        parsed = self._parse(X, "an all-nan feature row")
        return self._features_in_order(parsed)

    def fit_transform(self, X, y=None, **fit_params) -> np.ndarray:
        """Fit, then return the leave-one-out features of the training addresses."""
        if y is None:
            raise InvalidParameterError("IPSpatialFeatures needs labels y (1 = known bad)")
        self.fit(X, y)
        parsed = parse_addresses(X)
        return self._features_in_order(parsed, exclude=self._labels(y, len(parsed)))

    def _features_in_order(self, parsed: ParsedAddresses, exclude=None) -> np.ndarray:
        """:meth:`_features` of a large batch, computed in sorted, cache-sized chunks."""
        n = len(parsed)
        if n <= 4 * _SCORE_CHUNK:
            return self._features(parsed, exclude=exclude)
        order = parsed.sort_order()
        ordered = parsed.permute(order)
        ex = None if exclude is None else np.asarray(exclude)[order]
        out = np.empty((n, N_FEATURES))
        chunk_rows = 16 * _SCORE_CHUNK
        buffer = np.empty((chunk_rows, N_FEATURES))
        for start in range(0, n, chunk_rows):
            stop = min(n, start + chunk_rows)
            Z = self._features(ordered.take(start, stop), None if ex is None else ex[start:stop], buffer=buffer)
            out[order[start:stop]] = Z
        return out

    def _tables(self):
        """Kernel-ready tables, built once from the fitted state (never saved)."""
        cache = self.__dict__.setdefault("_cache", {})
        if "v4" not in cache:
            cache["v4"] = _ipv4_tables(self.hierarchy4_, self.bad4_, self.tor4_)
            cache[6] = _hier_tables(self.hierarchy6_, None)
            cache["provider"] = _provider_tables(
                self.provider_hierarchy_, len(self.providers_),
                len(self.range_start4_) + len(self.range_start6_),
                np.r_[self.range_provider4_, self.range_provider6_].astype(np.int64),
                self.provider_category_)
        return cache

    def _range_ids(self, parsed: ParsedAddresses) -> np.ndarray:
        """Global id of the innermost published range holding each address (-1: none).

        IPv4 ranges come first, then IPv6 ranges.
        """
        rid = np.full(len(parsed), -1, dtype=np.int64)
        cache = self.__dict__.setdefault("_cache", {})
        if "segments" not in cache:
            cache["segments"] = {4: self._segments(4), 6: self._segments(6)}
        segments = cache["segments"]
        for version in (4, 6):
            sel = parsed.kind == version
            if sel.any() and len(segments[version][0]):
                vals = parsed.v4 if version == 4 else parsed.hi6
                found = segment_lookup(vals, sel, *segments[version])
                rid = np.where(sel, found, rid)
        return rid

    def _segments(self, version: int) -> tuple:
        """Elementary segments of the nested published ranges of one IP version.

        Built from the range forest (the innermost range of every segment
        found with :func:`~secml_detect._kernels.ip.lookup_prefix_forest`), and
        shared between instances holding the same ranges (the bundled ones).
        """
        starts = getattr(self, f"range_start{version}_")
        ends = getattr(self, f"range_end{version}_")
        parent = getattr(self, f"range_parent{version}_")
        offset = 0 if version == 4 else len(self.range_start4_)
        digest = hashlib.blake2b(starts.tobytes() + ends.tobytes() + parent.tobytes(), digest_size=16).digest()
        key = (version, offset, len(starts), digest)
        found = _SEGMENT_CACHE.get(key)
        if found is None:
            found = _build_segments(starts, ends, parent, offset, version)
            if len(_SEGMENT_CACHE) > 16:
                _SEGMENT_CACHE.clear()
            _SEGMENT_CACHE[key] = found
        return found

    def _provider_keys(self, parsed: ParsedAddresses) -> tuple[np.ndarray, np.ndarray]:
        """Hierarchy keys (provider, range + 1) and the provider index (-1: none) of each address."""
        rid = self._range_ids(parsed)
        range_provider = np.r_[self.range_provider4_, self.range_provider6_].astype(np.int64)
        pid = np.where(rid >= 0, range_provider[np.maximum(rid, 0)] if len(range_provider) else -1, -1)
        keys = np.stack([np.where(pid >= 0, pid, len(self.providers_)), rid + 1], axis=1)
        return keys, pid, rid

    def _features(self, parsed: ParsedAddresses, exclude=None, buffer=None) -> np.ndarray:
        n = len(parsed)
        out = np.empty((n, N_FEATURES)) if buffer is None or len(buffer) < n else buffer[:n]
        if n == 0:
            return out
        tables = self._tables()
        loo = exclude is not None
        good = ~parsed.bad
        ex = np.full(n, -1, dtype=np.int8) if not loo else np.where(good, exclude, -1).astype(np.int8)
        sel4 = parsed.kind == 4
        if sel4.all():
            ipv4_block(parsed.v4, np.argsort(parsed.v4), ex, out, loo, *tables["v4"])
        elif sel4.any():
            sub = np.empty((int(sel4.sum()), N_FEATURES))
            v4 = parsed.v4[sel4]
            ipv4_block(v4, np.argsort(v4), ex[sel4], sub, loo, *tables["v4"])
            out[sel4] = sub
        if loo and sel4.any():
            keys = _level_keys(parsed.v4[sel4], 4)
            rates = self.hierarchy4_.rates(list(keys.T), exclude_y=np.maximum(ex[sel4], 0))
            out[np.ix_(sel4, _RATE_COLS)] = _logit(rates)
        sel6 = parsed.kind == 6
        if sel6.any():
            vals = parsed.hi6[sel6]
            out[sel6, :17] = self._ipv6_block(vals, ex[sel6], tables[6], loo)
            counts = prefix_counts(vals, np.ones(len(vals), dtype=np.bool_), self.tor6_, _TOR_PREFIXES[6], 64)
            out[sel6, 30] = np.minimum(counts[:, 0], 1.0)
            out[sel6, 31:33] = np.log1p(counts[:, 1:])
        # provider ranges (both versions at once)
        if not loo:
            provider_block(self._range_ids(parsed), ex, out, loo, *tables["provider"])
        else:
            pkeys, pid, rid = self._provider_keys(parsed)
            provider_block(rid, ex, out, loo, *tables["provider"])
        in_range = (pid >= 0) & good if loo else None
        if loo and in_range.any():
            rates = self.provider_hierarchy_.rates(list(pkeys[in_range].T), exclude_y=np.maximum(ex[in_range], 0))
            out[np.ix_(in_range, [26, 29])] = _logit(rates)
        out[:, 33] = sel6
        if not good.all():
            out[~good] = np.nan
        return out

    def _ipv6_block(self, vals, ex, tables, loo) -> np.ndarray:
        """Columns 0-16 (hierarchy levels and nearest bad) for IPv6 addresses (top 64 bits)."""
        m = len(vals)
        keys = _level_keys(vals, 6)
        bad, ben, rate = hierarchy_lookup(keys, ex, *tables)
        if loo:
            rate = self.hierarchy6_.rates(list(keys.T), exclude_y=np.maximum(ex, 0))
        block = np.empty((m, 17))
        block[:, 0:15:3] = np.log1p(bad)
        block[:, 1:15:3] = np.log1p(ben)
        block[:, 2:15:3] = _logit(rate)
        ones = np.ones(m, dtype=np.bool_)
        logd, cpl = nearest_distance(vals, ones, ex == 1, self.bad6_, np.zeros(1, dtype=np.int64), NO_BUCKETS, 64)
        block[:, 15] = logd / 64
        block[:, 16] = cpl / 64
        return block


# --------------------------------------------------------------------------- classifier


class IPReputationClassifier(ClassifierDetectorMixin, BaseDetector):
    """Score IP addresses by how their neighbourhood looks in a blocklist.

    A logistic regression on :class:`IPSpatialFeatures` (standardised),
    plus the pairwise products of a few key columns
    (``INTERACTION_FEATURES``: the /24, /20 and /16 bad counts, the
    nearest listed address, the cloud-provider flag and the range's bad
    rate), so that agreeing signals can raise the score more than their sum
    in a purely additive model. It learns from a blocklist snapshot (label 1) and background addresses
    (label 0) which neighbourhoods make an address suspicious, so it can
    rank addresses no list has seen yet. Training features are leave-one-out
    (an address's own label never describes it), so the model learns what a
    *new* address in a listed neighbourhood looks like.

    Parameters
    ----------
    provider_ranges : "bundled", None or sequence of (provider, cidr), default="bundled"
        See :class:`IPSpatialFeatures`.
    tor_exits : sequence of addresses or None, default=None
        Known Tor exits (a feature, not a label).
    prior_strength : float or None, default=None
        Beta-binomial prior strength (``None``: learned per level).
    C : float, default=1.0
        Inverse regularisation of the logistic regression.
    class_weight : dict, "balanced" or None, default=None
    max_iter : int, default=1000
    interactions : bool, default=True
        Add the pairwise products of ``INTERACTION_FEATURES`` (21
        columns) to the logistic regression; ``False`` gives the plain
        linear model on the 34 features.
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that are not addresses (malformed text, ``None``, objects,
        out-of-range integers) get ``threat_score = 0.5`` (no information;
        ``predict_proba`` row ``[0.5, 0.5]``, ``decision_function`` 0) with a
        :class:`~secml_detect.exceptions.BadInputWarning`, or raise
        :class:`~secml_detect.exceptions.InvalidItemError` naming the first
        bad index. In ``fit`` they are left out (with the same warning).

    Attributes
    ----------
    classes_ : ndarray
    features_ : IPSpatialFeatures
    scaler_ : StandardScaler
    estimator_ : LogisticRegression
    interaction_pairs_ : int64 array (n_pairs, 2)
        Feature columns multiplied into the extra inputs (after the 34 features).

    Notes
    -----
    ``predict_proba`` is calibrated to the class balance of the training set
    (for example one background address per listed address); on live
    traffic, where bad addresses are rarer, use it to rank. ``partial_fit``
    adds new listings to the neighbourhood tables (exact count merge) and
    keeps the learned weights: the blocklist update path.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.RandomState(0)
    >>> bad = [f"203.0.113.{i}" for i in rng.choice(256, 40, replace=False)]
    >>> bg = [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.randint(1, 224, (200, 4))]
    >>> clf = IPReputationClassifier(provider_ranges=None).fit(bad + bg, [1] * 40 + [0] * 200)
    >>> s = clf.threat_score(["203.0.113.250", "45.67.89.10"])
    >>> bool(s[0] > 0.5 > s[1])
    True
    """

    fallback_threat_score = 0.5

    def __init__(self, provider_ranges="bundled", tor_exits=None, prior_strength=None, C: float = 1.0,
                 class_weight=None, max_iter: int = 1000, interactions: bool = True,
                 on_bad_input: str = "fallback") -> None:
        self.provider_ranges = provider_ranges
        self.tor_exits = tor_exits
        self.prior_strength = prior_strength
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.interactions = interactions
        self.on_bad_input = on_bad_input

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_cache", None)
        return state

    def __setstate__(self, state: dict) -> None:
        # Files saved before the interaction terms existed hold the plain linear model.
        state = {"interactions": False, **state}
        if "estimator_" in state:
            state.setdefault("interaction_pairs_", _interaction_pairs(False))
        super().__setstate__(state)

    def _make_features(self) -> IPSpatialFeatures:
        return IPSpatialFeatures(provider_ranges=self.provider_ranges, tor_exits=self.tor_exits,
                                 prior_strength=self.prior_strength, on_bad_input=self.on_bad_input)

    def fit(self, X, y) -> "IPReputationClassifier":
        """Learn from addresses and labels (malicious class: 1 / True / "malicious" / "bad")."""
        self._check_on_bad_input()
        if not float(self.C) > 0:
            raise InvalidParameterError(f"C must be > 0, got {self.C!r}")
        self.__dict__.pop("_cache", None)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise InvalidParameterError(f"need exactly two classes, got {self.classes_.tolist()!r}")
        y_bad = (y == self.classes_[self._malicious_column()]).astype(np.int8)
        features = self._make_features()
        Z = features.fit_transform(X, y_bad)
        keep = np.isfinite(Z).all(axis=1)
        if len(np.unique(y_bad[keep])) != 2:
            raise InvalidParameterError("need addresses of both classes after leaving out bad items")
        self.features_ = features
        self.interaction_pairs_ = _interaction_pairs(bool(self.interactions))
        Z = _with_products(Z[keep], self.interaction_pairs_)
        self.scaler_ = StandardScaler().fit(Z)
        self.estimator_ = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter)
        self.estimator_.fit(self.scaler_.transform(Z), y_bad[keep])
        self.n_features_in_ = 1
        return self

    def partial_fit(self, X, y) -> "IPReputationClassifier":
        """Add new labelled addresses to the neighbourhood tables (weights kept).

        Fits from scratch when not fitted yet.
        """
        if not hasattr(self, "estimator_"):
            return self.fit(X, y)
        self.__dict__.pop("_cache", None)
        y = np.asarray(y)
        self.features_.partial_fit(X, (y == self.classes_[self._malicious_column()]).astype(np.int8))
        return self

    def _weights(self):
        cache = self.__dict__.get("_cache")
        if cache is None:
            # fold the standardisation into the weights: one pass per row
            w = self.estimator_.coef_[0] / self.scaler_.scale_
            b = float(self.estimator_.intercept_[0] - np.dot(self.scaler_.mean_, w))
            pairs = self.interaction_pairs_
            cache = (np.ascontiguousarray(w[:N_FEATURES]), b, np.ascontiguousarray(pairs[:, 0]),
                     np.ascontiguousarray(pairs[:, 1]), np.ascontiguousarray(w[N_FEATURES:]))
            self.__dict__["_cache"] = cache
        return cache

    def _decision_parsed(self, parsed: ParsedAddresses) -> np.ndarray:
        w, b, left, right, w_pair = self._weights()
        n = len(parsed)
        out = np.zeros(n)
        if n == 0:
            return out
        # Visit the addresses in sorted order, in cache-sized chunks (features
        # never leave the cache between the kernels and the dot product).
        order = parsed.sort_order() if n > _SCORE_CHUNK else np.arange(n)
        ordered = parsed.permute(order) if n > _SCORE_CHUNK else parsed
        buffer = np.empty((min(n, _SCORE_CHUNK), N_FEATURES))
        d = np.empty(min(n, _SCORE_CHUNK))
        for start in range(0, n, _SCORE_CHUNK):
            stop = min(n, start + _SCORE_CHUNK)
            chunk = ordered.take(start, stop)
            Z = self.features_._features(chunk, buffer=buffer)
            pairwise_scores(Z, w, b, left, right, w_pair, d)
            scores = d[:stop - start]
            scores[chunk.bad] = 0.0
            out[order[start:stop]] = scores
        return out

    def _parse(self, X) -> ParsedAddresses:
        check_is_fitted(self)
        self._check_on_bad_input()
        parsed = parse_addresses(X)
        if parsed.reasons:
            idx = sorted(parsed.reasons)
            handle_bad_items(idx, [parsed.reasons[i] for i in idx], self.on_bad_input,
                             items=X if isinstance(X, (list, tuple, np.ndarray)) else None,
                             fallback_desc="threat_score 0.5")
        return parsed

    def decision_function(self, X) -> np.ndarray:
        """Log-odds of "malicious" (0 for bad items)."""
        return self._decision_parsed(self._parse(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order (``0.5`` for bad items)."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        out = np.empty((len(p), 2))
        mal = self._malicious_column()
        out[:, mal] = p
        out[:, 1 - mal] = 1.0 - p
        return out

    def predict(self, X) -> np.ndarray:
        """The more probable class of each address."""
        mal = self._malicious_column()
        return np.where(self.decision_function(X) > 0, self.classes_[mal], self.classes_[1 - mal])

    def threat_score(self, X) -> np.ndarray:
        """Probability that each address is malicious (0.5 for bad items)."""
        return super().threat_score(X)

    def explain(self, X, *, top_k: int = 5) -> list[Explanation]:
        """The features that pushed each score, in log-odds against the average training address."""
        parsed = self._parse(X)
        scores = 1.0 / (1.0 + np.exp(-self._decision_parsed(parsed)))
        pairs = self.interaction_pairs_
        Z = _with_products(self.features_._features(parsed), pairs)
        names = FEATURE_NAMES + tuple(f"{FEATURE_NAMES[a]}*{FEATURE_NAMES[b]}" for a, b in pairs)
        coef = self.estimator_.coef_[0]
        contrib = (Z - self.scaler_.mean_) / self.scaler_.scale_ * coef
        out = []
        for i in range(len(parsed)):
            if parsed.bad[i]:
                out.append(Explanation(i, float(scores[i]), fallback=True, note=parsed.reasons.get(i, "not an address")))
                continue
            order = np.argsort(-np.abs(contrib[i]), kind="stable")[:top_k]
            out.append(Explanation(i, float(scores[i]), tuple(
                Contribution(names[j], round(float(Z[i, j]), 4), float(contrib[i, j]))
                for j in order if contrib[i, j] != 0)))
        return out

    @classmethod
    def _generic_check_data(cls) -> dict:
        rng = np.random.RandomState(0)
        bad = [f"203.0.113.{i}" for i in rng.choice(256, 30, replace=False)]
        bad += [f"198.51.{rng.randint(256)}.{rng.randint(256)}" for _ in range(20)]
        bg = [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.randint(1, 224, (80, 4))]
        X = bad + bg + ["2001:db8::1", "2001:db8::2"]
        y = [1] * len(bad) + [0] * len(bg) + [1, 0]
        X_test = ["203.0.113.250", "45.67.89.10", "2001:db8::3", 3405803786, "300.1.2.3", "", " 8.8.8.8 "]
        return {"X": X, "y": y, "X_test": X_test, "params": {"provider_ranges": None}}
