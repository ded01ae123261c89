"""``secml-detect filetype``: text, --json, --jsonl, -r, bad paths, progress."""

from __future__ import annotations

import io
import json

from secml_detect.cli import main
from secml_detect.filetype.samples import make_samples


def _tree(tmp_path):
    s = make_samples()
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.pdf").write_bytes(s["pdf"])
    (tmp_path / "sub" / "run").write_bytes(s["shell"])
    (tmp_path / "sub" / "empty").write_bytes(b"")
    return tmp_path


def test_text_output_one_line_per_path(tmp_path, capsys):
    root = _tree(tmp_path)
    assert main(["filetype", "--no-progress", str(root / "a.pdf"), str(root / "missing"), str(root / "sub")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{root / 'a.pdf'}: pdf (")
    assert "error: no such file" in lines[1]
    assert "error: not a regular file (directory)" in lines[2]


def test_recursive_jsonl(tmp_path, capsys):
    root = _tree(tmp_path)
    assert main(["filetype", "-r", "--jsonl", "--no-progress", str(root)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {r["path"].rsplit("/", 1)[1]: r for r in records}
    assert set(by_name) == {"a.pdf", "run", "empty"}
    assert by_name["a.pdf"]["label"] == "pdf" and by_name["run"]["label"] == "shell"
    assert by_name["empty"]["label"] == "empty" and by_name["empty"]["ok"] is True
    assert 0.0 <= by_name["run"]["threat_score"] <= 1.0


def test_json_and_stdin_and_progress(tmp_path, capsys, monkeypatch):
    root = _tree(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{root / 'a.pdf'}\n{root / 'sub' / 'run'}\n"))
    assert main(["filetype", "--json", "--progress", "-"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [d["label"] for d in doc] == ["pdf", "shell"]
    assert "2 files in" in captured.err
