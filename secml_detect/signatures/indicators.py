"""Indicator kinds: normalisation of IOC values and the indexes that look them up.

Each kind has a normaliser (applied to the indicator when it is added and to
the event value when it is looked up) and an index built for fast batch
lookups:

=========  ====================================================  ================================
kind       matches an event value when ...                       index
=========  ====================================================  ================================
ip         the address equals (or lies in) the IP / CIDR         sorted prefix forest (numba)
domain     the host equals it, or is a subdomain of it           dict + suffix walk
           (``subdomains=True``, the default)
url        the normalised URLs are equal                         dict
hash       MD5 / SHA-1 / SHA-256 hex digests are equal            dict
path       the path matches the glob (``*``, ``?``, ``[..]``)    dict for literals + one regex
process    the process path or its base name equals the value    dict (case-insensitive)
pattern    the literal occurs inside the value (bytes or text)   hyperscan / pyahocorasick
=========  ====================================================  ================================

URL normalisation lower-cases scheme and host, drops default ports
(``:80`` for http, ``:443`` for https), decodes percent-escapes of
unreserved characters and upper-cases the remaining ones, drops the
fragment and gives an empty path ``/``.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from .._netaddr import ipv4_candidates
from .._kernels import ip as kip
from .._kernels import patterns as kp
from .._ragged import RaggedArray, to_ragged_bytes
from ..exceptions import InvalidItemError

__all__ = [
    "INDICATOR_KINDS",
    "DEFAULT_FIELDS",
    "normalize_indicator",
    "normalize_url",
    "normalize_domain",
    "url_host",
    "IPRangeIndex",
    "HashIndex",
    "ragged_from_strings",
]

#: Fields an indicator of each kind is looked up in when a rule names none.
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "ip": ("src_ip", "dst_ip", "ip"),
    "domain": ("domain", "url"),
    "url": ("url",),
    "hash": ("file_hash", "md5", "sha1", "sha256"),
    "path": ("file_path",),
    "process": ("process",),
    "pattern": ("payload", "content", "file_content"),
}
INDICATOR_KINDS = tuple(DEFAULT_FIELDS)

_HEX = re.compile(r"^[0-9a-f]+$")
_HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256"}
_DOMAIN_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21", "ws": "80", "wss": "443"}


def _pct_normalize(text: str) -> str:
    def fix(m: re.Match) -> str:
        ch = chr(int(m.group(1), 16))
        return ch if ch in _UNRESERVED else "%" + m.group(1).upper()

    return _PCT.sub(fix, text)


def normalize_url(url: str) -> str:
    """Canonical form of a URL used for exact URL indicators.

    Examples
    --------
    >>> normalize_url("HTTP://Example.COM:80/a%7eb/%2f?q=1#top")
    'http://example.com/a~b/%2F?q=1'
    >>> normalize_url("example.com")
    'http://example.com/'
    """
    text = str(url).strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"URL without a host: {url!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in URL {url!r}") from exc
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and _DEFAULT_PORTS.get(scheme) != str(port):
        netloc = f"{netloc}:{port}"
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"
    path = _pct_normalize(parts.path) or "/"
    return urlunsplit((scheme, netloc, path, _pct_normalize(parts.query), ""))


def url_host(url: str) -> str | None:
    """Lower-case host of a URL (``None`` when there is none)."""
    text = str(url).strip()
    if "://" not in text:
        text = "http://" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


def normalize_domain(domain: str) -> str:
    """Lower-case, without trailing dot, IDNA-encoded; raises ValueError when invalid.

    Examples
    --------
    >>> normalize_domain("Evil.COM.")
    'evil.com'
    """
    text = str(domain).strip().rstrip(".").lower()
    if text.startswith("*."):
        text = text[2:]
    if not text or len(text) > 253:
        raise ValueError(f"not a domain name: {domain!r}")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"not a domain name: {domain!r}") from exc
    if not all(_DOMAIN_LABEL.match(label) for label in text.split(".")):
        raise ValueError(f"not a domain name: {domain!r}")
    return text


def _normalize_hash(value: str) -> str:
    text = str(value).strip().lower()
    if len(text) not in _HASH_LENGTHS or not _HEX.match(text):
        raise ValueError(f"not an MD5, SHA-1 or SHA-256 hex digest: {value!r}")
    return text


def _normalize_ip(value: str) -> str:
    text = str(value).strip()
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            return str(net) if net.prefixlen != net.max_prefixlen else str(net.network_address)
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise ValueError(f"not an IP address or CIDR range: {value!r}") from exc


def _normalize_glob(value: str) -> str:
    text = str(value)
    if not text:
        raise ValueError("empty path glob")
    return text


def _normalize_process(value: str) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("empty process name")
    return text.lower()


def _normalize_pattern(value) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    if not isinstance(value, (bytes, bytearray)) or len(value) == 0:
        raise ValueError(f"a pattern must be non-empty str or bytes, got {value!r:.60}")
    return bytes(value)


_NORMALIZERS = {
    "ip": _normalize_ip,
    "domain": normalize_domain,
    "url": normalize_url,
    "hash": _normalize_hash,
    "path": _normalize_glob,
    "process": _normalize_process,
    "pattern": _normalize_pattern,
}


def normalize_indicator(kind: str, value, *, where: str | None = None):
    """Normalise one indicator value; raises InvalidItemError naming ``where``.

    Examples
    --------
    >>> normalize_indicator("ip", "10.0.0.7/8")
    '10.0.0.0/8'
    >>> normalize_indicator("hash", "D41D8CD98F00B204E9800998ECF8427E")
    'd41d8cd98f00b204e9800998ecf8427e'
    """
    try:
        return _NORMALIZERS[kind](value)
    except KeyError:
        raise ValueError(f"unknown indicator kind {kind!r}; expected one of {INDICATOR_KINDS}") from None
    except (ValueError, TypeError) as exc:
        raise InvalidItemError(None, f"{where + ': ' if where else ''}{exc}", value) from None


def _str_bytes(text: str) -> np.ndarray:
    """Read-only ``uint8`` array of the UTF-8 bytes of ``text``."""
    out = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    out.flags.writeable = False
    return out


def joined_lines(values: Sequence, *, check: bool = True) -> np.ndarray | None:
    """UTF-8 bytes of ``values`` joined by ``\\n`` when every item is a ``str``, else None.

    With ``check=True`` it is also None when an item contains a newline; the
    ``*_lines`` kernels check that themselves, so callers of those pass False.
    """
    if not len(values):
        return None
    try:
        joined = "\n".join(values)
    except TypeError:
        return None
    if check and joined.count("\n") != len(values) - 1:
        return None
    return _str_bytes(joined)


def ragged_from_strings(values: Sequence) -> RaggedArray:
    """A ragged ``uint8`` batch of strings, fast when every item is a ``str`` without newline.

    Items that are not ``str``/``bytes`` become empty and flagged ``missing``.
    """
    data = joined_lines(values)
    if data is not None:
        flat, offsets = kip.split_lines(data, len(values))
        return RaggedArray(flat, offsets, np.zeros(len(values), dtype=bool))
    return to_ragged_bytes([v if isinstance(v, (str, bytes)) else None for v in values])


def _joined_ipv4_text(values: Sequence) -> np.ndarray | None:
    """``values`` joined by ``\\n`` as bytes; bytes items decoded as latin-1, other non-str items empty."""
    data = joined_lines(values, check=False)
    if data is None and len(values):
        data = joined_lines([v if isinstance(v, str) else v.decode("latin-1") if isinstance(v, bytes) else ""
                             for v in values], check=False)  # missing cells, numbers, bytes
    return data


def parse_ipv4_strings(values: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """``(uint32 addresses, valid)`` of a list of strings (the fastest route available)."""
    data = _joined_ipv4_text(values)
    if data is not None:
        addresses, valid, ok = kip.parse_ipv4_lines(data, len(values))
        if ok:
            return addresses, valid
    r = to_ragged_bytes([v if isinstance(v, (str, bytes)) else None for v in values])
    return kip.parse_ipv4(r.data, r.offsets)


class IPRangeIndex:
    """Which IP addresses / CIDR ranges contain each query address.

    Built from ``(value, entry_id)`` pairs; IPv4 queries go through the numba
    prefix forest flattened into elementary intervals with a ``/16`` jump
    table (a batch of ``str`` is joined once, then parsed and looked up in one
    pass), IPv6 ones through the forest algorithm on Python integers.

    Examples
    --------
    >>> idx = IPRangeIndex(["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"])
    >>> idx.lookup(["10.1.2.3", "11.0.0.1", "2001:db8::1", "junk"])
    [[1, 0], [], [2], []]
    """

    def __init__(self, values: Iterable[str], entry_ids: Iterable[int] | None = None) -> None:
        values = [str(v).strip() for v in values]
        ids = np.arange(len(values), dtype=np.int64) if entry_ids is None else np.asarray(list(entry_ids), dtype=np.int64)
        r = ragged_from_strings(values)
        addr, plen, ok = kip.parse_ipv4_cidr(r.data, r.offsets)
        v6: dict[tuple[int, int], list[int]] = {}
        for k in np.flatnonzero(~ok).tolist():  # IPv6, or IPv4 forms the strict parser refuses
            net = ipaddress.ip_network(values[k], strict=False)
            if net.version == 4:
                addr[k], plen[k], ok[k] = int(net.network_address), net.prefixlen, True
            else:
                v6.setdefault((int(net.network_address), int(net.broadcast_address)), []).append(int(ids[k]))
        mask = kip.prefix_mask(plen[ok])
        starts = addr[ok] & mask
        ends = starts | ~mask
        self._build_v4(starts, ends, ids[ok])
        self._build_v6(v6)

    def _build_v4(self, starts: np.ndarray, ends: np.ndarray, ids: np.ndarray) -> None:
        key = (starts.astype(np.uint64) << np.uint64(32)) | ends.astype(np.uint64)
        uniq, inverse = np.unique(key, return_inverse=True)
        u_starts = (uniq >> np.uint64(32)).astype(np.uint32)
        u_ends = (uniq & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        order, parent = kip.build_prefix_forest(u_starts, u_ends)
        self.v4_starts = u_starts[order]
        self.v4_ends = u_ends[order]
        self.v4_parent = parent
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        pos = rank[inverse]
        by_pos = np.argsort(pos, kind="stable")
        bounds = np.searchsorted(pos[by_pos], np.arange(order.size + 1))
        sorted_ids = ids[by_pos].tolist()
        self.v4_entries = [sorted_ids[bounds[j]:bounds[j + 1]] for j in range(order.size)]
        self.v4_cidr = (self.v4_starts != self.v4_ends).tolist()
        self.v4_flat, self.v4_flat_jump = kip.build_flat_forest(self.v4_starts, self.v4_ends)
        self.v4_hit, self.v4_hit_jump = kip.build_hit_bounds(self.v4_flat)

    def _build_v6(self, groups: dict) -> None:
        keys = sorted(groups, key=lambda k: (k[0], -(k[1] - k[0])))
        self.v6_starts = [k[0] for k in keys]
        self.v6_ends = [k[1] for k in keys]
        self.v6_entries = [groups[k] for k in keys]
        self.v6_cidr = [k[0] != k[1] for k in keys]
        parent = []
        stack: list[int] = []
        for j, (s, e) in enumerate(keys):
            while stack and self.v6_ends[stack[-1]] < s:
                stack.pop()
            parent.append(stack[-1] if stack else -1)
            stack.append(j)
        self.v6_parent = parent

    def __len__(self) -> int:
        return len(self.v4_starts) + len(self.v6_starts)

    def innermost_v4(self, values: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """Innermost containing v4 range (sorted position) per item, or -1; plus parse validity."""
        data = _joined_ipv4_text(values)
        if data is not None:  # one buffer, parsed and looked up in a single numba pass
            inner, valid, ok = kip.lookup_ipv4_lines(data, len(values), self.v4_flat, self.v4_flat_jump)
            if ok:
                return inner, valid
        addresses, valid = parse_ipv4_strings(values)
        return kip.lookup_flat(addresses, valid, self.v4_flat, self.v4_flat_jump), valid

    def _v4_chain(self, value: int) -> list[tuple[int, int]]:
        q = np.array([value], dtype=np.uint32)
        j = int(kip.lookup_flat(q, np.ones(1, bool), self.v4_flat, self.v4_flat_jump)[0])
        out = []
        while j >= 0:
            out.append((j, 4))
            j = int(self.v4_parent[j])
        return out

    def _v6_chain(self, text: str) -> list[tuple[int, bool]]:
        """Slow path: IPv6, IPv4-mapped IPv6, and the IPv4 notations of :mod:`secml_detect._netaddr`."""
        try:
            addr = ipaddress.ip_address(text.strip() if isinstance(text, str) else text)
        except ValueError:
            out = []
            for value in ipv4_candidates(text):  # 3232235777, 0xC0A80101, 0300.0250.1.1, 010.001.002.003
                out.extend(c for c in self._v4_chain(value) if c not in out)
            return out
        if addr.version == 4:
            return self._v4_chain(int(addr))
        # an IPv4-mapped address (::ffff:a.b.c.d) matches the IPv4 entries and the IPv6 ones
        out = self._v4_chain(int(addr.ipv4_mapped)) if addr.ipv4_mapped is not None else []
        q = int(addr)
        j = bisect_right(self.v6_starts, q) - 1
        while j >= 0 and self.v6_ends[j] < q:
            j = self.v6_parent[j]
        while j >= 0:
            out.append((j, 6))
            j = self.v6_parent[j]
        return out

    def matches(self, values: Sequence) -> list[list[tuple[int, bool]] | None]:
        """Per query, ``(entry_id, is_cidr)`` of every containing entry, innermost first (None: no entry)."""
        inner, valid = self.innermost_v4(values)
        out: list = [None] * len(values)
        hit = np.flatnonzero(inner >= 0)
        for i in hit.tolist():
            j = int(inner[i])
            row = out[i] = []
            while j >= 0:
                cidr = self.v4_cidr[j]
                row.extend((e, cidr) for e in self.v4_entries[j])
                j = int(self.v4_parent[j])
        # Not a plain dotted quad: maybe IPv6, spaces around it, or another IPv4 notation.
        for i in np.flatnonzero(~valid).tolist():
            v = values[i]
            if not isinstance(v, str) or not v or len(v) > 64:
                continue
            for j, version in self._v6_chain(v):
                row = out[i] if out[i] is not None else []
                out[i] = row
                if version == 4:
                    row.extend((e, self.v4_cidr[j]) for e in self.v4_entries[j])
                else:
                    row.extend((e, self.v6_cidr[j]) for e in self.v6_entries[j])
        return out

    def lookup(self, values: Sequence) -> list[list[int]]:
        """Per query, the ids of every containing entry, innermost first."""
        return [[e for e, _ in row] if row else [] for row in self.matches(values)]

    def contains(self, values: Sequence) -> np.ndarray:
        """Boolean mask: does any entry contain the query (IPv4 fast path)."""
        data = _joined_ipv4_text(values)
        out = valid = None
        if data is not None:  # one buffer, parsed and looked up in a single numba pass
            out, valid, ok = kip.contains_ipv4_lines(data, len(values), self.v4_hit, self.v4_hit_jump)
            if not ok:
                out = None
        if out is None:
            addresses, valid = parse_ipv4_strings(values)
            out = kip.contains_hit_bounds(addresses, valid, self.v4_hit, self.v4_hit_jump)
        if len(self.v6_starts) or not valid.all():
            for i in np.flatnonzero(~valid).tolist():
                v = values[i]
                if isinstance(v, str) and v and len(v) <= 64:
                    out[i] = bool(self._v6_chain(v))
        return out


def glob_to_regex(pattern: str, *, ignore_case: bool = False) -> str:
    """Anchored regex source of a shell glob, valid for both RE2 and Python ``re``.

    ``*`` matches any run of characters (``/`` included, as in :mod:`fnmatch`),
    ``?`` one character, ``[abc]`` / ``[!abc]`` a class.

    Examples
    --------
    >>> glob_to_regex("/tmp/*.s?")
    '(?s)^/tmp/.*\\\\.s.$'
    """
    out = ["(?si)^" if ignore_case else "(?s)^"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            while i < n and pattern[i] == "*":
                i += 1
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append("\\[")
            else:
                body = pattern[i:j].replace("\\", "\\\\")
                i = j + 1
                if body and body[0] in "!^":
                    body = "^" + body[1:]
                out.append("[" + body + "]")
        else:
            out.append(re.escape(c))
    out.append("$")
    return "".join(out)


def is_glob(pattern: str) -> bool:
    """True when ``pattern`` has glob metacharacters."""
    return any(c in pattern for c in "*?[")


class HashIndex:
    """Exact lookups of MD5 / SHA-1 / SHA-256 hex digests, vectorised.

    Digests are keyed by their first 128 bits (numba parser, case-insensitive,
    surrounding blanks ignored) in one open-addressing table per digest length
    (linear probing, load at most 1/2, one cache line per probe); a batch of
    ``str`` is joined into one buffer, parsed and probed in a single numba
    pass. SHA-1/SHA-256 hits are confirmed on the full digest.

    Examples
    --------
    >>> idx = HashIndex(["d41d8cd98f00b204e9800998ecf8427e"])
    >>> idx.contains(["D41D8CD98F00B204E9800998ECF8427E", "0" * 32, None]).tolist()
    [True, False, False]
    >>> HashIndex(["d41d8cd98f00b204e9800998ecf8427e"], payloads=["empty file"]).find([" D41D8CD98F00B204E9800998ECF8427E"])
    ['empty file']
    """

    def __init__(self, digests: Iterable[str], payloads: Sequence | None = None) -> None:
        digests = list(digests)
        payloads = digests if payloads is None else list(payloads)
        by_digest: dict[str, Any] = {}
        for d, pl in zip(digests, payloads):
            by_digest.setdefault(_normalize_hash(d), pl)
        self.n_digests = len(by_digest)
        self.tables = {}
        for n_digits in (32, 40, 64):
            keys: dict[tuple[int, int], list[tuple[str, Any]]] = {}
            for v, pl in by_digest.items():
                if len(v) == n_digits:
                    keys.setdefault((int(v[:16], 16), int(v[16:32], 16)), []).append((v, pl))
            ks = list(keys)
            table, empty, slots = kp.build_table128(np.array([k[0] for k in ks], dtype=np.uint64),
                                                    np.array([k[1] for k in ks], dtype=np.uint64))
            pos = np.full(table.shape[0], -1, dtype=np.int32)  # slot -> position in cands
            pos[slots] = np.arange(len(ks), dtype=np.int32)
            # An MD5 is its own key: one payload per key; longer digests keep (digest, payload) to confirm.
            cands = [keys[k][0][1] for k in ks] if n_digits == 32 else [keys[k] for k in ks]
            self.tables[n_digits] = (table, empty, pos, cands)

    def __len__(self) -> int:
        return self.n_digests

    def _probe(self, values: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """``(slot, n_digits)`` per query: slot in the table of its digest length or -1; 0 digits when invalid."""
        (t32, e32, _, _), (t40, e40, _, _), (t64, e64, _, _) = (self.tables[d] for d in (32, 40, 64))
        data = joined_lines(values, check=False)
        if data is not None:  # every item is a str: one buffer, one fused parse + probe pass
            slot, nd, ok = kp.probe_hex_lines(data, len(values), t32, e32, t40, e40, t64, e64)
            if ok:
                return slot, nd
        r = to_ragged_bytes([v if isinstance(v, (str, bytes)) else None for v in values])
        hi, lo, nd, valid = kp.hex_keys(r.data, r.offsets)
        slot = np.full(len(values), -1, dtype=np.int64)
        for n_digits, (table, empty, _, _) in self.tables.items():
            found = kp.probe_hex_keys(hi, lo, nd, valid, n_digits, table, empty)
            slot = np.where(found >= 0, found, slot)
        return slot, np.where(valid, nd, 0).astype(np.int8)

    def find(self, values: Sequence) -> list:
        """Per query, the payload of the digest it equals (by default the normalised digest), or None."""
        n = len(values)
        out: list = [None] * n
        if n == 0:
            return out
        slot, nd = self._probe(values)
        hits = np.flatnonzero(slot >= 0)
        for n_digits, (_, _, pos, cands) in self.tables.items():
            sel = hits[nd[hits] == n_digits]
            if not sel.size:
                continue
            positions = pos[slot[sel]].tolist()
            if n_digits == 32:
                for i, p in zip(sel.tolist(), positions):
                    out[i] = cands[p]
                continue
            for i, p in zip(sel.tolist(), positions):
                v = values[i]
                text = (v.decode("ascii", "replace") if isinstance(v, bytes) else v).strip().lower()
                for digest, pl in cands[p]:
                    if digest == text:
                        out[i] = pl
        return out

    def contains(self, values: Sequence) -> np.ndarray:
        """Boolean mask: is the query a known digest (fully vectorised for MD5 and 128-bit prefixes)."""
        if len(values) == 0:
            return np.zeros(0, dtype=bool)
        slot, nd = self._probe(values)
        out = slot >= 0
        if len(self.tables[40][3]) or len(self.tables[64][3]):
            long_hits = np.flatnonzero(out & (nd > 32))
            if long_hits.size:
                confirmed = self.find([values[i] for i in long_hits.tolist()])
                out[long_hits] = [c is not None for c in confirmed]
        return out
