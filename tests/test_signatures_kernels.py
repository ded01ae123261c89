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


# -- flattened forest, membership runs and the fused line kernels ------------------------------


def _forest(networks):
    nets = [ipaddress.IPv4Network(n) for n in networks]
    starts = np.array([int(n.network_address) for n in nets], dtype=np.uint32)
    ends = np.array([int(n.broadcast_address) for n in nets], dtype=np.uint32)
    order, parent = kip.build_prefix_forest(starts, ends)
    return starts[order], ends[order], parent


@given(networks_st, st.lists(st.integers(0, 2**32 - 1), max_size=30))
def test_flat_forest_and_hit_bounds_match_reference(networks, queries):
    for net in networks:
        n = ipaddress.IPv4Network(net)
        queries += [int(n.network_address), int(n.broadcast_address),
                    max(int(n.network_address) - 1, 0), min(int(n.broadcast_address) + 1, 2**32 - 1)]
    queries += [0, 2**32 - 1, 65535, 65536]
    s, e, _ = _forest(networks)
    packed, jump = kip.build_flat_forest(s, e)
    bounds, hjump = kip.build_hit_bounds(packed)
    q = np.array(queries, dtype=np.uint32)
    ones = np.ones(len(q), bool)
    inner = kip.lookup_flat(q, ones, packed, jump)
    hit = kip.contains_hit_bounds(q, ones, bounds, hjump)
    ranges = list(zip(s.tolist(), e.tolist()))
    for qi, j, h in zip(queries, inner.tolist(), hit.tolist()):
        ref = naive.innermost_network(qi, ranges)
        assert (None if j < 0 else ranges[j]) == ref, qi
        assert h == (ref is not None), qi


EDGE_QUADS = ["256.1.1.1", "1.2.3.256", "1.2.300.4", "01.2.3.4", "1.2.3.04", "1.00.3.4", "1.2.3.4.5", "1.2.3",
              "1..2.3", "255.255.255.255", "0.0.0.0", "1.2.3.4 ", " 1.2.3.4", "1234.1.1.1", "1.2.3.1234", "1.2.3.4/8",
              "1.2.3.4" + " " * 40, "9" * 300, "1.2.3.４", "", "1.2.3.-4", "1.2.3.:", "1.2.3./"]

ip_lines = st.lists(st.one_of(
    st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
    quads, st.text(max_size=20), st.text("0123456789.", max_size=18),
    st.sampled_from(EDGE_QUADS)).filter(lambda x: "\n" not in x),
    max_size=25)


@given(networks_st, ip_lines)
def test_fused_ipv4_line_kernels_match_reference(networks, batch):
    from secml_detect.signatures.indicators import joined_lines

    s, e, _ = _forest(networks)
    packed, jump = kip.build_flat_forest(s, e)
    bounds, hjump = kip.build_hit_bounds(packed)
    ranges = list(zip(s.tolist(), e.tolist()))
    if not batch:
        return
    data = joined_lines(batch)
    inner, valid, ok = kip.lookup_ipv4_lines(data, len(batch), packed, jump)
    hit, valid2, ok2 = kip.contains_ipv4_lines(data, len(batch), bounds, hjump)
    assert ok and ok2 and valid.tolist() == valid2.tolist()
    for i, item in enumerate(batch):
        addr = naive.parse_ipv4(item.encode("utf-8", "surrogatepass"))
        assert bool(valid[i]) == (addr is not None), item
        ref = None if addr is None else naive.innermost_network(addr, ranges)
        assert (None if inner[i] < 0 else ranges[inner[i]]) == ref, item
        assert bool(hit[i]) == (ref is not None), item
    bad = joined_lines(batch + ["1.2.3.4\n5.6.7.8"], check=False)
    assert not kip.lookup_ipv4_lines(bad, len(batch) + 1, packed, jump)[2]
    assert not kip.contains_ipv4_lines(bad, len(batch) + 1, bounds, hjump)[2]


digests = st.sampled_from([32, 40, 64]).flatmap(lambda n: st.text("0123456789abcdef", min_size=n, max_size=n))


