"""Tolerant parsing of HTTP/1.x requests (and raw payloads) into model fields.

Attackers send malformed requests on purpose, so the parser never raises on
bytes: a truncated head, a request line with spaces in the target, invalid
percent-escapes, bare ``LF`` line ends, folded or colon-less header lines,
a ``Content-Length`` that disagrees with the body, NUL bytes or non-UTF-8
text are all parsed best-effort and **recorded as flags**, which the model
scores like any other field. Work is bounded: at most ``max_fields`` fields
and ``max_value_bytes`` bytes per value are kept (cuts are flagged).

Why not ``h11``: h11 is a strict, well-kept state machine, the right tool to
*serve* HTTP, but it raises ``RemoteProtocolError`` on exactly the malformed
requests this model must score, and it costs more per request than the
whole scoring budget (see ``benchmarks/bench_protocol.py``). This parser
follows RFC 9112's framing (request line, header lines up to an empty line,
body framed by ``Content-Length``) and records each departure instead.

Three inputs are accepted (see :func:`parse_item`):

* raw requests as ``bytes`` or ``str``;
* already-parsed records: a ``dict`` with ``method``, ``path``, ``query``
  (a query string, a dict or a list of pairs), ``headers`` (dict or list of
  pairs), ``body`` (bytes, str, or a dict of form fields) and an optional
  ``service``; a dict holding ``raw`` (the request bytes) and ``service``;
* raw payloads of any protocol: a dict with ``payload`` and ``service`` or
  ``port`` (or, with ``mode="raw"``, bare bytes).
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

import numpy as np

from .._ragged import to_ragged_bytes

__all__ = ["ParsedRequest", "FLAG_NAMES", "LOCATIONS", "parse_http_request", "parse_record", "parse_payload",
           "parse_item", "normalize_endpoint", "FlatBatch", "flatten", "parse_batch"]

#: Parse anomalies, one bit each (``ParsedRequest.flags``).
FLAG_NAMES = (
    "malformed request line",
    "unknown HTTP version",
    "no end of header (truncated)",
    "header line without a name",
    "bare LF line ending",
    "folded header line",
    "invalid percent-encoding",
    "non-UTF-8 bytes in request head",
    "control bytes in request head",
    "body shorter than Content-Length",
    "body longer than Content-Length",
    "header section too large",
    "conflicting message framing",
    "too many fields (rest dropped)",
    "value cut to max_value_bytes",
    "unparsable JSON body",
)
(F_REQUEST_LINE, F_VERSION, F_NO_END, F_HEADER_LINE, F_BARE_LF, F_FOLD, F_PERCENT, F_NON_UTF8, F_CONTROL,
 F_BODY_SHORT, F_BODY_LONG, F_HEADER_SIZE, F_FRAMING, F_TOO_MANY, F_VALUE_CUT, F_JSON) = (
    1 << i for i in range(len(FLAG_NAMES)))

_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HEX_CHARS = frozenset(b"0123456789abcdefABCDEF-")
_METHOD = re.compile(rb"^[A-Z][A-Z_-]{0,19}$")
_VERSIONS = (b"HTTP/1.1", b"HTTP/1.0", b"HTTP/0.9")
#: Location names, in the order of their integer codes.
LOCATIONS = ("query", "body", "cookie", "header", "path", "payload")
#: Group of the hierarchy for fields that do not belong to an endpoint.
GROUPS = {"cookie": b"#cookie", "header": b"#header", "path": b"#path", "payload": b"#payload"}


class ParsedRequest:
    """One request (or payload) as the fields the model scores.

    Names and values are ``bytes`` (exactly as received, after
    percent-decoding), so non-UTF-8 input loses nothing.

    Attributes
    ----------
    service : bytes
        Service key: the ``service``/``port`` given with the item, else the
        ``Host`` header (lower-cased, without port), else ``b"default"``.
    method : bytes
        Request method, at most 32 bytes (``b""`` for raw payloads).
    endpoint : bytes
        Decoded path with numeric and long hexadecimal segments replaced by
        ``{n}`` and ``{id}`` (:func:`normalize_endpoint`); ``b"#payload"``
        for raw payloads.
    fields : list of (str, bytes, bytes)
        ``(location, name, value)``; location is one of :data:`LOCATIONS`.
    flags : int
        Bit set of :data:`FLAG_NAMES`.
    """

    __slots__ = ("service", "method", "endpoint", "fields", "flags")

    def __init__(self, service=b"default", method=b"", endpoint=b"/", fields=None, flags=0):
        self.service = service
        self.method = method
        self.endpoint = endpoint
        self.fields = [] if fields is None else fields
        self.flags = flags

    @property
    def flag_names(self) -> list[str]:
        """Names of the parse anomalies found."""
        return [name for i, name in enumerate(FLAG_NAMES) if self.flags >> i & 1]

    def __repr__(self) -> str:
        return (f"ParsedRequest(service={self.service!r}, method={self.method!r}, endpoint={self.endpoint!r}, "
                f"fields={self.fields!r}, flags={self.flag_names!r})")


def _unquote(raw: bytes, plus: bool) -> tuple[bytes, int]:
    """Percent-decode best-effort (invalid escapes kept literally, flagged)."""
    flags = 0
    if plus and b"+" in raw:
        raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        if _BAD_PERCENT.search(raw):
            flags |= F_PERCENT
        raw = unquote_to_bytes(raw)
    return raw, flags


def _is_utf8(raw: bytes) -> bool:
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def normalize_endpoint(path: bytes) -> bytes:
    """Endpoint key of a decoded path: numeric / long hex segments become placeholders.

    Examples
    --------
    >>> normalize_endpoint(b"/users/123/orders/9f8e7d6c5b4a39281706")
    b'/users/{n}/orders/{id}'
    """
    parts = []
    for seg in path.split(b"/"):
        if seg and seg.isdigit():
            seg = b"{n}"
        elif len(seg) >= 16 and all(c in _HEX_CHARS for c in seg) and any(48 <= c <= 57 for c in seg):
            seg = b"{id}"
        parts.append(seg)
    return b"/".join(parts) or b"/"


class _Limits:
    __slots__ = ("max_fields", "max_value_bytes", "max_header_bytes")

    def __init__(self, max_fields=256, max_value_bytes=4096, max_header_bytes=65536):
        self.max_fields = max_fields
        self.max_value_bytes = max_value_bytes
        self.max_header_bytes = max_header_bytes


_DEFAULT_LIMITS = _Limits()


def _add(req: ParsedRequest, location: str, name: bytes, value: bytes, limits: _Limits) -> None:
    if len(req.fields) >= limits.max_fields:
        req.flags |= F_TOO_MANY
        return
    if len(value) > limits.max_value_bytes:
        value = value[: limits.max_value_bytes]
        req.flags |= F_VALUE_CUT
    req.fields.append((location, name, value))


def _add_form(req: ParsedRequest, raw: bytes, location: str, limits: _Limits) -> None:
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        name, f1 = _unquote(name, True)
        value, f2 = _unquote(value, True)
        req.flags |= f1 | f2
        _add(req, location, name, value, limits)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _flatten_json(req: ParsedRequest, obj, prefix: str, limits: _Limits, depth: int = 0) -> None:
    if depth > 8:
        _add(req, "body", _encode(prefix or "$"), _encode(json.dumps(obj, ensure_ascii=False)), limits)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _flatten_json(req, value, f"{prefix}.{key}" if prefix else str(key), limits, depth + 1)
    elif isinstance(obj, list):
        for value in obj:
            _flatten_json(req, value, prefix + "[]", limits, depth + 1)
    else:
        text = obj if isinstance(obj, str) else json.dumps(obj)
        _add(req, "body", _encode(prefix or "$"), _encode(text), limits)


def _add_body(req: ParsedRequest, body: bytes, content_type: bytes, limits: _Limits) -> None:
    if not body:
        return
    ctype = content_type.lower()
    if b"json" in ctype:
        try:
            _flatten_json(req, json.loads(body), "", limits)
            return
        except (ValueError, RecursionError):
            req.flags |= F_JSON
    elif b"x-www-form-urlencoded" in ctype or (not ctype and b"=" in body[:256] and b"\n" not in body[:256]):
        _add_form(req, body, "body", limits)
        return
    _add(req, "body", b"#body", body, limits)


def _set_target(req: ParsedRequest, target: bytes, limits: _Limits) -> None:
    if target.startswith((b"http://", b"https://")):
        rest = target.split(b"//", 1)[1]
        slash = rest.find(b"/")
        target = rest[slash:] if slash >= 0 else b"/"
    target = target.split(b"#", 1)[0]
    path, _, query = target.partition(b"?")
    dpath, flags = _unquote(path, False)
    req.flags |= flags
    if not _is_utf8(path):
        req.flags |= F_NON_UTF8
    req.endpoint = normalize_endpoint(dpath)
    if len(dpath) > 1:
        _add(req, "path", b"#path", dpath, limits)
    if query:
        _add_form(req, query, "query", limits)


def parse_http_request(raw: bytes | str, *, service: bytes | str | None = None, limits: _Limits = _DEFAULT_LIMITS
                       ) -> ParsedRequest:
    """Parse one raw HTTP/1.x request best-effort; never raises on any bytes.

    This is the readable reference; batches of raw requests are parsed by a
    numba kernel (:func:`secml_detect._kernels.protocol.parse_http_batch`)
    that property tests hold to exactly this behaviour.

    Parameters
    ----------
    raw : bytes or str
        The request as sent (``str`` is UTF-8 encoded, lone surrogates kept).
    service : bytes or str, optional
        Service key; defaults to the ``Host`` header (without port).

    Returns
    -------
    ParsedRequest

    Examples
    --------
    >>> r = parse_http_request(b"GET /item?id=3&q=red%20shoes HTTP/1.1\\r\\nHost: Shop:80\\r\\n\\r\\n")
    >>> r.service, r.method, r.endpoint
    (b'shop', b'GET', b'/item')
    >>> r.fields  # doctest: +NORMALIZE_WHITESPACE
    [('path', b'#path', b'/item'), ('query', b'id', b'3'), ('query', b'q', b'red shoes'),
     ('header', b'host', b'Shop:80')]
    >>> parse_http_request(b"GET /a?x=%zz HTTP/1.1\\nHost").flag_names
    ['no end of header (truncated)', 'header line without a name', 'bare LF line ending', 'invalid percent-encoding']
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    req = ParsedRequest()
    flags = 0
    end = raw.find(b"\r\n\r\n")
    if end >= 0:
        head, body = raw[:end], raw[end + 4 :]
    else:
        end = raw.find(b"\n\n")
        if end >= 0:
            head, body = raw[:end], raw[end + 2 :]
            flags |= F_BARE_LF
        else:
            head, body = raw, b""
            flags |= F_NO_END
    if len(head) > limits.max_header_bytes:
        flags |= F_HEADER_SIZE
        head = head[: limits.max_header_bytes]
    lines = head.split(b"\n")
    for k, line in enumerate(lines):
        if line.endswith(b"\r"):
            lines[k] = line[:-1]
        elif k < len(lines) - 1:
            flags |= F_BARE_LF
    if _CONTROL.search(head):
        flags |= F_CONTROL
    parts = lines[0].split()
    version = b""
    if len(parts) >= 3 and parts[-1].startswith(b"HTTP/"):
        version = parts[-1]
        target = b" ".join(parts[1:-1])
        if len(parts) > 3:
            flags |= F_REQUEST_LINE
    else:
        flags |= F_REQUEST_LINE
        target = b" ".join(parts[1:])
    if version not in _VERSIONS:
        flags |= F_VERSION
    method = parts[0] if parts else b""
    if not _METHOD.match(method):
        flags |= F_REQUEST_LINE
    req.method = method[:32]
    req.flags = flags
    _set_target(req, target, limits)

    content_length = None
    content_type = b""
    host = None
    for line in lines[1:]:
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            req.flags |= F_FOLD  # obsolete line folding: flagged, content dropped
            continue
        name, colon, value = line.partition(b":")
        name = name.strip()
        if not colon or not name or b" " in name:
            req.flags |= F_HEADER_LINE
            if not colon:
                continue
        if not _is_utf8(line):
            req.flags |= F_NON_UTF8
        lname = name.lower()
        value = value.strip()
        if lname == b"cookie":
            for crumb in value.split(b";"):
                cname, _, cvalue = crumb.strip().partition(b"=")
                cvalue, f = _unquote(cvalue, False)
                req.flags |= f
                _add(req, "cookie", cname, cvalue, limits)
            continue
        if lname == b"content-length":
            if content_length is not None or not value.isdigit():
                req.flags |= F_FRAMING
            if value.isdigit():
                content_length = int(value)
        elif lname == b"transfer-encoding":
            if content_length is not None:
                req.flags |= F_FRAMING
        elif lname == b"content-type":
            content_type = value
        elif lname == b"host":
            host = value
        _add(req, "header", lname, value, limits)
    if content_length is not None:
        if len(body) < content_length:
            req.flags |= F_BODY_SHORT
        elif len(body) > content_length:
            req.flags |= F_BODY_LONG
            body = body[:content_length]
    _add_body(req, body, content_type, limits)
    if service is not None:
        req.service = _as_bytes(service)
    elif host:
        req.service = host.split(b":", 1)[0].lower()[:255] or b"default"
    return req


