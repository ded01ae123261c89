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


lines = st.lists(st.one_of(items, st.text(max_size=10)).map(lambda x: x if isinstance(x, str) else x.decode("latin-1")).filter(
    lambda s: "\n" not in s), max_size=20)


@given(lines)
def test_joined_lines_kernels_match_ragged(batch):
    from secml_detect.signatures.indicators import joined_lines, ragged_from_strings

    ref = to_ragged_bytes(batch)
    r = ragged_from_strings(batch)
    assert r.data.tolist() == ref.data.tolist() and r.offsets.tolist() == ref.offsets.tolist()
    data = joined_lines(batch)
    if batch:
        v1, ok1, whole = kip.parse_ipv4_lines(data, len(batch))
        v2, ok2 = kip.parse_ipv4(ref.data, ref.offsets)
        assert whole and ok1.tolist() == ok2.tolist() and (v1 == v2).all()
        # an item holding a newline is detected, not mis-parsed
        bad = joined_lines(batch + ["1.2.3.4\n5.6.7.8"], check=False)
        assert not kip.parse_ipv4_lines(bad, len(batch) + 1)[2]


hexes = st.tuples(st.sampled_from([32, 40, 64, 31, 33]), st.sampled_from(["", " ", "\t"]), st.data()).map(
    lambda t: t[1] + t[2].draw(st.text("0123456789abcdefABCDEF", min_size=t[0], max_size=t[0])) + t[1])


@given(st.lists(st.one_of(hexes, st.text(max_size=70)), max_size=20))
def test_hex_keys_vs_reference(batch):
    from secml_detect._kernels import patterns as kp

    r = to_ragged_bytes(batch)
    hi, lo, nd, valid = kp.hex_keys(r.data, r.offsets)
    for i, item in enumerate(batch):
        ref = naive.hex_key(item.encode("utf-8", "surrogatepass"))
        assert bool(valid[i]) == (ref is not None)
        if ref is not None:
            assert (int(hi[i]), int(lo[i]), int(nd[i])) == ref
    if batch and all("\n" not in b for b in batch):
        from secml_detect.signatures.indicators import joined_lines

        got = kp.hex_keys_lines(joined_lines(batch), len(batch))
        assert got[4] and all((a == b).all() for a, b in zip(got[:4], (hi, lo, nd, valid)))
        assert not kp.hex_keys_lines(joined_lines(batch + ["a\nb"], check=False), len(batch) + 1)[4]
