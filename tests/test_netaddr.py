"""Alternate IPv4 notations: the tolerant parser, and detectors that no longer miss them."""

import ipaddress
import socket

from hypothesis import given
from hypothesis import strategies as st

from secml_detect._netaddr import inet_aton_value, ipv4_candidates


def _forms(ip: str) -> list[str]:
    value = int(ipaddress.IPv4Address(ip))
    octets = ip.split(".")
    return [str(value), hex(value), ".".join("0" + format(int(p), "o") for p in octets), f"::ffff:{ip}",
            ".".join(f"{int(p):03d}" for p in octets)]


@given(st.integers(0, 2**32 - 1))
def test_every_notation_reads_back(value):
    ip = str(ipaddress.IPv4Address(value))
    for form in _forms(ip):
        assert value in ipv4_candidates(form), form


@given(st.text(max_size=20))
def test_inet_aton_agrees_with_the_c_library(text):
    try:
        expected = int.from_bytes(socket.inet_aton(text), "big")
    except (OSError, ValueError, UnicodeEncodeError):
        expected = None
    got = inet_aton_value(text)
    if got is not None:  # we are stricter on whitespace and trailing junk, never looser
        assert got == expected


def test_rules_match_alternate_notations():
    from secml_detect import SignatureMatcher

    m = SignatureMatcher(indicators={"ip": ["203.0.113.7", "198.51.100.0/24"]}).fit()
    for form in _forms("203.0.113.7") + _forms("198.51.100.99"):
        assert m.predict([{"dst_ip": form}])[0] == 1, form
    assert m.predict([{"dst_ip": "example.com"}, {"dst_ip": "203.0.113.8"}]).tolist() == [0, 0]


def test_ip_classifier_reads_alternate_notations():
    from secml_detect.ip import parse_addresses

    parsed = parse_addresses(_forms("1.2.3.4")[:3])
    assert parsed.kind.tolist() == [4, 4, 4] and parsed.v4.tolist() == [16909060] * 3
