"""``secml-detect match`` end to end."""

import json

from secml_detect.cli import main
from secml_detect.persistence import save
from secml_detect.signatures import SignatureMatcher

SIGMA = """title: Whoami
id: 7d0b5e6f-0000-4000-8000-000000000001
logsource: {category: process_creation, product: windows}
detection:
  sel: {Image|endswith: '\\\\whoami.exe'}
  condition: sel
level: medium
"""


def test_match_jsonl(tmp_path, capsys):
    (tmp_path / "tor.txt").write_text("# exits\n198.51.100.7\nnot-an-ip..\n")
    (tmp_path / "r.yml").write_text(SIGMA)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in [
        {"src_ip": "198.51.100.7"}, {"Image": "C:\\Windows\\System32\\whoami.exe"}, {"src_ip": "192.0.2.1"}, [1, 2]]) + "\n")
    assert main(["match", "--ioc", f"ip={tmp_path / 'tor.txt'}", "-r", str(tmp_path / "r.yml"), str(events), "--jsonl"]) == 0
    out, err = capsys.readouterr()
    recs = [json.loads(line) for line in out.splitlines()]
    assert [r["index"] for r in recs] == [0, 1]
    assert recs[0]["hits"][0]["kind"] == "ip" and recs[1]["hits"][0]["kind"] == "sigma"
    assert recs[1]["threat_score"] == 0.6
    assert "tor.txt:3" in err  # the bad line is reported, not silently dropped


def test_match_from_saved_model_and_export(tmp_path, capsys):
    m = SignatureMatcher(indicators={"domain": ["evil.example"]}).fit()
    save(m, tmp_path / "m.smd")
    events = tmp_path / "e.jsonl"
    events.write_text('{"url": "http://x.evil.example/"}\n{"url": "http://good.example/"}\n')
    assert main(["match", "--model", str(tmp_path / "m.smd"), str(events), "--all"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("0\t0.85\tioc:domain") and out[1] == "1\t0.00\t-"
    assert main(["match", "--model", str(tmp_path / "m.smd"), "--export", "stix"]) == 0
    stix = json.loads(capsys.readouterr().out)
    assert stix[0]["pattern"] == "[domain-name:value = 'evil.example']"
