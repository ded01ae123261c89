"""Slow, obvious references for the URL kernels in secml_detect/_kernels/url.py."""

from __future__ import annotations

import math

import numpy as np

from secml_detect._kernels.url import XLOGX  # the c*log2(c) table (data, not code under test)

FNV64_OFFSET = 14695981039346656037
FNV64_PRIME = 1099511628211
MASK64 = (1 << 64) - 1


def lower(raw: bytes) -> bytes:
    return bytes(b + 32 if 65 <= b <= 90 else b for b in raw)


def fnv1a_64(raw: bytes) -> int:
    h = FNV64_OFFSET
    for b in raw:
        h = ((h ^ b) * FNV64_PRIME) & MASK64
    return h


def xlogx(c: int) -> float:
    return float(XLOGX[c]) if c < len(XLOGX) else c * float(np.log2(np.float64(c)))


def entropy(raw: bytes) -> float:
    """(n log2 n - sum_b c_b log2 c_b) / n, summed in first-occurrence order like the kernel."""
    if not raw:
        return 0.0
    counts: dict[int, int] = {}
    for b in raw:
        counts[b] = counts.get(b, 0) + 1
    acc = 0.0
    for b in raw:
        c = counts.get(b)
        if c:
            acc += xlogx(c)
            counts[b] = 0
    return (xlogx(len(raw)) - acc) / len(raw)


SCHEME_CHARS = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
HEX = set(b"0123456789abcdefABCDEF")


def parse(url: bytes):
    """(trimmed url, scheme, authority, host, port-or-None, path, query, fragment)."""
    u = url
    while u and u[0] <= 32:
        u = u[1:]
    while u and u[-1] <= 32:
        u = u[:-1]
    j = 0
    while j < len(u) and u[j] in SCHEME_CHARS:
        j += 1
    scheme = None
    rest = u
    if j > 0 and u[j : j + 3] == b"://":
        scheme = u[:j]
        rest = u[j + 3 :]
    elif u.startswith(b"//"):
        rest = u[2:]
    cut = len(rest)
    for ch in b"/?#\\":
        k = rest.find(bytes([ch]))
        if k >= 0:
            cut = min(cut, k)
    authority, tail = rest[:cut], rest[cut:]
    hostport = authority.rsplit(b"@", 1)[-1]
    userinfo = b"@" in authority
    if hostport.startswith(b"["):
        close = hostport.find(b"]")
        colon = hostport.find(b":", close if close >= 0 else len(hostport))
    else:
        colon = hostport.find(b":")
    if colon >= 0:
        host, port = hostport[:colon], hostport[colon + 1 :]
    else:
        host, port = hostport, None
    if host.endswith(b"."):
        host = host[:-1]
    q = len(tail)
    for ch in b"?#":
        k = tail.find(bytes([ch]))
        if k >= 0:
            q = min(q, k)
    path = tail[:q]
    after = tail[q:]
    query = fragment = b""
    has_query = after.startswith(b"?")
    if has_query:
        body = after[1:]
        k = body.find(b"#")
        query = body if k < 0 else body[:k]
        fragment = b"" if k < 0 else body[k + 1 :]
    elif after:
        fragment = after[1:]
    return u, scheme, authority, userinfo, host, port, path, query, fragment


def is_ip_host(host: bytes) -> bool:
    if not host:
        return False
    if host.startswith(b"["):
        return True
    if all(b in b"0123456789." for b in host) and any(b in b"0123456789" for b in host):
        return True
    if len(host) > 2 and host[0:1] == b"0" and host[1:2] in (b"x", b"X"):
        return all(b in HEX or b in b".xX" for b in host[2:])
    return False


def find_suffix(host: bytes, exact: set, wild: set, exc: set) -> int:
    """Index in ``host`` where the public suffix starts (len(host) if none)."""
    labels_start = [0] + [k + 1 for k, b in enumerate(host) if b == 46]
    for p in labels_start:
        cand = lower(host[p:])
        dot = cand.find(b".")
        # the sets hold hashes of the reversed rules
        if fnv1a_64(cand[::-1]) in exc:
            return p + dot + 1 if dot >= 0 else len(host)
        if fnv1a_64(cand[::-1]) in exact:
            return p
        if dot >= 0 and fnv1a_64(cand[dot + 1 :][::-1]) in wild:
            return p
    return len(host)


