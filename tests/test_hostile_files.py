"""Rule and config files that would run code under an unsafe loader run nothing here."""

from __future__ import annotations

import pytest

from secml_detect.exceptions import InvalidParameterError
from secml_detect.hybrid.config import load_config
from secml_detect.signatures import SignatureMatcher


def _payload(marker):
    return f'!!python/object/apply:os.system ["touch {marker}"]'


def test_yaml_config_with_python_tag_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "hybrid.yaml"
    path.write_text(f"components: {_payload(marker)}\n")
    with pytest.raises(InvalidParameterError, match="not a valid config"):
        load_config(path)
    assert not marker.exists()


def test_sigma_rule_with_python_tag_is_recorded_not_run(tmp_path):
    marker = tmp_path / "pwned"
    rule = tmp_path / "evil.yml"
    rule.write_text("title: evil\nlogsource: {product: linux}\n"
                    f"detection:\n  selection:\n    Image: {_payload(marker)}\n  condition: selection\n")
    matcher = SignatureMatcher(rules=[str(rule)]).fit()
    assert not marker.exists()
    assert matcher.load_errors_ and matcher.load_errors_[0]["source"].endswith("evil.yml")


def test_jsonl_rules_cannot_name_code(tmp_path):
    rules = tmp_path / "rules.jsonl"
    rules.write_text('{"id": "x", "condition": {"__class__": "os.system", "args": ["id"]}}\n')
    matcher = SignatureMatcher(rules=[str(rules)]).fit()
    assert matcher.load_errors_  # refused with a reason, never evaluated as code
