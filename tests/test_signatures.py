"""SignatureMatcher: indicators vs plain-Python references, field rules, hits, updates, persistence."""

import ipaddress
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import naive_signatures as naive
from secml_detect.exceptions import InvalidItemError, InvalidParameterError
from secml_detect.persistence import load, save
from secml_detect.signatures import Field, Hit, Indicator, IPRangeIndex, Rule, SignatureMatcher

v4 = st.integers(0, 2**32 - 1).map(lambda i: str(ipaddress.IPv4Address(i)))
v6 = st.integers(0, 2**128 - 1).map(lambda i: str(ipaddress.IPv6Address(i)))
v4net = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
    lambda t: str(ipaddress.IPv4Network((t[0], t[1]), strict=False)))
v6net = st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128)).map(
    lambda t: str(ipaddress.IPv6Network((t[0], t[1]), strict=False)))


@given(st.lists(st.one_of(v4net, v4, v6net), max_size=25, unique=True),
       st.lists(st.one_of(v4, v6, st.text(max_size=12)), max_size=25))
def test_ip_index_matches_ipaddress(networks, queries):
    # query the edges of every network too
    for net in networks:
        n = ipaddress.ip_network(net)
        queries = queries + [str(n.network_address), str(n.broadcast_address)]
    index = IPRangeIndex(networks)
    got = index.lookup(queries)
    mask = index.contains(queries)
    for q, ids in zip(queries, got):
        expected = naive.containing_networks(q.strip(), networks) if q.strip() == q else naive.containing_networks(q, networks)
        try:
            mapped = ipaddress.ip_address(q).ipv4_mapped if q.strip() == q else None
        except (ValueError, AttributeError):
            mapped = None
        if mapped is not None:  # ::ffff:a.b.c.d also matches the IPv4 entries holding a.b.c.d
            expected |= naive.containing_networks(str(mapped), networks)
        if not expected and len(q) <= 64:  # other IPv4 notations: "3232235777", "0xC0A80101", "0"
            from secml_detect._netaddr import ipv4_candidates

            for value in ipv4_candidates(q):
                expected |= naive.containing_networks(str(ipaddress.IPv4Address(value)), networks)
        assert {networks[i] for i in ids} == expected, q
    assert mask.tolist() == [bool(ids) for ids in got]


@given(st.lists(st.one_of(v4net, v4), min_size=1, max_size=20, unique=True), st.lists(v4, max_size=20))
def test_matcher_ip_hits_are_the_reference(networks, queries):
    m = SignatureMatcher(indicators={"ip": networks}).fit()
    hits = m.match([{"dst_ip": q} for q in queries])
    for q, row in zip(queries, hits):
        assert bool(row) == bool(naive.containing_networks(q, networks))
        assert all(h.field == "dst_ip" and h.value == q and h.kind in ("ip", "cidr") for h in row)


labels = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join)


@given(st.lists(domains, min_size=1, max_size=10), st.lists(domains, max_size=20), st.booleans())
def test_domains_vs_reference(bad, queries, subdomains):
    m = SignatureMatcher(indicators={"domain": bad}, subdomains=subdomains).fit()
    queries = queries + [f"x.{b}" for b in bad] + [f"not{b}" for b in bad] + [b.upper() + "." for b in bad]
    got = m.predict([{"domain": q} for q in queries])
    badset = set(bad)
    for q, g in zip(queries, got):
        host = q.lower().rstrip(".")
        parents = {host.split(".", k)[-1] for k in range(1, host.count(".") + 1)}
        expected = host in badset or (subdomains and bool(parents & badset))
        assert bool(g) == expected, q


hexdig = st.text("0123456789abcdef", min_size=32, max_size=32)


@given(st.lists(hexdig, min_size=1, max_size=20, unique=True), st.lists(hexdig, max_size=20))
def test_hashes_vs_set(known, queries):
    m = SignatureMatcher(indicators={"hash": known}).fit()
    queries = queries + [k.upper() for k in known]
    assert m.predict([{"md5": q} for q in queries]).tolist() == [int(q.lower() in set(known)) for q in queries]


def test_url_normalisation_and_host_match():
    m = SignatureMatcher(indicators={"url": ["http://Bad.example/a%7Eb"]}).fit()
    events = [{"url": "HTTP://bad.EXAMPLE:80/a~b#frag"}, {"url": "http://bad.example/a~c"}, {"url": "https://bad.example/a~b"}]
    assert m.predict(events).tolist() == [1, 0, 0]