def longest_run(raw: bytes, pred) -> int:
    best = cur = 0
    for b in raw:
        cur = cur + 1 if pred(b) else 0
        best = max(best, cur)
    return best


def url_lexical(url: bytes, exact: set, wild: set, exc: set, tokens: list[bytes]):
    """(feature dict, (suffix, registered label)) of one URL."""
    u, scheme, authority, userinfo, host, port, path, query, fragment = parse(url)
    ip = is_ip_host(host)
    if ip or not host:
        sfx = len(host)
        label = b""
        no_suffix = bool(host) and not ip
        label_start = 0
    else:
        sfx = find_suffix(host, exact, wild, exc)
        no_suffix = sfx == len(host)
        if sfx == 0:
            label, label_start = b"", 0
        else:
            head = host[: sfx - 1] if sfx < len(host) else host
            label = head.rsplit(b".", 1)[-1]
            label_start = len(head) - len(label)
    suffix = host[sfx:]
    low = lower(u)
    f = {}
    f["url_len"] = len(u)
    f["host_len"] = len(host)
    f["path_len"] = len(path)
    f["query_len"] = len(query)
    f["fragment_len"] = len(fragment)
    f["url_digits"] = sum(48 <= b <= 57 for b in u)
    f["url_letters"] = sum(65 <= b <= 90 or 97 <= b <= 122 for b in u)
    f["url_upper"] = sum(65 <= b <= 90 for b in u)
    f["url_special"] = sum(b < 128 and not (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122) for b in u)
    f["url_non_ascii"] = sum(b >= 128 for b in u)
    for name, ch in (("url_dots", b"."), ("url_hyphens", b"-"), ("url_underscores", b"_"), ("url_slashes", b"/"),
                     ("url_at", b"@"), ("url_percent", b"%"), ("url_equals", b"="), ("url_amp", b"&"),
                     ("url_tilde", b"~")):
        f[name] = u.count(ch)
    f["query_params"] = (1 + query.count(b"&") + query.count(b";")) if query else 0
    f["path_depth"] = sum(b in b"/\\" for b in path)
    f["path_double_slash"] = sum(1 for k in range(len(path) - 1) if path[k] in b"/\\" and path[k + 1] in b"/\\")
    f["host_dots"] = host.count(b".")
    f["host_hyphens"] = host.count(b"-")
    f["host_digits"] = sum(48 <= b <= 57 for b in host)
    f["subdomain_depth"] = host[:label_start].count(b".")
    f["suffix_len"] = len(suffix)
    f["suffix_labels"] = suffix.count(b".") + 1 if suffix else 0
    lab = lower(label)
    f["domain_len"] = len(label)
    f["domain_digits"] = sum(48 <= b <= 57 for b in lab)
    f["domain_hyphens"] = lab.count(b"-")
    f["domain_digit_run"] = longest_run(lab, lambda b: 48 <= b <= 57)
    f["domain_consonant_run"] = longest_run(lab, lambda b: 97 <= b <= 122 and b not in b"aeiou")
    letters = sum(97 <= b <= 122 for b in lab)
    f["domain_vowel_ratio"] = sum(b in b"aeiou" for b in lab) / letters if letters else 0.0
    f["host_max_label"] = max((len(x) for x in host.split(b".")), default=0)
    f["url_entropy"] = entropy(u)
    f["host_entropy"] = entropy(host)
    f["domain_entropy"] = entropy(label)
    f["ip_host"] = float(ip)
    f["has_port"] = float(port is not None)
    f["port_nonstandard"] = float(port is not None and not (port.isdigit() and int(port) in (80, 443)))
    f["has_scheme"] = float(scheme is not None)
    f["is_https"] = float(scheme is not None and lower(scheme) == b"https")
    f["has_userinfo"] = float(userinfo)
    f["punycode"] = float(any(lower(x).startswith(b"xn--") for x in host.split(b".")))
    f["no_suffix"] = float(no_suffix)
    f["suspicious_tokens"] = sum(1 for t in tokens for k in range(len(low)) if low.startswith(t, k))
    f["invalid_escapes"] = sum(1 for k, b in enumerate(u) if b == 37 and not (
        k + 2 < len(u) and u[k + 1] in HEX and u[k + 2] in HEX))
    f["bare_host"] = float(len(path) <= 1 and not query and not fragment)
    return f, (suffix, label)


