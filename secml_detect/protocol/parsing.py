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

__all__ = ["ParsedRequest", "FLAG_NAMES", "parse_http_request", "parse_record", "parse_payload", "parse_item",
           "normalize_endpoint"]

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
_NUMERIC = re.compile(r"^[0-9]+$")
_HEXLIKE = re.compile(r"^(?=.*[0-9])[0-9a-fA-F-]{16,}$")
_METHOD = re.compile(rb"^[A-Z][A-Z_-]{0,19}$")
_VERSIONS = {b"HTTP/1.1": "HTTP/1.1", b"HTTP/1.0": "HTTP/1.0", b"HTTP/0.9": "HTTP/0.9"}


class ParsedRequest:
    """One request (or payload) as the fields the model scores.

    Attributes
    ----------
    service : str
        Service key: the ``service``/``port`` given with the item, else the
        ``Host`` header without port, else ``"default"``.
    method : str
        Request method (``""`` for raw payloads).
    endpoint : str
        Decoded path with numeric and long hexadecimal segments replaced by
        ``{n}`` and ``{id}``; ``"#payload"`` for raw payloads.
    fields : list of (str, str, bytes)
        ``(location, name, value)`` with location ``query``, ``body``,
        ``cookie``, ``header``, ``path`` or ``payload``; values are decoded
        (percent-escapes, ``+``) bytes.
    header_names : list of str
        Lower-cased header names in order.
    flags : int
        Bit set of :data:`FLAG_NAMES`.
    """

    __slots__ = ("service", "method", "endpoint", "fields", "header_names", "flags")

    def __init__(self, service="default", method="", endpoint="/", fields=None, header_names=None, flags=0):
        self.service = service
        self.method = method
        self.endpoint = endpoint
        self.fields = [] if fields is None else fields
        self.header_names = [] if header_names is None else header_names
        self.flags = flags

    @property
    def flag_names(self) -> list[str]:
        """Names of the parse anomalies found."""
        return [name for i, name in enumerate(FLAG_NAMES) if self.flags >> i & 1]

    def __repr__(self) -> str:
        return (f"ParsedRequest(service={self.service!r}, method={self.method!r}, endpoint={self.endpoint!r}, "
                f"fields={self.fields!r}, header_names={self.header_names!r}, flags={self.flag_names!r})")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


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


def normalize_endpoint(path: str) -> str:
    """Endpoint key of a decoded path: numeric / long hex segments become placeholders.

    Examples
    --------
    >>> normalize_endpoint("/users/123/orders/9f8e7d6c5b4a39281706")
    '/users/{n}/orders/{id}'
    """
    if "/" not in path.strip("/"):
        seg = path.strip("/")
        if not seg or not (seg.isdigit() or _HEXLIKE.match(seg)):
            return path or "/"
    parts = []
    for seg in path.split("/"):
        if seg and _NUMERIC.match(seg):
            seg = "{n}"
        elif _HEXLIKE.match(seg):
            seg = "{id}"
        parts.append(seg)
    return "/".join(parts) or "/"


class _Limits:
    __slots__ = ("max_fields", "max_value_bytes", "max_header_bytes")

    def __init__(self, max_fields=256, max_value_bytes=4096, max_header_bytes=65536):
        self.max_fields = max_fields
        self.max_value_bytes = max_value_bytes
        self.max_header_bytes = max_header_bytes


_DEFAULT_LIMITS = _Limits()


def _add(req: ParsedRequest, location: str, name: str, value: bytes, limits: _Limits) -> None:
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
        name, eq, value = pair.partition(b"=")
        name, f1 = _unquote(name, True)
        value, f2 = _unquote(value, True)
        req.flags |= f1 | f2
        _add(req, location, _text(name), value, limits)