def _as_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if value is None:
        return b""
    return str(value).encode("utf-8", "surrogatepass")


def _pairs(obj) -> list[tuple]:
    if obj is None:
        return []
    if isinstance(obj, dict):
        out = []
        for key, value in obj.items():
            if isinstance(value, (list, tuple)):
                out.extend((key, v) for v in value)
            else:
                out.append((key, value))
        return out
    return [tuple(p) for p in obj]


def parse_record(record: dict, *, limits: _Limits = _DEFAULT_LIMITS) -> ParsedRequest:
    """Turn an already-parsed request record (a dict) into a :class:`ParsedRequest`.

    Keys: ``method``, ``path``, ``query`` (string, dict or pairs; values are
    taken as already decoded), ``headers`` (dict or pairs), ``body`` (bytes,
    str or dict of form fields), ``service``. A ``path`` holding ``?query`` is
    split like a raw target.

    Examples
    --------
    >>> r = parse_record({"method": "POST", "path": "/login", "body": {"user": "ana"}, "service": "web"})
    >>> r.service, r.endpoint, r.fields
    (b'web', b'/login', [('path', b'#path', b'/login'), ('body', b'user', b'ana')])
    """
    req = ParsedRequest(service=_as_bytes(record.get("service", "default")))
    req.method = _as_bytes(record.get("method", "GET"))[:32]
    _set_target(req, _as_bytes(record.get("path", "/")), limits)
    query = record.get("query")
    if isinstance(query, (str, bytes)):
        _add_form(req, _as_bytes(query), "query", limits)
    else:
        for name, value in _pairs(query):
            _add(req, "query", _as_bytes(name), _as_bytes(value), limits)
    content_type = b""
    for name, value in _pairs(record.get("headers")):
        lname = _as_bytes(name).lower()
        value = _as_bytes(value)
        if lname == b"content-type":
            content_type = value
        if lname == b"host" and "service" not in record:
            req.service = value.split(b":", 1)[0].lower() or b"default"
        _add(req, "header", lname, value, limits)
    body = record.get("body")
    if isinstance(body, dict):
        for name, value in _pairs(body):
            _add(req, "body", _as_bytes(name), _as_bytes(value), limits)
    elif body is not None:
        _add_body(req, _as_bytes(body), content_type, limits)
    return req