def test_field_rule_operators():
    def fires(cond, event):
        return SignatureMatcher(rules=[Rule("r", cond)]).fit().predict([event])[0] == 1

    ev = {"file_path": "/bin/sh", "process": "curl", "cmd": "wget http://x", "port": 4444, "tags": ["a", "b"]}
    assert fires(Field("file_path", "equals", ["/bin/sh"]), ev)
    assert not fires(Field("file_path", "equals", ["/BIN/SH"]), ev)
    assert fires(Field("file_path", "equals", ["/BIN/SH"], ignore_case=True), ev)
    assert fires(Field("cmd", "contains", ["http://"]), ev)
    assert fires(Field("cmd", "startswith", ["wget"]), ev) and not fires(Field("cmd", "endswith", ["wget"]), ev)
    assert fires(Field("file_path", "glob", ["/bin/*"]), ev) and not fires(Field("file_path", "glob", ["/usr/*"]), ev)
    assert fires(Field("cmd", "regex", [r"w[g]et\s+http"]), ev)
    assert fires(Field("port", "equals", [4444]), ev) and fires(Field("port", "gt", [1024]), ev)
    assert not fires(Field("port", "lt", [1024]), ev)
    assert fires(Field("tags", "in", ["b"]), ev)
    assert fires(Field("missing", "null"), ev) and not fires(Field("cmd", "null"), ev)
    assert fires(Field("cmd", "exists", [True]), ev) and fires(Field("nope", "exists", [False]), ev)
    assert fires(Field("cmd", "contains", ["wget", "http"], match_all=True), ev)
    assert not fires(Field("cmd", "contains", ["wget", "curl"], match_all=True), ev)
    assert fires(Field("ip", "cidr", ["10.0.0.0/8"]), {"ip": "10.2.3.4"})
    assert fires(Field("a", "fieldref", ["b"]), {"a": "x", "b": "x"}) and not fires(Field("a", "fieldref", ["b"]), {"a": "x", "b": "y"})
    assert fires(Field("*", "contains", ["http"]), ev)
    # policy: file written under /bin by a process not in the allow-list
    policy = Field("file_path", "startswith", ["/bin/", "/sbin/"]) & ~Field("process", "in", ["dpkg", "apt"])
    assert fires(policy, ev) and not fires(policy, {**ev, "process": "dpkg"})
    assert fires(Field("process", "in", ["x"]) | Field("file_path", "glob", ["/bin/?h"]), ev)


def test_wrongly_typed_fields_never_raise():
    m = SignatureMatcher(rules=[Rule("r", Field("cmd", "contains", ["x"]) | Field("port", "gt", [5]))],
                         indicators={"ip": ["10.0.0.0/8"], "hash": ["d41d8cd98f00b204e9800998ecf8427e"]}).fit()
    events = [{"cmd": 5, "dst_ip": 167772161, "md5": None, "port": "abc"}, {"cmd": {"x": 1}, "dst_ip": ["10.0.0.1"]},
              {"cmd": b"\xffx", "port": float("nan")}]
    assert m.predict(events).tolist() == [0, 1, 1]


def test_hits_scores_and_explanations():
    rules = [Rule("crit", Field("process", "equals", ["mimikatz.exe"], ignore_case=True), title="mimikatz",
                  severity="critical", tags=("attack.t1003",)),
             Rule("low", Field("process", "endswith", [".exe"], ignore_case=True), severity="low")]
    m = SignatureMatcher(rules=rules, indicators={"ip": ["203.0.113.0/24"]}).fit()
    events = [{"process": "MIMIKATZ.EXE", "dst_ip": "203.0.113.9"}, {"process": "calc.exe"}, {"process": "ls"}]
    hits = m.match(events)
    assert [h.rule_id for h in hits[0]] == ["crit", "ioc:ip", "low"]  # most severe first
    assert isinstance(hits[0][0], Hit) and hits[0][0].to_dict()["field"] == "process"
    np.testing.assert_allclose(m.threat_score(events), [1.0, 0.3, 0.0])
    exp = m.explain(events)
    assert exp[0].rules == ("crit", "ioc:ip", "low") and exp[0].contributions[0].name == "process"
    assert exp[2].rules == () and exp[2].threat_score == 0.0


