"""SignatureMatcher indexes vs pytricia, hyperscan, pyahocorasick and a Python set.

Data and protocol (one process, each peer timed side by side in the same run
after a warm-up call; numbers are items or MB per second). IP and hashes: best
of 5 rounds, each round calling ours and the peer in turn (the machine is
shared: interleaving gives both the same load); patterns: best of 2; whole
matcher: one run. ``python bench_signatures.py ip hash`` reruns some parts
and keeps the other rows of the results file.

* IP/CIDR: 100,000 distinct random IPv4 prefixes (lengths /12-/32, seed 0) and
  1,000,000 dotted-quad query strings (half drawn inside the prefixes), parsing
  of the query strings included for both. Ours: ``IPRangeIndex.contains``:
  the strings joined into one buffer, then one numba pass that parses each
  dotted quad (branch-free fast path) and looks it up in the alternating
  inside/outside runs of the union of the prefixes with a /16 jump table
  (``membership_runs`` runs; random /12 prefixes cover most of the space, so
  this table is small here). Also reported: ``innermost_v4``, which returns
  the innermost prefix like pytricia's ``get`` does, from the prefix forest
  flattened into ``forest_intervals`` elementary intervals. Peer: pytricia
  ``get`` per string.
* Literal patterns: 10,000 literals (8-16 bytes, half cut from the text so they
  occur) over 64 MiB of random lower-case text with spaces. Ours: the
  matcher's literal engine, which *is* Hyperscan (SIMD multi-literal; no numba
  automaton reaches it, so the matcher uses it when installed), reporting which
  patterns occur. Peers: raw Hyperscan (every match reported) and
  pyahocorasick (``iter`` over the text as ``str``).
* Hashes: the 131,072 MD5s of ``hashes_malapi2019_md5``; 1,000,000 queries
  (half known, half random hex), upper/lower case mixed. Ours: the matcher's
  ``HashIndex.contains`` (strings joined into one buffer, then one numba
  pass: hex parser + open-addressing table of the 128-bit keys, load 1/2),
  and the matcher's column lookup that also returns the entry ids; peer: a Python ``set`` of the
  lower-case hashes with ``.lower()`` per query. Memory of the index reported
  (tracemalloc size after building it, in the peak MB column).
* Whole matcher: ``SignatureMatcher.match`` events/s on 200,000 events with
  ``dst_ip``/``domain``/``md5`` fields against all of the above.
"""

from __future__ import annotations

import random
import time
import tracemalloc

import numpy as np

from _common import best_of, best_of_interleaved, write_result
from secml_detect.datasets import shared_dataset_path
from secml_detect.signatures import IPRangeIndex, SignatureMatcher
from secml_detect.signatures.indicators import HashIndex
from secml_detect.signatures.matcher import _KindIndex, literal_engine


REPEAT = 5