def parse_payload(payload, service=None, *, limits: _Limits = _DEFAULT_LIMITS) -> ParsedRequest:
    """A raw payload of any protocol as one field keyed by its service (or port).

    Examples
    --------
    >>> parse_payload(b"EHLO mail.example", service=25).fields
    [('payload', b'payload', b'EHLO mail.example')]
    """
    req = ParsedRequest(service=b"default" if service is None else _as_bytes(service), endpoint=b"#payload")
    _add(req, "payload", b"payload", _as_bytes(payload), limits)
    return req


def parse_item(item, *, mode: str = "http", limits: _Limits = _DEFAULT_LIMITS) -> ParsedRequest | None:
    """Parse any accepted input; ``None`` for an unusable item (not str/bytes/dict).

    ``mode="http"`` parses ``str``/``bytes`` as HTTP requests, ``mode="raw"``
    as payloads of the ``default`` service. Dicts decide for themselves:
    ``payload`` -> raw payload, ``raw`` -> raw request, else a parsed record.
    """
    if isinstance(item, (bytes, str, bytearray, memoryview)):
        data = _as_bytes(item)
        if mode == "raw":
            return parse_payload(data, limits=limits)
        return parse_http_request(data, limits=limits)
    if isinstance(item, dict):
        if "payload" in item:
            return parse_payload(item["payload"], item.get("service", item.get("port")), limits=limits)
        if "raw" in item:
            raw = item["raw"]
            if not isinstance(raw, (bytes, str, bytearray, memoryview)):
                return None
            return parse_http_request(_as_bytes(raw), service=item.get("service"), limits=limits)
        return parse_record(item, limits=limits)
    return None