def test_runtime_add_remove_and_provenance():
    m = SignatureMatcher(indicators={"domain": ["evil.example"]}).fit()
    ev = [{"dst_ip": "192.0.2.5"}, {"domain": "good.example"}]
    assert m.predict(ev).tolist() == [0, 0]
    rid = m.add_indicators("ip", ["192.0.2.0/24"], rule_id="confirmed:1", severity="medium",
                           provenance={"finding": "model alert 17", "analyst": "ana"})
    assert rid == "confirmed:1" and m.predict(ev).tolist() == [1, 0]
    assert m.threat_score(ev)[0] == pytest.approx(0.6)
    rid2 = m.add_indicators("domain", "good.example", field="domain")
    assert m.predict(ev).tolist() == [1, 1] and rid2 in m.rule_ids()
    m.remove_rule("confirmed:1")
    assert m.predict(ev).tolist() == [0, 1]
    with pytest.raises(KeyError):
        m.remove_rule("confirmed:1")
    with pytest.raises(InvalidParameterError):
        m.add_indicators("domain", ["x.example"], rule_id=rid2)
    with pytest.raises(InvalidItemError, match="value 1"):
        m.add_indicators("ip", ["10.0.0.1", "300.1.1.1"])
    assert "ip:" not in " ".join(m.rule_ids())  # the bad set was not added
    assert m.add_rule(Rule("r", Field("x", "equals", ["1"]))) == "r"
    assert m.predict([{"x": "1"}]).tolist() == [1]


def test_field_restricted_indicator():
    m = SignatureMatcher().fit()
    m.add_indicators("ip", ["10.0.0.0/8"], field="src_ip")
    assert m.predict([{"src_ip": "10.0.0.1"}, {"dst_ip": "10.0.0.1"}]).tolist() == [1, 0]


def test_save_load_keeps_runtime_rules(tmp_path):
    m = SignatureMatcher(indicators={"ip": ["10.0.0.0/8"]}).fit()
    m.add_indicators("pattern", [b"\x90\x90\x90", "EVIL"], provenance={"src": "test"})
    m.add_rule(Rule("bin", Field("file_path", "glob", ["/bin/*"]), severity="critical"))
    events = [{"payload": b"ab\x90\x90\x90"}, {"file_path": "/bin/x"}, {"dst_ip": "10.9.9.9"}, {"payload": "EVIL"}, {}]
    save(m, tmp_path / "m.smd")
    loaded = load(tmp_path / "m.smd")
    assert "_cache" not in loaded.__dict__
    assert loaded.match(events) == m.match(events)
    assert loaded.rules_[1].provenance == {"src": "test"}


def test_bad_items_and_policy():
    m = SignatureMatcher(indicators={"ip": ["10.0.0.0/8"]}).fit()
    with pytest.warns(Warning):
        s = m.threat_score([{"dst_ip": "10.0.0.1"}, None, 42])
    assert s.tolist() == [0.85, 0.0, 0.0]
    m.set_params(on_bad_input="raise")
    with pytest.raises(InvalidItemError) as info:
        m.predict([{"dst_ip": "10.0.0.1"}, None])
    assert info.value.index == 1


def test_bad_rules_are_rejected():
    with pytest.raises(InvalidParameterError):
        SignatureMatcher(rules=[Rule("r", Field("a", "equals", ["x"]), severity="huge")]).fit()
    with pytest.raises(InvalidParameterError):
        SignatureMatcher(indicators={"ipv9": ["x"]}).fit()
    with pytest.raises(InvalidItemError, match="not an MD5"):
        SignatureMatcher(indicators={"hash": ["abc"]}).fit()
    with pytest.raises(InvalidParameterError):
        SignatureMatcher(rules=[Rule("r", Field("a", "sounds-like", ["x"]))]).fit()


def test_rule_dict_round_trip():
    rule = Rule("r", (Field("a", "contains", ["x"], ignore_case=True) & ~Indicator("ip", ["10.0.0.0/8"], ("b",))) | Field("c", "null"),
                title="t", severity="low", tags=("x",), provenance={"k": 1})
    back = Rule.from_dict(rule.to_dict())
    assert back == rule
    m = SignatureMatcher(rules=[rule.to_dict()]).fit()
    assert m.predict([{"a": "X", "b": "11.0.0.1"}, {"a": "x", "b": "10.1.1.1", "c": "y"}]).tolist() == [1, 0]


def test_exports():
    m = SignatureMatcher(indicators={"ip": ["10.0.0.7/8", "2001:db8::1"], "domain": ["Evil.example"],
                                     "hash": ["D41D8CD98F00B204E9800998ECF8427E"], "url": ["http://x.example/a"]}).fit()
    lists = m.to_ioc_lists()
    assert lists["ip"] == ["10.0.0.0/8", "2001:db8::1"] and lists["domain"] == ["evil.example"]
    stix = m.to_stix()
    assert len(stix) == 5 and all(o["type"] == "indicator" and o["spec_version"] == "2.1" for o in stix)
    patterns = {o["pattern"] for o in stix}
    assert "[file:hashes.'MD5' = 'd41d8cd98f00b204e9800998ecf8427e']" in patterns
    assert "[ipv6-addr:value = '2001:db8::1']" in patterns
    assert stix[0]["x_secml_detect"]["rule_id"] == "ioc:ip"