@given(st.lists(digests, max_size=20), st.lists(st.one_of(hexes, st.text(max_size=70)), max_size=20), st.data())
def test_hex_table_probe_matches_set(known, others, data):
    from secml_detect._kernels import patterns as kp
    from secml_detect.signatures.indicators import joined_lines

    # queries: known digests (any case, blanks around), random ones, junk; "0" * 32 probes the sentinel key
    queries = [data.draw(st.sampled_from(["", " ", "\t"])) + (k.upper() if data.draw(st.booleans()) else k)
               for k in known] + others + ["0" * 32, "0" * 31 + "1"]
    queries = [q for q in queries if "\n" not in q]
    tables = {}
    for n in (32, 40, 64):
        keys = [naive.hex_key(k.encode()) for k in known if len(k) == n]
        hi = np.array([k[0] for k in keys], dtype=np.uint64)
        lo = np.array([k[1] for k in keys], dtype=np.uint64)
        table, empty, slots = kp.build_table128(hi, lo)
        assert table.shape[0] >= 2 * len(keys) and len(set(slots.tolist())) == len(set(zip(hi.tolist(), lo.tolist())))
        tables[n] = (table, empty, {(h, l): int(sl) for h, l, sl in zip(hi.tolist(), lo.tolist(), slots.tolist())})
    r = to_ragged_bytes(queries)
    hi, lo, nd, valid = kp.hex_keys(r.data, r.offsets)
    slot, nd_lines, ok = kp.probe_hex_lines(joined_lines(queries), len(queries),
                                            *(x for n in (32, 40, 64) for x in tables[n][:2]))
    assert ok
    for n in (32, 40, 64):
        table, empty, slot_of = tables[n]
        by_keys = kp.probe_hex_keys(hi, lo, nd, valid, n, table, empty)
        for i, q in enumerate(queries):
            ref = naive.hex_key(q.encode("utf-8", "surrogatepass"))
            expected = slot_of.get(ref[:2], -1) if ref is not None and ref[2] == n else -1
            assert by_keys[i] == expected, q
            if ref is not None and ref[2] == n:
                assert slot[i] == expected and nd_lines[i] == n, q
    for i, q in enumerate(queries):
        ref = naive.hex_key(q.encode("utf-8", "surrogatepass"))
        assert nd_lines[i] == (0 if ref is None else ref[2]), q
        if ref is None:
            assert slot[i] == -1


def test_hex_table_survives_clustered_keys():
    from secml_detect._kernels import patterns as kp

    hi = np.zeros(5000, dtype=np.uint64)  # hand-made digests 000...0 .. 000...4999 (key 0 forces another sentinel)
    lo = np.arange(5000, dtype=np.uint64)
    table, empty, slots = kp.build_table128(hi, lo)
    assert tuple(empty.tolist()) not in set(zip(hi.tolist(), lo.tolist()))
    got = kp.probe_hex_keys(hi, lo, np.full(5000, 32), np.ones(5000, bool), 32, table, empty)
    assert got.tolist() == slots.tolist()
    miss = kp.probe_hex_keys(np.ones(3, np.uint64), lo[:3], np.full(3, 32), np.ones(3, bool), 32, table, empty)
    assert (miss == -1).all()


def test_fused_ipv4_line_kernels_edge_quads():
    from secml_detect.signatures.indicators import joined_lines

    packed, jump = kip.build_flat_forest(np.array([0], np.uint32), np.array([2**32 - 1], np.uint32))
    bounds, hjump = kip.build_hit_bounds(packed)
    batch = EDGE_QUADS + ["10.20.30.40"] * 3  # the fast path needs 16 bytes ahead: edge items come first
    data = joined_lines(batch)
    _, valid, ok = kip.lookup_ipv4_lines(data, len(batch), packed, jump)
    hit, _, _ = kip.contains_ipv4_lines(data, len(batch), bounds, hjump)
    expected = [naive.parse_ipv4(b.encode()) is not None for b in batch]
    assert ok and valid.tolist() == expected and hit.tolist() == expected


def test_joined_lines_of_a_large_ascii_batch_is_the_encoded_text():
    import gc

    from secml_detect.signatures.indicators import joined_lines

    batch = [f"10.{k % 256}.{k // 256 % 256}.{k % 7}" for k in range(5000)]
    expected = "\n".join(batch).encode()
    data = joined_lines(batch)  # zero-copy view of the joined str on CPython
    del batch
    gc.collect()
    _ = ["z" * len(expected) for _ in range(20)]  # reuse freed memory if the view did not keep its str alive
    assert bytes(data) == expected and not data.flags.writeable
    text = ["é" * 3000, "1.2.3.4"]  # non-ASCII: the encoded copy
    assert bytes(joined_lines(text)) == "\n".join(text).encode()
