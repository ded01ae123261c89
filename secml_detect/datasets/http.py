"""Loaders for HTTP parameter values (Morzeux HttpParamsDataset)."""

from __future__ import annotations

import csv
from pathlib import Path
from urllib.parse import quote_plus

import numpy as np

from . import bundled_path, dataset_files

__all__ = ["load_http_params", "load_http_params_sample", "SHOP_ENDPOINTS", "build_http_request",
           "http_requests_from_values"]


def _read(path: Path) -> tuple[list[str], list[str], list[int]]:
    values, kinds, labels = [], [], []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            values.append(row["payload"])
            kinds.append(row["attack_type"])
            labels.append(int(row["label"] != "norm"))
    return values, kinds, labels


def load_http_params() -> tuple[list[str], list[str], list[int]]:
    """The shared HTTP parameter values (the development data holds the train split).

    Every ``payload_*.csv`` of the folder is read, in name order.

    Returns
    -------
    values : list of str
        Parameter values.
    attack_types : list of str
        ``"norm"``, ``"sqli"``, ``"xss"``, ``"path-traversal"`` or ``"cmdi"``.
    labels : list of int
        1 for attacks, 0 for normal values.
    """
    values, kinds, labels = [], [], []
    for path in dataset_files("http_params_morzeux", "payload_*.csv"):
        part = _read(path)
        values += part[0]
        kinds += part[1]
        labels += part[2]
    return values, kinds, labels


def load_http_params_sample() -> tuple[list[str], list[str], list[int]]:
    """The small sample bundled in the package (same columns as :func:`load_http_params`).

    Examples
    --------
    >>> values, kinds, labels = load_http_params_sample()
    >>> len(values) == len(labels), sorted(set(labels))
    (True, [0, 1])
    """
    return _read(bundled_path("http_params_sample.csv"))


#: The fictitious shop used to wrap parameter values into requests: (method, path, parameter names).
SHOP_ENDPOINTS = [
    ("GET", "/shop/search", ["q", "page"]),
    ("GET", "/shop/product", ["id"]),
    ("GET", "/shop/category", ["name", "sort"]),
    ("POST", "/shop/cart/add", ["id", "quantity", "price"]),
    ("POST", "/shop/login", ["user", "password"]),
    ("POST", "/shop/register", ["name", "surname", "email", "address"]),
    ("POST", "/shop/checkout", ["address", "city", "zip", "card"]),
    ("GET", "/shop/account", ["user"]),
    ("POST", "/shop/review", ["id", "title", "text"]),
    ("GET", "/shop/store", ["city", "province"]),
    ("POST", "/shop/contact", ["email", "subject", "message"]),
    ("GET", "/shop/order/track", ["order", "email"]),
]
_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Safari/605.1.15",
]
_LANGS = ["es-ES,es;q=0.9", "en-US,en;q=0.8", "ca-ES,ca;q=0.9,es;q=0.7"]


def build_http_request(rng: np.random.RandomState, method: str, path: str, params, host: str = "shop.example") -> bytes:
    """One browser-like HTTP/1.1 request: ``params`` (name, value) pairs percent-encoded into the
    query string (GET) or a form body (POST), with Host, User-Agent, Accept, Accept-Language,
    a random session cookie and Connection headers."""
    form = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in params)
    session = rng.bytes(16).hex()
    head = [
        f"Host: {host}",
        f"User-Agent: {_AGENTS[rng.randint(len(_AGENTS))]}",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        f"Accept-Language: {_LANGS[rng.randint(len(_LANGS))]}",
        f"Cookie: JSESSIONID={session}",
        "Connection: keep-alive",
    ]
    if method == "GET":
        line, body = f"GET {path}?{form} HTTP/1.1", ""
    else:
        line, body = f"POST {path} HTTP/1.1", form
        head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body.encode())}"]
    return ("\r\n".join([line, *head]) + "\r\n\r\n" + body).encode("utf-8")


def http_requests_from_values(values, fillers=None, *, seed: int = 0, endpoints=SHOP_ENDPOINTS,
                              host: str = "shop.example") -> list[bytes]:
    r"""Wrap parameter values into raw HTTP requests, reproducibly.

    With ``fillers=None`` every value is used exactly once: each request takes
    as many consecutive (shuffled) values as its endpoint has parameters.
    Otherwise each value makes one request, placed in a random parameter of a
    random endpoint, and the other parameters get values drawn from
    ``fillers`` (with replacement). The endpoint and parameter choice never
    depends on the value.

    Examples
    --------
    >>> reqs = http_requests_from_values(["ana", "42"], seed=1)
    >>> all(r.endswith(b"\r\n\r\n") or b"Content-Length" in r for r in reqs)
    True
    >>> len(http_requests_from_values(["x", "y", "z"], fillers=["a"], seed=1))
    3
    """
    rng = np.random.RandomState(seed)
    values = list(values)
    out = []
    if fillers is None:
        order = rng.permutation(len(values))
        k = 0
        while k < len(order):
            method, path, names = endpoints[rng.randint(len(endpoints))]
            take = [values[j] for j in order[k : k + len(names)]]
            k += len(names)
            out.append(build_http_request(rng, method, path, list(zip(names, take)), host))
        return out
    fillers = list(fillers)
    for value in values:
        method, path, names = endpoints[rng.randint(len(endpoints))]
        slot = rng.randint(len(names))
        params = [(name, value if j == slot else fillers[rng.randint(len(fillers))]) for j, name in enumerate(names)]
        out.append(build_http_request(rng, method, path, params, host))
    return out
