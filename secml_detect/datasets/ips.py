"""IP-address data: blocklists with listing dates, provider ranges, background space.

Loaders return plain Python lists and numpy arrays:

* :func:`load_datashield_blocklist` — Data-Shield IPv4 blocklist entries with
  first-seen dates (shared data only: the list is GPL-3.0 and not bundled).
* :func:`load_tor_exit_history` — Tor exit addresses with first-seen dates
  (shared data, or a bundled 8,000-address IPv4 sample, MIT).
* :func:`load_provider_ranges` — published cloud, CDN, crawler, monitoring and
  VPN ranges (bundled in full, CC0).
* :func:`sample_background_ipv4` — uniform draws from public unicast IPv4
  space.

**There is no public list of benign single IP addresses.** The provider
ranges are address space owned by providers, not observed benign hosts
(clouds host plenty of malicious servers). The "benign" side of every IP
experiment in this package is therefore *background*: addresses drawn
uniformly from public unicast IPv4 space, excluding the reserved /
special-purpose ranges (:data:`RESERVED_IPV4`) and every listed address we
know of. A background address is "not known to be bad", which is a weaker
statement than "benign"; and uniform draws also land in unrouted space that
real traffic never comes from, which makes coarse prefixes (/8) look more
informative than they are on live traffic.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from dataclasses import dataclass

import numpy as np

from . import bundled_path, dataset_files

__all__ = [
    "IPListing",
    "RESERVED_IPV4",
    "load_datashield_blocklist",
    "load_tor_exit_history",
    "load_provider_ranges",
    "sample_background_ipv4",
    "is_public_unicast_ipv4",
    "ipv4_to_int",
    "int_to_ipv4",
]

#: Special-purpose and non-unicast IPv4 ranges excluded from background space
#: (IANA IPv4 Special-Purpose Address Registry, plus multicast and class E).
RESERVED_IPV4: tuple[str, ...] = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
    "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)


def _read_csvs(name: str) -> list[dict]:
    """Rows of every ``*.csv`` of a dataset folder (a snapshot may come in parts), in name order."""
    rows = []
    for path in dataset_files(name, "*.csv"):
        with open(path, newline="", encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


@dataclass(frozen=True)
class IPListing:
    """Entries of a blocklist history, one per address, in file order.

    Attributes
    ----------
    ips : list of str
    first_seen : ndarray of datetime64[s]
        First time the address was added to the list (left-censored at the
        list's first commit).
    last_removed : ndarray of datetime64[s]
        Last removal, ``NaT`` when still listed at the end of the history.
    episodes : ndarray of int64
        How many times the address (re-)entered the list.
    """

    ips: list[str]
    first_seen: np.ndarray
    last_removed: np.ndarray
    episodes: np.ndarray

    def __len__(self) -> int:
        return len(self.ips)

    def select(self, mask) -> "IPListing":
        """The entries where ``mask`` is true."""
        mask = np.asarray(mask, dtype=bool)
        return IPListing([ip for ip, keep in zip(self.ips, mask) if keep], self.first_seen[mask],
                         self.last_removed[mask], self.episodes[mask])

    def before(self, date) -> "IPListing":
        """Entries first seen strictly before ``date`` (str or datetime64)."""
        return self.select(self.first_seen < np.datetime64(date, "s"))

    def between(self, start, stop) -> "IPListing":
        """Entries first seen in ``[start, stop)``."""
        t0, t1 = np.datetime64(start, "s"), np.datetime64(stop, "s")
        return self.select((self.first_seen >= t0) & (self.first_seen < t1))


def _dates(values: list[str]) -> np.ndarray:
    return np.array([v.rstrip("Z") if v else "NaT" for v in values], dtype="datetime64[s]")


def _listing(rows: list[dict]) -> IPListing:
    return IPListing(
        [r["ip"] for r in rows],
        _dates([r["first_seen_utc"] for r in rows]),
        _dates([r.get("last_removed_utc", "") for r in rows]),
        np.array([int(r.get("listing_episodes") or 1) for r in rows], dtype=np.int64),
    )


def load_datashield_blocklist(*, sample: str = "hash10") -> IPListing:
    """Data-Shield IPv4 blocklist entries with listing dates (the development data: first seen before 2026-04-01).

    Parameters
    ----------
    sample : {"hash10", "all"}, default="hash10"
        The staged file is the union of a deterministic 10% sample of the
        whole history (``int(sha1(ip).hexdigest(), 16) % 10 == 0``) and every
        entry still listed at the last commit (2026-08-22). The second part is
        selected by its *future* (still listed months later), so it biases any
        temporal experiment; ``"hash10"`` keeps only the unbiased 10% sample
        (111,657 entries), ``"all"`` keeps everything (132,931).

    Returns
    -------
    IPListing

    Notes
    -----
    GPL-3.0 data: read from the shared datasets, never bundled. The January
    2026 spike (about half the entries) reflects a change in how the list was
    built; keep temporal split boundaries away from it.
    """
    if sample not in ("hash10", "all"):
        raise ValueError(f"sample must be 'hash10' or 'all', got {sample!r}")
    rows = _read_csvs("ip_datashield_blocklist")
    if sample == "hash10":
        rows = [r for r in rows if int(hashlib.sha1(r["ip"].encode()).hexdigest(), 16) % 10 == 0]
    return _listing(rows)


def load_tor_exit_history(*, version: int | None = 4, bundled: bool = False) -> IPListing:
    """Tor exit addresses with first-seen dates (2018-03 to the end of 2022).

    Parameters
    ----------
    version : {4, 6, None}, default=4
        Keep IPv4 or IPv6 addresses only, or both (``None``).
    bundled : bool, default=False
        Read the sample bundled in the package (8,000 IPv4 exits drawn at
        random, seed 0; MIT licence) instead of the shared file.

    Notes
    -----
    A Tor exit is anonymising infrastructure, not proof of malice.
    """
    if bundled:
        with gzip.open(bundled_path("tor_exit_sample.csv.gz"), "rt", encoding="utf-8", newline="") as fh:
            rows = [dict(r, ip_version="4") for r in csv.DictReader(fh)]
    else:
        rows = _read_csvs("ip_tor_exit_history")
    if version is not None:
        rows = [r for r in rows if r["ip_version"] == str(version)]
    return _listing(rows)


def load_provider_ranges(*, version: int | None = None, bundled: bool = True) -> list[tuple[str, str]]:
    """Published provider ranges as ``(provider, cidr)`` pairs.

    Parameters
    ----------
    version : {4, 6, None}, default=None
        Keep one IP version, or both.
    bundled : bool, default=True
        The full list (27,644 CIDRs of 22 providers, lord-alfred/ipranges at
        2026-08-22, CC0) is bundled; ``False`` reads the shared copy instead.

    Examples
    --------
    >>> ranges = load_provider_ranges(version=4)
    >>> len(ranges) > 10000, ranges[0][0]
    (True, 'amazon')
    """
    if bundled:
        with gzip.open(bundled_path("ip_provider_ranges.csv.gz"), "rt", encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    else:
        rows = _read_csvs("ip_provider_ranges")
    return [(r["provider"], r["cidr"]) for r in rows if version is None or r["ip_version"] == str(version)]


def ipv4_to_int(ips) -> np.ndarray:
    """``uint32`` values of dotted quads (raises ``ValueError`` on a bad one)."""
    import ipaddress

    return np.array([int(ipaddress.IPv4Address(ip)) for ip in ips], dtype=np.uint32)


def int_to_ipv4(values) -> list[str]:
    """Dotted quads of ``uint32`` values."""
    return [f"{v >> 24 & 255}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}" for v in np.asarray(values, dtype=np.int64).tolist()]


def _reserved_bounds() -> tuple[np.ndarray, np.ndarray]:
    starts, ends = [], []
    for cidr in RESERVED_IPV4:
        net, plen = cidr.split("/")
        start = int(ipv4_to_int([net])[0])
        starts.append(start)
        ends.append(start + (1 << (32 - int(plen))) - 1)
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def is_public_unicast_ipv4(values) -> np.ndarray:
    """True where an integer IPv4 address lies outside :data:`RESERVED_IPV4`.

    Examples
    --------
    >>> is_public_unicast_ipv4(ipv4_to_int(["8.8.8.8", "10.1.2.3", "224.0.0.1"])).tolist()
    [True, False, False]
    """
    v = np.asarray(values, dtype=np.int64)
    starts, ends = _reserved_bounds()
    ok = np.ones(v.shape, dtype=bool)
    for s, e in zip(starts, ends):
        ok &= (v < s) | (v > e)
    return ok


def sample_background_ipv4(n: int, *, exclude=(), random_state=None) -> np.ndarray:
    """``n`` distinct addresses drawn uniformly from public unicast IPv4 space.

    Parameters
    ----------
    n : int
    exclude : iterable of str or int array
        Addresses never to draw (every listed address you know of); entries
        that are not IPv4 addresses are ignored.
    random_state : int, RandomState or None

    Returns
    -------
    ndarray of uint32, sorted by draw order (not by value)

    Examples
    --------
    >>> bg = sample_background_ipv4(5, exclude=["8.8.8.8"], random_state=0)
    >>> len(set(bg.tolist())), bool(is_public_unicast_ipv4(bg).all())
    (5, True)
    """
    rng = random_state if isinstance(random_state, np.random.RandomState) else np.random.RandomState(random_state)
    excl = np.asarray(list(exclude) if not isinstance(exclude, np.ndarray) else exclude)
    if excl.size and excl.dtype.kind in "USO":
        from ..ip import parse_addresses  # IPv6 and malformed entries cannot collide: skipped

        parsed = parse_addresses(excl.tolist())
        excl = parsed.v4[parsed.kind == 4]
    excl = np.unique(excl.astype(np.int64)) if excl.size else np.zeros(0, dtype=np.int64)
    out = np.zeros(0, dtype=np.int64)
    while out.size < n:
        draw = rng.randint(0, 2**32, size=max(2 * (n - out.size), 16), dtype=np.int64)
        draw = draw[is_public_unicast_ipv4(draw)]
        if excl.size:
            draw = draw[~np.isin(draw, excl)]
        merged = np.concatenate([out, draw])
        _, first = np.unique(merged, return_index=True)
        out = merged[np.sort(first)][:n]
    return out.astype(np.uint32)