class FlatBatch:
    """A parsed batch as flat arrays: what the model's kernels read.

    Per request: ``flags``, ``bad`` (unusable item), and the ``service``,
    ``method`` and ``endpoint`` bytes as ``(data, offsets)`` pairs. Per field:
    ``field_req`` (request index), ``field_loc`` (index into
    :data:`LOCATIONS`) and the ``name`` and ``value`` bytes as ``(data,
    offsets)`` pairs. Fields are grouped by request, in request order.
    """

    __slots__ = ("n", "flags", "bad", "service", "method", "endpoint", "field_req", "field_loc", "name", "value")

    def request(self, i: int) -> ParsedRequest | None:
        """Request ``i`` back as a :class:`ParsedRequest` (``None`` when bad)."""
        if self.bad[i]:
            return None

        def get(pair, k):
            data, off = pair
            return data[off[k] : off[k + 1]].tobytes()

        lo, hi = np.searchsorted(self.field_req, [i, i + 1])
        fields = [(LOCATIONS[int(self.field_loc[f])], get(self.name, f), get(self.value, f)) for f in range(lo, hi)]
        return ParsedRequest(get(self.service, i), get(self.method, i), get(self.endpoint, i), fields,
                             int(self.flags[i]))


def _ragged(chunks: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in chunks], out=off[1:]) if chunks else None
    return np.frombuffer(b"".join(chunks), dtype=np.uint8).copy(), off


