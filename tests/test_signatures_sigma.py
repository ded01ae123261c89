"""Sigma rules via pySigma: one positive and one negative event per construct."""

import textwrap

import pytest

from secml_detect.signatures import SignatureMatcher
from secml_detect.signatures.sigma import load_sigma, sigma_rule_from_yaml

pytest.importorskip("sigma")


def rule(detection: str, level: str = "high") -> str:
    return textwrap.dedent("""\
        title: test rule
        id: 00000000-0000-4000-8000-000000000001
        status: test
        logsource: {category: process_creation, product: windows}
        detection:
        %s
        level: %s
        """) % (textwrap.indent(textwrap.dedent(detection), "    "), level)


def fires(yaml_text: str, events):
    rules, errors = sigma_rule_from_yaml(yaml_text)
    assert not errors, errors
    m = SignatureMatcher(rules=rules).fit()
    return m.predict(events).tolist()


CASES = [
    # (name, detection, positive event, negative event)
    ("plain equals, case-insensitive", "sel: {Image: 'C:\\\\Windows\\\\cmd.exe'}\ncondition: sel",
     {"Image": "c:\\windows\\CMD.EXE"}, {"Image": "C:\\Windows\\cmd.exe2"}),
    ("map is AND", "sel: {Image|endswith: '\\\\net.exe', CommandLine|contains: ' user '}\ncondition: sel",
     {"Image": "C:\\x\\net.exe", "CommandLine": "net user bob"}, {"Image": "C:\\x\\net.exe", "CommandLine": "net view"}),
    ("list of maps is OR", "sel:\n  - {Image|endswith: '\\\\a.exe'}\n  - {Image|endswith: '\\\\b.exe'}\ncondition: sel",
     {"Image": "x\\b.exe"}, {"Image": "x\\c.exe"}),
    ("value list is OR", "sel: {CommandLine|contains: [' -enc ', ' -e ']}\ncondition: sel",
     {"CommandLine": "powershell -e AAA"}, {"CommandLine": "powershell -nop"}),
    ("startswith", "sel: {CommandLine|startswith: 'certutil'}\ncondition: sel",
     {"CommandLine": "CertUtil -urlcache"}, {"CommandLine": "x certutil"}),
    ("contains|all", "sel: {CommandLine|contains|all: ['-urlcache', '-f']}\ncondition: sel",
     {"CommandLine": "certutil -urlcache -split -f http://x"}, {"CommandLine": "certutil -urlcache"}),
    ("wildcards inside", "sel: {CommandLine: 'rundll32*,DllRegister?erver'}\ncondition: sel",
     {"CommandLine": "rundll32 x.dll,DllRegisterServer"}, {"CommandLine": "rundll32 x.dll,Other"}),
    ("re", "sel: {CommandLine|re: '\\s-[eE][nN][cC]\\s'}\ncondition: sel",
     {"CommandLine": "ps -EnC abc"}, {"CommandLine": "ps -enx abc"}),
    ("re|i", "sel: {CommandLine|re|i: 'invoke-mimikatz'}\ncondition: sel",
     {"CommandLine": "Invoke-Mimikatz"}, {"CommandLine": "invoke-other"}),
    ("cidr", "sel: {DestinationIp|cidr: '10.0.0.0/8'}\ncondition: sel",
     {"DestinationIp": "10.20.30.40"}, {"DestinationIp": "11.0.0.1"}),
    ("cased", "sel: {CommandLine|cased|contains: 'ABC'}\ncondition: sel",
     {"CommandLine": "xABCx"}, {"CommandLine": "xabcx"}),
    ("number", "sel: {EventID: 4624}\ncondition: sel", {"EventID": 4624}, {"EventID": 4625}),
    ("null", "sel: {Image|endswith: '.exe', OriginalFileName: null}\ncondition: sel",
     {"Image": "a.exe"}, {"Image": "a.exe", "OriginalFileName": "x.exe"}),
    ("exists", "sel: {Image|endswith: '.exe', Hashes|exists: true}\ncondition: sel",
     {"Image": "a.exe", "Hashes": "x"}, {"Image": "a.exe"}),
    ("gt", "sel: {Count|gt: 10}\ncondition: sel", {"Count": 11}, {"Count": 10}),
    ("lte", "sel: {Count|lte: 10}\ncondition: sel", {"Count": "10"}, {"Count": 11}),
    ("neq", "sel: {Image|endswith: '.exe', User|neq: 'SYSTEM'}\ncondition: sel",
     {"Image": "a.exe", "User": "bob"}, {"Image": "a.exe", "User": "SYSTEM"}),
    ("windash", "sel: {CommandLine|windash|contains: ' -s '}\ncondition: sel",
     {"CommandLine": "x /s y"}, {"CommandLine": "x s y"}),
    ("base64offset", "sel: {CommandLine|base64offset|contains: 'http://'}\ncondition: sel",
     {"CommandLine": "x aHR0cDovL y"}, {"CommandLine": "x http:// y"}),
    ("fieldref", "sel: {ParentImage|fieldref: Image}\ncondition: sel",
     {"Image": "a.exe", "ParentImage": "A.EXE"}, {"Image": "a.exe", "ParentImage": "b.exe"}),
    ("and not", "sel: {Image|endswith: '.exe'}\nfilter: {User: SYSTEM}\ncondition: sel and not filter",
     {"Image": "a.exe", "User": "bob"}, {"Image": "a.exe", "User": "system"}),
    ("or", "a: {Image|endswith: 'a.exe'}\nb: {Image|endswith: 'b.exe'}\ncondition: a or b",
     {"Image": "b.exe"}, {"Image": "c.exe"}),
    ("1 of", "sel_a: {Image|endswith: 'a.exe'}\nsel_b: {Image|endswith: 'b.exe'}\ncondition: 1 of sel_*",
     {"Image": "a.exe"}, {"Image": "c.exe"}),
    ("all of", "sel_a: {Image|endswith: '.exe'}\nsel_b: {CommandLine|contains: evil}\ncondition: all of sel_*",
     {"Image": "a.exe", "CommandLine": "evil"}, {"Image": "a.exe", "CommandLine": "good"}),
    ("all of them", "a: {Image|endswith: '.exe'}\nb: {User: bob}\ncondition: all of them",
     {"Image": "a.exe", "User": "bob"}, {"Image": "a.exe", "User": "eve"}),
    ("parentheses", "a: {Image|endswith: x.exe}\nb: {User: bob}\nc: {User: eve}\ncondition: a and (b or c) and not 1 of d*\nd1: {CommandLine|contains: safe}",
     {"Image": "x.exe", "User": "eve", "CommandLine": "run"}, {"Image": "x.exe", "User": "eve", "CommandLine": "safe"}),
    ("keywords", "keywords: ['Cannot run program', 'ProcessBuilder']\ncondition: keywords",
     {"message": "java: Cannot run program \"sh\""}, {"message": "all fine"}),
]


