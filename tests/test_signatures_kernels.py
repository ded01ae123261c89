"""IPv4 parsing and prefix-forest kernels against plain references."""

import ipaddress

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import naive_signatures as naive
from secml_detect._kernels import ip as kip
from secml_detect._ragged import to_ragged_bytes

octet = st.one_of(st.integers(0, 255).map(str), st.text("0123456789", min_size=1, max_size=4))
quads = st.lists(octet, min_size=1, max_size=5).map(".".join)
junk = st.one_of(st.binary(max_size=20), st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")))
items = st.one_of(quads.map(str.encode), junk, st.tuples(quads, st.text("0123456789/x", max_size=4)).map(lambda t: (t[0] + t[1]).encode()))


@given(st.lists(items, max_size=20))
def test_parse_ipv4_matches_ipaddress(batch):
    r = to_ragged_bytes(batch)
    values, valid = kip.parse_ipv4(r.data, r.offsets)
    for i, item in enumerate(batch):
        ref = naive.parse_ipv4(item)
        assert bool(valid[i]) == (ref is not None), item
        if ref is not None:
            assert int(values[i]) == ref


@given(st.lists(items, max_size=20))
def test_parse_ipv4_cidr(batch):
    r = to_ragged_bytes(batch)
    addr, plen, valid = kip.parse_ipv4_cidr(r.data, r.offsets)
    for i, item in enumerate(batch):
        ref = naive.parse_ipv4_cidr(item)
        assert bool(valid[i]) == (ref is not None), item
        if ref is not None:
            assert (int(addr[i]), int(plen[i])) == ref


def test_parse_long_and_empty_items():
    r = to_ragged_bytes([b"", b"1" * 10_000, b"1.2.3.4" + b" " * 5000, "1.2.3.４".encode()])
    _, valid = kip.parse_ipv4(r.data, r.offsets)
    assert not valid.any()


networks_st = st.lists(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
        lambda t: str(ipaddress.IPv4Network((t[0] >> (32 - t[1]) << (32 - t[1]) if t[1] else 0, t[1])))),
    min_size=0, max_size=30, unique=True)


@given(networks_st, st.lists(st.integers(0, 2**32 - 1), max_size=30), st.data())
def test_prefix_forest_matches_ipaddress(networks, queries, data):
    # Also query inside and just outside each network.
    for net in networks:
        n = ipaddress.IPv4Network(net)
        queries += [int(n.network_address), int(n.broadcast_address),
                    max(int(n.network_address) - 1, 0), min(int(n.broadcast_address) + 1, 2**32 - 1)]
    nets = [ipaddress.IPv4Network(n) for n in networks]
    starts = np.array([int(n.network_address) for n in nets], dtype=np.uint32)
    ends = np.array([int(n.broadcast_address) for n in nets], dtype=np.uint32)
    order, parent = kip.build_prefix_forest(starts, ends)
    s, e = starts[order], ends[order]
    q = np.array(queries, dtype=np.uint32)
    inner = kip.lookup_prefix_forest(q, np.ones(len(q), bool), s, e, parent)
    for qi, j in zip(queries, inner):
        got = set()
        while j >= 0:
            got.add(networks[order[j]])
            j = parent[j]
        assert got == naive.containing_networks(str(ipaddress.IPv4Address(qi)), networks)
