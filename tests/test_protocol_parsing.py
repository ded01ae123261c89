"""The tolerant HTTP parser: never raises, flags what is malformed, and the numba batch
parser agrees exactly with the readable Python one on arbitrary bytes."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from secml_detect.protocol.parsing import (
    FLAG_NAMES,
    _Limits,
    flatten,
    parse_batch,
    parse_http_request,
    parse_item,
    parse_payload,
    parse_record,
)

# Pieces that make byte strings look like (broken) HTTP requests.
_pieces = st.sampled_from([
    b"GET ", b"POST ", b"get ", b"/", b"/a/b", b"/123/", b"/9f8e7d6c5b4a392817", b"?", b"&", b"=", b"#", b"%",
    b"%41", b"%zz", b"%4", b"+", b" HTTP/1.1", b" HTTP/1.0", b" HTTP/2", b"HTTP/", b"\r\n", b"\n", b"\r", b"\r\n\r\n",
    b"\n\n", b"Host: ", b"host:Shop:80", b"Cookie: a=1; b=%41;;c", b"Content-Length: ", b"Content-Length: 5",
    b"content-length: 99999999999999999999999", b"Transfer-Encoding: chunked", b"Content-Type: ",
    b"application/x-www-form-urlencoded", b"text/plain", b"X: ", b" folded", b"\t", b":", b"bad header",
    b"\x00", b"\x7f", b"\xff\xfe", b"\xc3\xa9", b"\xed\xa0\x80", b"\xf0\x9f\x98\x80", b"\xe0\x80", b"x=1&y=2",
    b"http://h/p?q=1", b"https://h", b"'", b"<script>", b"a" * 20,
])
requests = st.one_of(st.binary(max_size=120), st.lists(_pieces, max_size=25).map(b"".join))
limits_st = st.sampled_from([_Limits(), _Limits(3, 8, 40), _Limits(1, 1, 5)])


def _as_tuple(p):
    return None if p is None else (p.service, p.method, p.endpoint, p.fields, p.flags)


@given(st.lists(requests, max_size=6), limits_st)
@example([b"GET /a?x=%zz&y=1+2 HTTP/1.1\r\nHost: Shop:80\r\nCookie: s=%41b\r\n\r\n"], _Limits())
@example([b"POST /f HTTP/1.1\r\nContent-Length: 7\r\n\r\na=1&b=2xyz"], _Limits())
@example([b""], _Limits())
def test_kernel_parser_matches_python(batch, limits):
    flat = parse_batch(batch, limits=limits)
    assert flat.n == len(batch)
    for i, raw in enumerate(batch):
        assert _as_tuple(flat.request(i)) == _as_tuple(parse_http_request(raw, limits=limits))


@given(requests)
def test_parser_never_raises_and_bounds_work(raw):
    r = parse_http_request(raw, limits=_Limits(4, 16, 64))
    assert len(r.fields) <= 4 and all(len(v) <= 16 for _, _, v in r.fields)
    assert 0 <= r.flags < (1 << len(FLAG_NAMES))
    assert isinstance(r.service, bytes) and r.service


def test_well_formed_request_has_no_flags():
    raw = (b"POST /shop/cart/add HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: 13\r\nCookie: sid=ab12\r\n\r\nid=7&qty=2%2B")
    r = parse_http_request(raw)
    assert r.flags == 0, r.flag_names
    assert r.service == b"shop.example" and r.method == b"POST" and r.endpoint == b"/shop/cart/add"
    assert ("body", b"qty", b"2+") in r.fields and ("cookie", b"sid", b"ab12") in r.fields


@pytest.mark.parametrize("raw, flag", [
    (b"GET /a HTTP/1.1\r\nHost: h", "no end of header (truncated)"),
    (b"GET /a?x=%G1 HTTP/1.1\r\n\r\n", "invalid percent-encoding"),
    (b"GET /a b HTTP/1.1\r\n\r\n", "malformed request line"),
    (b"GET /a HTTP/7.7\r\n\r\n", "unknown HTTP version"),
    (b"GET /a HTTP/1.1\nHost: h\n\n", "bare LF line ending"),
    (b"GET /a HTTP/1.1\r\nX-A: 1\r\n  more\r\n\r\n", "folded header line"),
    (b"GET /a HTTP/1.1\r\nnocolon\r\n\r\n", "header line without a name"),
    (b"GET /\xff HTTP/1.1\r\n\r\n", "non-UTF-8 bytes in request head"),
    (b"GET /a HTTP/1.1\r\nX: \x00\r\n\r\n", "control bytes in request head"),
    (b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", "body shorter than Content-Length"),
    (b"POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nabc", "body longer than Content-Length"),
    (b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", "conflicting message framing"),
    (b"POST /a HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{bad", "unparsable JSON body"),
])
def test_malformed_requests_are_flagged(raw, flag):
    assert flag in parse_http_request(raw).flag_names
    assert flag in parse_batch([raw]).request(0).flag_names


def test_enormous_header_and_binary_body():
    raw = b"GET / HTTP/1.1\r\nX-Big: " + b"A" * 200_000 + b"\r\n\r\n" + bytes(range(256)) * 10
    r = parse_http_request(raw)
    assert "header section too large" in r.flag_names
    flat = parse_batch([raw])
    assert flat.request(0).flags == r.flags


def test_json_body_goes_through_python():
    raw = b'POST /api HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"user": {"id": 7, "tags": ["a"]}}'
    flat = parse_batch([raw, b"GET / HTTP/1.1\r\n\r\n"])
    fields = flat.request(0).fields
    assert ("body", b"user.id", b"7") in fields and ("body", b"user.tags[]", b"a") in fields
    assert _as_tuple(flat.request(1)) == _as_tuple(parse_http_request(b"GET / HTTP/1.1\r\n\r\n"))


def test_records_payloads_and_mixed_batches():
    rec = {"method": "GET", "path": "/s?q=1", "query": {"page": ["1", "2"]}, "headers": {"Host": "web:8080"}}
    r = parse_record(rec)
    assert r.service == b"web" and ("query", b"q", b"1") in r.fields and ("query", b"page", b"2") in r.fields
    p = parse_payload(b"\x00\x01", service=25)
    assert p.service == b"25" and p.fields == [("payload", b"payload", b"\x00\x01")]
    items = [b"GET / HTTP/1.1\r\n\r\n", rec, {"payload": b"x", "port": 22}, {"raw": b"GET /x HTTP/1.1", "service": "s"},
             None, {"raw": 5}, 3.5]
    flat = parse_batch(items)
    assert flat.bad.tolist() == [False, False, False, False, True, True, True]
    ref = flatten([parse_item(x) for x in items])
    for i in range(len(items)):
        assert _as_tuple(flat.request(i)) == _as_tuple(ref.request(i))
    assert flat.request(3).service == b"s"
    raw_mode = parse_batch([b"\x16\x03\x01 hello"], mode="raw")
    assert raw_mode.request(0).fields == [("payload", b"payload", b"\x16\x03\x01 hello")]
    assert np.array_equal(flat.field_req, np.sort(flat.field_req))