def flatten(parsed: list[ParsedRequest | None]) -> FlatBatch:
    """Flat arrays of a list of parsed requests (``None`` = bad item)."""
    loc_code = {name: k for k, name in enumerate(LOCATIONS)}
    out = FlatBatch()
    out.n = len(parsed)
    out.bad = np.array([p is None for p in parsed], dtype=bool)
    out.flags = np.array([0 if p is None else p.flags for p in parsed], dtype=np.int64)
    ok = [p if p is not None else ParsedRequest(b"", b"", b"") for p in parsed]
    out.service = _ragged([p.service for p in ok])
    out.method = _ragged([p.method for p in ok])
    out.endpoint = _ragged([p.endpoint for p in ok])
    req, loc, names, values = [], [], [], []
    for i, p in enumerate(ok):
        for location, name, value in p.fields:
            req.append(i)
            loc.append(loc_code[location])
            names.append(name)
            values.append(value)
    out.field_req = np.array(req, dtype=np.int64)
    out.field_loc = np.array(loc, dtype=np.int64)
    out.name = _ragged(names)
    out.value = _ragged(values)
    return out


def parse_batch(items, *, mode: str = "http", limits: _Limits = _DEFAULT_LIMITS) -> FlatBatch:
    """Parse a batch into a :class:`FlatBatch`; raw requests go through the numba parser.

    Dicts, raw payloads and the rare requests the kernel leaves to Python
    (JSON bodies) are parsed by :func:`parse_item`; the result is the same
    as parsing every item with :func:`parse_item` and :func:`flatten`.

    Examples
    --------
    >>> flat = parse_batch([b"GET /a?x=1 HTTP/1.1\\r\\nHost: h\\r\\n\\r\\n", None])
    >>> flat.n, flat.bad.tolist(), flat.request(0).fields
    (2, [False, True], [('path', b'#path', b'/a'), ('query', b'x', b'1'), ('header', b'host', b'h')])
    """
    from .._kernels.protocol import parse_http_batch

    items = list(items)
    raw_types = (bytes, str, bytearray, memoryview)
    fast = [i for i, item in enumerate(items) if mode == "http" and isinstance(item, raw_types)]
    if len(fast) == len(items) and items:
        ragged = to_ragged_bytes(items)
        req, bufs, fields = parse_http_batch(ragged.data, ragged.offsets, limits.max_fields, limits.max_value_bytes,
                                             limits.max_header_bytes)
        flags, slow, svc_off, meth_off, endp_off = req
        if not slow.any():
            out = FlatBatch()
            out.n = len(items)
            out.flags = flags
            out.bad = np.zeros(len(items), dtype=bool)
            out.service = (bufs[0], svc_off)
            out.method = (bufs[1], meth_off)
            out.endpoint = (bufs[2], endp_off)
            out.field_req, out.field_loc, name_off, names, value_off, values = fields
            out.name = (names, name_off)
            out.value = (values, value_off)
            return out
    parsed = []
    if fast:
        ragged = to_ragged_bytes([items[i] for i in fast])
        req, bufs, fields = parse_http_batch(ragged.data, ragged.offsets, limits.max_fields, limits.max_value_bytes,
                                             limits.max_header_bytes)
        part = FlatBatch()
        part.n = len(fast)
        part.flags, slow = req[0], req[1]
        part.bad = np.zeros(len(fast), dtype=bool)
        part.service, part.method, part.endpoint = (bufs[0], req[2]), (bufs[1], req[3]), (bufs[2], req[4])
        part.field_req, part.field_loc = fields[0], fields[1]
        part.name, part.value = (fields[3], fields[2]), (fields[5], fields[4])
        done = {i: (None if slow[k] else part.request(k)) for k, i in enumerate(fast)}
    else:
        done = {}
    for i, item in enumerate(items):
        got = done.get(i)
        parsed.append(got if got is not None else parse_item(item, mode=mode, limits=limits))
    return flatten(parsed)