@pytest.mark.parametrize("name,detection,pos,neg", CASES, ids=[c[0] for c in CASES])
def test_construct(name, detection, pos, neg):
    assert fires(rule(detection), [pos, neg]) == [1, 0]


def test_hits_carry_rule_metadata():
    rules, _ = sigma_rule_from_yaml(rule("sel: {Image|endswith: '\\\\whoami.exe'}\ncondition: sel", level="low"))
    m = SignatureMatcher(rules=rules).fit()
    (hit,) = m.match([{"Image": "C:\\Windows\\System32\\whoami.exe"}])[0]
    assert (hit.rule_id, hit.kind, hit.severity, hit.field) == ("00000000-0000-4000-8000-000000000001", "sigma", "low", "Image")
    assert m.threat_score([{"Image": "x\\whoami.exe"}])[0] == pytest.approx(0.3)
    assert rules[0].provenance["logsource"] == {"category": "process_creation", "product": "windows"}


def test_sigma_rules_only_fire_on_events_with_their_fields():
    # "not filter" alone could match any event; a Sigma rule needs one of its fields present.
    rules, _ = sigma_rule_from_yaml(rule("filter: {User: SYSTEM}\ncondition: not filter"))
    m = SignatureMatcher(rules=rules).fit()
    assert m.predict([{"User": "bob"}, {"url": "http://x"}]).tolist() == [1, 0]


def test_unsupported_constructs_are_reported():
    placeholder = rule("sel: {User|expand: '%admins%'}\ncondition: sel")
    rules, errors = sigma_rule_from_yaml(placeholder, source="p.yml")
    assert rules == [] and "placeholder" in errors[0]["reason"] and errors[0]["source"] == "p.yml"
    rules, errors = sigma_rule_from_yaml("title: x\ndetection: [", source="bad.yml")
    assert rules == [] and errors and errors[0]["source"] == "bad.yml"
    rules, errors = sigma_rule_from_yaml(rule("sel: {Image: x}\ncondition: sel and nope"), source="c.yml")
    assert rules == [] and errors


def test_matcher_loads_sigma_paths_and_records_errors(tmp_path):
    (tmp_path / "good.yml").write_text(rule("sel: {Image|endswith: x.exe}\ncondition: sel"))
    (tmp_path / "bad.yml").write_text("title: [")
    m = SignatureMatcher(rules=[str(tmp_path)]).fit()
    assert len(m.rules_) == 1 and len(m.load_errors_) == 1 and m.load_errors_[0]["source"].endswith("bad.yml")
    assert m.predict([{"Image": "y\\x.exe"}]).tolist() == [1]


def test_sigmahq_sample_coverage(shared_dataset):
    """A fixed sample of SigmaHQ rules loads and evaluates (full set: benchmarks/bench_signatures_sigma.py)."""
    root = shared_dataset("sigma_rules")
    files = sorted(root.rglob("*.yml"))[::25]
    rules, errors = load_sigma(files)
    assert len(rules) / len(files) >= 0.9, errors
    m = SignatureMatcher(rules=rules).fit()
    scores = m.threat_score([{"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami"}, {}])
    assert scores.shape == (2,) and scores[1] == 0.0


def test_event_logsource_restricts_sigma_rules():
    rules, _ = sigma_rule_from_yaml(rule("sel: {Image|endswith: '\\\\notepad.exe'}\ncondition: sel"))
    m = SignatureMatcher(rules=rules).fit()
    ev = {"Image": "C:\\Windows\\notepad.exe"}
    assert m.predict([ev,
                      {**ev, "logsource": {"category": "process_creation", "product": "windows"}},
                      {**ev, "logsource": {"product": "windows"}},
                      {**ev, "logsource": {"category": "network_connection", "product": "windows"}},
                      {**ev, "logsource": {"category": "process_creation", "product": "linux"}}]).tolist() == [1, 1, 1, 0, 0]


def test_field_map_renames_sigma_fields(tmp_path):
    (tmp_path / "r.yml").write_text(rule("sel: {Image|endswith: '\\\\whoami.exe', CommandLine|contains: '/all'}\ncondition: sel"))
    m = SignatureMatcher(rules=[str(tmp_path / "r.yml")], field_map={"Image": "process", "CommandLine": "cmdline"}).fit()
    assert m.predict([{"process": "c:\\x\\whoami.exe", "cmdline": "whoami /all"},
                      {"Image": "c:\\x\\whoami.exe", "CommandLine": "whoami /all"}]).tolist() == [1, 0]