def ip_benchmark(rows: list) -> None:
    import ipaddress

    import pytricia

    rng = np.random.default_rng(0)
    n_prefixes, n_queries = 100_000, 1_000_000
    seen: set[tuple[int, int]] = set()
    while len(seen) < n_prefixes:
        plen = rng.integers(12, 33, n_prefixes)
        base = rng.integers(0, 2**32, n_prefixes, dtype=np.uint64)
        mask = (np.uint64(0xFFFFFFFF) << (32 - plen).astype(np.uint64)) & np.uint64(0xFFFFFFFF)
        seen.update(zip((base & mask).tolist(), plen.tolist()))
    pairs = sorted(seen)[:n_prefixes]
    nets = np.array([a for a, _ in pairs], dtype=np.uint64)
    prefixes = [f"{ipaddress.IPv4Address(a)}/{p}" for a, p in pairs]
    inside = nets[rng.integers(0, n_prefixes, n_queries // 2)] + rng.integers(0, 256, n_queries // 2).astype(np.uint64)
    outside = rng.integers(0, 2**32, n_queries - n_queries // 2, dtype=np.uint64)
    q = np.concatenate([inside & np.uint64(0xFFFFFFFF), outside])
    rng.shuffle(q)
    queries = [f"{v >> 24 & 255}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}" for v in q.tolist()]

    t0 = time.perf_counter()
    index = IPRangeIndex(prefixes)
    build_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    pt = pytricia.PyTricia(32)
    for p in prefixes:
        pt[p] = True
    build_peer = time.perf_counter() - t0

    ours = index.contains(queries)
    peer = np.array([pt.get(s) is not None for s in queries])
    assert np.array_equal(ours, peer), "IP results differ from pytricia"
    inner, _ = index.innermost_v4(queries)
    assert np.array_equal(inner >= 0, peer), "innermost lookups differ from pytricia"
    t_ours, t_inner, t_peer = best_of_interleaved(
        [lambda: index.contains(queries), lambda: index.innermost_v4(queries), lambda: [pt.get(s) for s in queries]],
        repeat=REPEAT)
    rows.append({"system": "SignatureMatcher IPRangeIndex", "task": f"{len(prefixes):,} prefixes, 1M IPv4 queries",
                 "metric": "lookups/s (parsing included)", "value": n_queries / t_ours, "build_s": build_ours,
                 "hit_rate": float(ours.mean()), "ratio_to_peer": t_peer / t_ours,
                 "membership_runs": len(index.v4_hit), "forest_intervals": len(index.v4_flat)})
    rows.append({"system": "SignatureMatcher IPRangeIndex.innermost_v4 (which prefix, like pytricia.get)",
                 "task": f"{len(prefixes):,} prefixes, 1M IPv4 queries",
                 "metric": "lookups/s (parsing included)", "value": n_queries / t_inner,
                 "ratio_to_peer": t_peer / t_inner})
    rows.append({"system": "pytricia", "task": f"{len(prefixes):,} prefixes, 1M IPv4 queries",
                 "metric": "lookups/s (parsing included)", "value": n_queries / t_peer, "build_s": build_peer})


def pattern_benchmark(rows: list) -> None:
    import ahocorasick
    import hyperscan

    rng = random.Random(0)
    size = 64 * 2**20
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz    ", dtype=np.uint8)
    data = alphabet[np.random.default_rng(0).integers(0, len(alphabet), size)].tobytes()
    patterns = set()
    while len(patterns) < 10_000:
        n = rng.randint(8, 16)
        if len(patterns) % 2:
            start = rng.randrange(0, size - n)
            patterns.add(data[start : start + n])
        else:
            patterns.add(bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(n)))
    patterns = sorted(patterns)
    mb = size / 2**20

    engine = literal_engine(patterns, list(range(len(patterns))))
    found = engine(data)
    t_ours = best_of(lambda: engine(data), repeat=2)

    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=patterns, ids=list(range(len(patterns))), flags=0, literal=True)
    scratch = hyperscan.Scratch(db)

    def hs_scan():
        hits = []
        db.scan(data, match_event_handler=lambda pid, a, b, f, c: hits.append(pid), scratch=scratch)
        return hits

    hs_found = set(hs_scan())
    t_hs = best_of(hs_scan, repeat=2)

    auto = ahocorasick.Automaton()
    for k, p in enumerate(patterns):
        auto.add_word(p.decode("latin-1"), k)
    auto.make_automaton()
    text = data.decode("latin-1")
    ac_found = {k for _, k in auto.iter(text)}
    t_ac = best_of(lambda: {k for _, k in auto.iter(text)}, repeat=2)
    assert set(found) == hs_found == ac_found, "pattern engines disagree"
    ours = mb / t_ours
    rows.append({"system": "SignatureMatcher literal engine (Hyperscan)", "task": "10,000 literals over 64 MiB",
                 "metric": "MB/s", "value": ours, "patterns_found": len(found),
                 "ratio_to_peer": ours / (mb / t_hs), "ratio_to_pyahocorasick": ours / (mb / t_ac)})
    rows.append({"system": "hyperscan (raw, all matches)", "task": "10,000 literals over 64 MiB", "metric": "MB/s",
                 "value": mb / t_hs})
    rows.append({"system": "pyahocorasick", "task": "10,000 literals over 64 MiB", "metric": "MB/s", "value": mb / t_ac})


def hash_benchmark(rows: list) -> list[str]:
    path = shared_dataset_path("hashes_malapi2019_md5", "malware_md5.txt")
    known = [line.strip() for line in open(path) if line.strip()]
    rng = random.Random(0)
    n = 1_000_000
    queries = [rng.choice(known) for _ in range(n // 2)] + ["%032x" % rng.getrandbits(128) for _ in range(n - n // 2)]
    rng.shuffle(queries)
    queries = [q.upper() if k % 4 == 0 else q for k, q in enumerate(queries)]

    tracemalloc.start()
    index = HashIndex(known)
    mem_ours = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    column = _KindIndex("hash", [(h, k, False) for k, h in enumerate(known)])
    tracemalloc.start()
    peer_set = {h.lower() for h in known}
    mem_peer = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()

    ours = index.contains(queries)
    peer = [q.lower() in peer_set for q in queries]
    assert ours.tolist() == peer
    assert [r is not None for r in column.lookup_many(queries, "md5")] == peer
    t_ours, t_peer = best_of_interleaved([lambda: index.contains(queries), lambda: [q.lower() in peer_set for q in queries]],
                                         repeat=REPEAT)
    t_col = best_of(lambda: column.lookup_many(queries, "md5"), repeat=1)
    rows.append({"system": "SignatureMatcher HashIndex.contains", "task": f"{len(known):,} MD5s, 1M queries",
                 "metric": "lookups/s", "value": n / t_ours, "peak_mem_mb": mem_ours,
                 "ratio_to_peer": t_peer / t_ours})
    rows.append({"system": "SignatureMatcher hash column lookup (entry ids per query)",
                 "task": f"{len(known):,} MD5s, 1M queries", "metric": "lookups/s", "value": n / t_col,
                 "ratio_to_peer": t_peer / t_col})
    rows.append({"system": "Python set + str.lower", "task": f"{len(known):,} MD5s, 1M queries",
                 "metric": "lookups/s", "value": n / t_peer, "peak_mem_mb": mem_peer})
    return known


def matcher_benchmark(rows: list, known_hashes: list[str]) -> None:
    rng = random.Random(1)
    ips = [f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24" for _ in range(10_000)]
    domains = [f"bad{k}.example" for k in range(10_000)]
    m = SignatureMatcher(indicators={"ip": ips, "domain": domains, "hash": known_hashes[:50_000]}).fit()
    events = [{"dst_ip": f"{rng.choice([10, 11])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
               "domain": f"www.bad{rng.randrange(20_000)}.example",
               "md5": rng.choice(known_hashes)} for _ in range(200_000)]
    m.match(events[:100])
    t = best_of(lambda: m.match(events), repeat=1)
    rows.append({"system": "SignatureMatcher.match", "task": "200k events x (IP, domain, hash) indicators",
                 "metric": "events/s", "value": len(events) / t})


PARTS = {"ip": ip_benchmark, "patterns": pattern_benchmark, "hash": hash_benchmark, "matcher": None}


def main(parts: list[str]) -> None:
    """Run ``parts`` (all by default); a partial run replaces only its own rows in the results file."""
    import json

    from _common import RESULTS_DIR

    rows: list = []
    known = None
    for part in parts:
        if part == "matcher":
            if known is None:
                known = hash_benchmark([])
            matcher_benchmark(rows, known)
        elif part == "hash":
            known = hash_benchmark(rows)
        else:
            PARTS[part](rows)
    for r in rows:
        print(r)
    if set(parts) != set(PARTS):
        path = RESULTS_DIR / "bench_signatures.json"
        old = json.loads(path.read_text())["rows"] if path.exists() else []
        tasks = {r["task"] for r in rows}
        merged, placed = [], False
        for r in old:
            if r["task"] in tasks:
                if not placed:
                    merged.extend(rows)
                    placed = True
            else:
                merged.append(r)
        rows = merged if placed else old + rows
    write_result("bench_signatures", "SignatureMatcher: IP/CIDR, literal patterns, hashes", rows,
                 notes=__doc__.split("\n\n", 1)[1])


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help=f"parts to run, among {', '.join(PARTS)} (default: all); "
                             "a partial run keeps the other rows of the results file")
    args = parser.parse_args()
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose among {list(PARTS)}")
    main(args.parts or list(PARTS))
