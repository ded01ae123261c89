import json

from secml_detect.cli import main


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_fit_alerts_feedback_cycle(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"components": [{"name": "payload", "detector": "ByteFrequencyModel", "column": "payload"}],
                                  "params": {"random_state": 0}}))
    train = _write_jsonl(tmp_path / "train.jsonl", [{"payload": f"id={i}&name=user{i % 13}"} for i in range(200)])
    model = str(tmp_path / "m.smd")
    assert main(["hybrid", "fit", "--config", str(config), "-o", model, train]) == 0
    events = _write_jsonl(tmp_path / "events.jsonl", [{"payload": "id=5&name=user3"}, {"payload": "id=1' OR 1=1 --"},
                                                       {"payload": '{"json":"body"}'}])
    capsys.readouterr()
    assert main(["hybrid", "alerts", "-m", model, "--jsonl", events]) == 0
    alerts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {a["event"]["payload"] for a in alerts} >= {"id=1' OR 1=1 --"}
    json_fp = next(a for a in alerts if a["event"]["payload"].startswith("{"))
    verdicts = _write_jsonl(tmp_path / "v.jsonl", [{"alert_id": json_fp["alert_id"], "verdict": "benign", "note": "API"}])
    model2 = str(tmp_path / "m2.smd")
    assert main(["hybrid", "feedback", "-m", model, "-o", model2, "--events", events, verdicts]) == 0
    capsys.readouterr()
    assert main(["hybrid", "alerts", "-m", model2, "--jsonl", events]) == 0
    after = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert json_fp["alert_id"] not in {a["alert_id"] for a in after}


def test_unknown_detector_in_config_is_refused(tmp_path):
    import pytest

    from secml_detect.exceptions import InvalidParameterError

    config = tmp_path / "c.yaml"
    config.write_text("components:\n  - {name: x, detector: os.system, column: x}\n")
    with pytest.raises(InvalidParameterError, match="unknown detector"):
        main(["hybrid", "fit", "--config", str(config), "-o", str(tmp_path / "m.smd"), str(config)])


def test_config_with_rule_files_and_export(tmp_path, capsys):
    (tmp_path / "bad_ips.txt").write_text("# known C2\n203.0.113.7\n")
    config = tmp_path / "hybrid.yaml"
    config.write_text("components:\n  - {name: payload, detector: ByteFrequencyModel, column: payload}\n"
                      "signatures:\n  rules: [bad_ips.txt]\n  indicators: {domain: [evil.example]}\n")
    train = _write_jsonl(tmp_path / "t.jsonl", [{"payload": f"q=item{i}"} for i in range(100)])
    model = str(tmp_path / "m.smd")
    assert main(["hybrid", "fit", "--config", str(config), "-o", model, train]) == 0
    events = _write_jsonl(tmp_path / "e.jsonl", [{"dst_ip": "203.0.113.7"}, {"url": "http://x.evil.example/a"}, {"payload": "q=item3"}])
    capsys.readouterr()
    assert main(["hybrid", "alerts", "-m", model, "--jsonl", events]) == 0
    alerts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(a["index"] for a in alerts) == [0, 1] and all(a["rules"] for a in alerts)
    assert main(["hybrid", "export", "-m", model, "--format", "ioc"]) == 0
    assert "203.0.113.7" in capsys.readouterr().out
