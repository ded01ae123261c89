"""The README's demo runs end to end on bundled data and shows its effects."""

from secml_detect import demo


def test_demo_runs_and_reports(tmp_path, capsys):
    result = demo.run(tmp_path, top=3, replay_weeks=4)
    out = capsys.readouterr().out
    assert "top alerts" in out and "analyst reviewed" in out and "promoted" in out
    assert (tmp_path / "efficacy.png").stat().st_size > 1000
    assert (tmp_path / "signatures_stix.json").exists()
    assert result["auc_hybrid"] > 0.8
    assert result["efficacy"]["hybrid"] >= result["efficacy"]["rules only"]
