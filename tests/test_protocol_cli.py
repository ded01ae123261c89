"""``secml-detect protocol fit`` / ``score``."""

import base64
import json

from secml_detect.cli import main


def _write(path, objs):
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))
    return str(path)


def test_fit_then_score_explains_the_alert(tmp_path, capsys):
    normal = [{"raw": f"GET /item?id={i} HTTP/1.1\r\nHost: shop\r\n\r\n"} for i in range(100, 300)]
    train = _write(tmp_path / "normal.jsonl", normal)
    model = str(tmp_path / "m.smd")
    assert main(["protocol", "fit", train, "--model", model]) == 0
    assert "trained on 200 requests" in capsys.readouterr().out
    attack = b"GET /item?id=1%27%20OR%201=1-- HTTP/1.1\r\nHost: shop\r\n\r\n"
    test = _write(tmp_path / "test.jsonl", [normal[0], {"raw_b64": base64.b64encode(attack).decode()},
                                            {"method": "GET", "path": "/item", "query": {"id": "150"},
                                             "service": "shop"}])
    assert main(["protocol", "score", test, "--model", model, "--jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[1]["anomaly"] and not records[0]["anomaly"]
    assert records[1]["reasons"][0]["field"].startswith("query `id` at /item")
    assert main(["protocol", "score", test, "--model", model, "--alerts-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("line 2: ANOMALY") and "line 1:" not in out