def test_dataframe_input():
    pd = pytest.importorskip("pandas")
    m = SignatureMatcher(indicators={"ip": ["10.0.0.0/8"]}).fit()
    df = pd.DataFrame({"dst_ip": ["10.1.1.1", None, "1.1.1.1"]})
    assert m.predict(df).tolist() == [1, 0, 0]


REDOS_PATTERNS = [r"^(a+)+$", r"^(a|aa)+$", r"^(\w+\s?)*$", r"(.*a){12}", r"^(([a-z])+.)+[A-Z]([a-z])+$"]


@pytest.mark.timeout(60)  # a hang guard, not a speed target: backtracking would run for hours
@pytest.mark.parametrize("pattern", REDOS_PATTERNS)
def test_known_redos_patterns_do_not_hang(pattern):
    m = SignatureMatcher(rules=[Rule("redos", Field("q", "regex", [pattern]))]).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = m.predict([{"q": "a" * 5000 + "!"}, {"q": "aaaa"}])
    assert out.shape == (2,)


digests = st.one_of(*(st.text("0123456789abcdef", min_size=n, max_size=n) for n in (32, 40, 64)))


@given(st.lists(digests, min_size=1, max_size=15, unique=True), st.lists(digests, max_size=15))
def test_all_digest_lengths_vs_set(known, queries):
    m = SignatureMatcher(indicators={"hash": known}).fit()
    # same 128-bit prefix, different tail: must not match
    queries = queries + [k.upper() for k in known] + [f" {k}\t" for k in known] + [k[:-1] + ("0" if k[-1] != "0" else "1") for k in known]
    expected = [int(q.strip().lower() in set(known)) for q in queries]
    assert m.predict([{"sha256": q} for q in queries]).tolist() == expected
    assert m.predict([{"sha256": q} for q in queries] + [{"sha256": None}]).tolist() == expected + [0]  # slow path


# --- the prefilters (literal and regex gates) never change which rules fire --------------------
from secml_detect.signatures.rules import AllOf, AnyOf, EventView, Not, compile_condition  # noqa: E402

small_text = st.text("aAbB.\\", max_size=4)
leaf = st.builds(
    lambda f, op, vals, ic: Field(f, op, tuple(vals), ignore_case=ic),
    st.sampled_from(["x", "y"]),
    st.sampled_from(["equals", "contains", "startswith", "endswith", "regex"]),
    st.lists(small_text.map(lambda t: t.replace("\\", "\\\\").replace(".", "\\.") ), min_size=1, max_size=3),
    st.booleans(),
)
conditions = st.recursive(leaf, lambda children: st.one_of(
    st.lists(children, min_size=1, max_size=3).map(lambda a: AllOf(tuple(a))),
    st.lists(children, min_size=1, max_size=3).map(lambda a: AnyOf(tuple(a))),
    children.map(Not)), max_leaves=5)
events_st = st.lists(st.dictionaries(st.sampled_from(["x", "y", "z"]),
                                     st.one_of(small_text, st.integers(0, 3), st.lists(small_text, max_size=2)),
                                     max_size=3), max_size=6)


@given(st.lists(conditions, min_size=1, max_size=6), events_st)
def test_prefilters_do_not_change_results(conds, events):
    rules = [Rule(f"r{i}", c) for i, c in enumerate(conds)]
    m = SignatureMatcher(rules=rules).fit()
    got = [sorted({h.rule_id for h in row}) for row in m.match(events)]
    ref = [sorted(r.id for r in rules if compile_condition(r.condition)(EventView(e)) is not None) for e in events]
    assert got == ref


hosts = st.lists(st.text("abcXYZ019-", min_size=1, max_size=5).filter(lambda t: t[0] != "-" and t[-1] != "-"),
                 min_size=1, max_size=3).map(".".join)
paths = st.text("abc/~%2F7eE.-_", max_size=12)


@given(st.sampled_from(["http", "HTTP", "https"]), hosts, st.sampled_from(["", ":80", ":443", ":8080"]), paths)
def test_url_normalisation_is_idempotent_and_case_blind(scheme, host, port, path):
    from secml_detect.signatures import normalize_url

    url = f"{scheme}://{host}{port}/{path}"
    norm = normalize_url(url)
    assert normalize_url(norm) == norm
    assert normalize_url(f"{scheme.upper()}://{host.upper()}{port}/{path}") == norm
    assert norm.split("://")[0] == scheme.lower() and (host.lower() + "/") in norm + "/" or ":" in norm.split("://")[1]
    m = SignatureMatcher(indicators={"url": [url]}).fit()
    assert m.predict([{"url": f"{scheme.lower()}://{host.lower()}{port}/{path}#x"}]).tolist() == [1]