def _flatten_json(req: ParsedRequest, obj, prefix: str, limits: _Limits, depth: int = 0) -> None:
    if depth > 8:
        _add(req, "body", prefix or "$", json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass"), limits)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _flatten_json(req, value, f"{prefix}.{key}" if prefix else str(key), limits, depth + 1)
    elif isinstance(obj, list):
        for value in obj:
            _flatten_json(req, value, prefix + "[]", limits, depth + 1)
    else:
        text = obj if isinstance(obj, str) else json.dumps(obj)
        _add(req, "body", prefix or "$", text.encode("utf-8", "surrogatepass"), limits)


def _add_body(req: ParsedRequest, body: bytes, content_type: str, limits: _Limits) -> None:
    if not body:
        return
    ctype = content_type.lower()
    if "json" in ctype:
        try:
            _flatten_json(req, json.loads(body), "", limits)
            return
        except (ValueError, RecursionError):
            req.flags |= F_JSON
    elif "x-www-form-urlencoded" in ctype or (not ctype and b"=" in body[:256] and b"\n" not in body[:256]):
        _add_form(req, body, "body", limits)
        return
    _add(req, "body", "#body", body, limits)


def _set_target(req: ParsedRequest, target: bytes, limits: _Limits) -> None:
    if target.startswith((b"http://", b"https://")):
        rest = target.split(b"//", 1)[1]
        slash = rest.find(b"/")
        target = rest[slash:] if slash >= 0 else b"/"
    target = target.split(b"#", 1)[0]
    path, _, query = target.partition(b"?")
    dpath, flags = _unquote(path, False)
    req.flags |= flags
    if not path.isascii():
        try:
            path.decode("utf-8")
        except UnicodeDecodeError:
            req.flags |= F_NON_UTF8
    text = _text(dpath)
    req.endpoint = normalize_endpoint(text)
    if len(dpath) > 1:
        _add(req, "path", "#path", dpath, limits)
    if query:
        _add_form(req, query, "query", limits)


def parse_http_request(raw: bytes | str, *, service: str | None = None, limits: _Limits = _DEFAULT_LIMITS
                       ) -> ParsedRequest:
    """Parse one raw HTTP/1.x request best-effort; never raises on any bytes.

    Parameters
    ----------
    raw : bytes or str
        The request as sent (``str`` is UTF-8 encoded, lone surrogates kept).
    service : str, optional
        Service key; defaults to the ``Host`` header (without port).

    Returns
    -------
    ParsedRequest

    Examples
    --------
    >>> r = parse_http_request(b"GET /item?id=3&q=red%20shoes HTTP/1.1\\r\\nHost: shop:80\\r\\n\\r\\n")
    >>> r.service, r.method, r.endpoint, r.fields
    ('shop', 'GET', '/item', [('path', '#path', b'/item'), ('query', 'id', b'3'), ('query', 'q', b'red shoes'), ('header', 'host', b'shop:80')])
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
        else:
            head, body = raw, b""
            flags |= F_NO_END
    if len(head) > limits.max_header_bytes:
        flags |= F_HEADER_SIZE
        head = head[: limits.max_header_bytes]
    lines = head.split(b"\n")
    if len(lines) > 1 or (end >= 0 and raw[end : end + 2] == b"\n\n"):
        for k, line in enumerate(lines):
            if line.endswith(b"\r"):
                lines[k] = line[:-1]
            else:
                flags |= F_BARE_LF
    if _CONTROL.search(head):
        flags |= F_CONTROL
    parts = lines[0].split()
    version = b""
    if parts and parts[-1].startswith(b"HTTP/") and len(parts) >= 3:
        version = parts[-1]
        target = b" ".join(parts[1:-1])
        if len(parts) > 3:
            flags |= F_REQUEST_LINE
    else:
        flags |= F_REQUEST_LINE
        target = b" ".join(parts[1:]) if len(parts) > 1 else b""
    if version not in _VERSIONS:
        flags |= F_VERSION
    method = parts[0] if parts else b""
    if not _METHOD.match(method):
        flags |= F_REQUEST_LINE
    req.method = _text(method[:32])
    req.flags = flags
    _set_target(req, target, limits)

    content_length = None
    content_type = ""
    host = None
    last = None
    for line in lines[1:]:
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            req.flags |= F_FOLD
            if last is not None:  # obsolete folding: continue the previous value
                loc, name, value = req.fields[last]
                req.fields[last] = (loc, name, value + b" " + line.strip())
            continue
        name, colon, value = line.partition(b":")
        name = name.strip()
        if not colon or not name or b" " in name:
            req.flags |= F_HEADER_LINE
            if not colon:
                continue
        if not name.isascii() or not value.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                req.flags |= F_NON_UTF8
        lname = name.decode("latin-1").lower()
        value = value.strip()
        req.header_names.append(lname)
        last = None
        if lname == "cookie":
            for crumb in value.split(b";"):
                cname, _, cvalue = crumb.strip().partition(b"=")
                cvalue, f = _unquote(cvalue, False)
                req.flags |= f
                _add(req, "cookie", _text(cname), cvalue, limits)
            continue
        if lname == "content-length":
            if content_length is not None or not value.isdigit():
                req.flags |= F_FRAMING
            if value.isdigit():
                content_length = int(value)
        elif lname == "transfer-encoding":
            if content_length is not None:
                req.flags |= F_FRAMING
        elif lname == "content-type":
            content_type = value.decode("latin-1")
        elif lname == "host":
            host = value
        n_before = len(req.fields)
        _add(req, "header", lname, value, limits)
        last = n_before if len(req.fields) > n_before else None
    if content_length is not None:
        if len(body) < content_length:
            req.flags |= F_BODY_SHORT
        elif len(body) > content_length:
            req.flags |= F_BODY_LONG
            body = body[:content_length]
    _add_body(req, body, content_type, limits)
    if service is not None:
        req.service = str(service)
    elif host:
        req.service = _text(host.split(b":", 1)[0].lower()[:255]) or "default"
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
    ('web', '/login', [('path', '#path', b'/login'), ('body', 'user', b'ana')])
    """
    req = ParsedRequest(service=str(record.get("service", "default")))
    req.method = str(record.get("method", "GET"))[:32]
    _set_target(req, _as_bytes(record.get("path", "/")), limits)
    query = record.get("query")
    if isinstance(query, (str, bytes)):
        _add_form(req, _as_bytes(query), "query", limits)
    else:
        for name, value in _pairs(query):
            _add(req, "query", str(name), _as_bytes(value), limits)
    content_type = ""
    for name, value in _pairs(record.get("headers")):
        lname = str(name).lower()
        req.header_names.append(lname)
        if lname == "content-type":
            content_type = str(value)
        if lname == "host" and "service" not in record:
            req.service = str(value).split(":", 1)[0].lower() or "default"
        _add(req, "header", lname, _as_bytes(value), limits)
    body = record.get("body")
    if isinstance(body, dict):
        for name, value in _pairs(body):
            _add(req, "body", str(name), _as_bytes(value), limits)
    elif body is not None:
        _add_body(req, _as_bytes(body), content_type, limits)
    return req


def parse_payload(payload, service=None, *, limits: _Limits = _DEFAULT_LIMITS) -> ParsedRequest:
    """A raw payload of any protocol as one field keyed by its service (or port).

    Examples
    --------
    >>> parse_payload(b"EHLO mail.example", service=25).fields
    [('payload', 'payload', b'EHLO mail.example')]
    """
    req = ParsedRequest(service="default" if service is None else str(service), endpoint="#payload")
    _add(req, "payload", "payload", _as_bytes(payload), limits)
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