def gram_hash32(raw: bytes, seed: int, g: int | None) -> int:
    """FNV-1a 32 from ``OFFSET ^ seed``; one more round with ``g`` when given."""
    h = (2166136261 ^ seed) & 0xFFFFFFFF
    for b in raw:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    if g is not None:
        h = ((h ^ g) * 16777619) & 0xFFFFFFFF
    return h


def url_hashed_row(url: bytes, dense_row: np.ndarray, label: bytes, suffix: bytes,
                   n_min: int, n_max: int, n_features: int, seed: int, domain_weight: float,
                   with_domain: bool = True) -> dict[int, float]:
    """Column -> value of one CSR row; ``with_domain=False``: the URL grams alone."""
    u = parse(url)[0]
    low = lower(u)
    d = len(dense_row)
    grams: dict[int, float] = {}
    for g in range(n_min, n_max + 1):
        for p in range(len(low) - g + 1):
            c = d + gram_hash32(low[p : p + g], seed, g) % n_features
            grams[c] = grams.get(c, 0.0) + 1.0
    n_url = sum(max(len(low) - g + 1, 0) for g in range(n_min, n_max + 1))
    if not with_domain:
        norm = math.sqrt(n_url)
        out = {k: float(v) for k, v in enumerate(dense_row) if v != 0.0}
        out.update({k: (v / norm if norm > 0 else 0.0) for k, v in grams.items()})
        return out
    framed = b"\x02" + lower(label) + b"\x03"
    for p in range(len(framed)):  # same accumulation order as the kernel (by start, then length)
        for g in range(2, 5):
            if p + g <= len(framed):
                c = d + gram_hash32(framed[p : p + g], seed + 100, g) % n_features
                grams[c] = grams.get(c, 0.0) + domain_weight
    c = d + gram_hash32(b"\x02" + lower(suffix) + b"\x03", seed + 200, None) % n_features
    grams[c] = grams.get(c, 0.0) + domain_weight
    # norm over the grams (a gram counted once per occurrence), not over columns
    n_dom = sum(max(len(framed) - g + 1, 0) for g in range(2, 5))
    norm = math.sqrt(n_url + (n_dom + 1) * domain_weight**2)
    out = {k: float(v) for k, v in enumerate(dense_row) if v != 0.0}
    out.update({k: (v / norm if norm > 0 else 0.0) for k, v in grams.items()})
    return out


def gram_bucket(gram: bytes, bits: int) -> int:
    """FNV-1a 64 seeded with the gram length, murmur3-finalised, top ``bits`` bits."""
    h = FNV64_OFFSET ^ len(gram)
    for b in gram:
        h = ((h ^ b) * FNV64_PRIME) & MASK64
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & MASK64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & MASK64
    h ^= h >> 33
    return h >> (64 - bits)


class _Buckets(dict):
    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = bits

    def get(self, gram, default=0):
        return super().get(gram_bucket(gram, self.bits), default)

    def __setitem__(self, gram, value):
        super().__setitem__(gram_bucket(gram, self.bits), value)


class CharLM:
    """Char LM with hashed counts and the same Dirichlet interpolation as lm_logprob."""

    def __init__(self, order: int, strength: float, base_prob: float, bits: int = 16) -> None:
        self.order, self.strength, self.base = order, strength, base_prob
        self.counts: dict[bytes, int] = _Buckets(bits)
        self.symbols = 0

    def _framed(self, label: bytes) -> bytes:
        return b"\x02" * (self.order - 1) + lower(label) + b"\x03"

    def update(self, label: bytes) -> None:
        w = self._framed(label)
        pad = self.order - 1
        for length in range(1, self.order):
            g = w[pad - length : pad]
            self.counts[g] = self.counts.get(g, 0) + 1
        for pos in range(pad, len(w)):
            self.symbols += 1
            for length in range(1, self.order + 1):
                g = w[pos - length + 1 : pos + 1]
                self.counts[g] = self.counts.get(g, 0) + 1

    def logprob(self, label: bytes) -> float:
        w = self._framed(label)
        pad = self.order - 1
        total = 0.0
        for pos in range(pad, len(w)):
            p = self.base
            for length in range(1, self.order + 1):
                joint = self.counts.get(w[pos - length + 1 : pos + 1], 0)
                ctx = self.symbols if length == 1 else self.counts.get(w[pos - length + 1 : pos], 0)
                p = (joint + self.strength * p) / (ctx + self.strength)
            total += math.log(p)
        return total
