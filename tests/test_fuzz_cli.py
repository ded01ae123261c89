"""Hostile input through the command line: every line is answered, nothing crashes."""

from __future__ import annotations

import contextlib
import io
import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secml_detect.cli import main

hostile_lines = st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
                                 min_size=1, max_size=80).filter(lambda s: s.strip() and not s.lstrip().startswith("#")),
                         min_size=1, max_size=8)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    paths = {}
    data = {"url": ["0\thttps://example.com/a", "0\thttps://wikipedia.org/", "1\thttp://paypal.verify-login.xyz/x",
                    "1\thttp://198.51.100.7/bank"] * 5,
            "ip": ["0\t8.8.8.8", "0\t1.1.1.1", "1\t203.0.113.7", "1\t203.0.113.9"] * 5}
    for kind, lines in data.items():
        src = root / f"{kind}.tsv"
        src.write_text("\n".join(lines) + "\n")
        paths[kind] = str(root / f"{kind}.smd")
        assert main(["train", "--kind", kind, "--input", str(src), "--output", paths[kind]]) == 0
    return paths


def _run(argv, stdin_text):
    out, err, old_stdin = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(stdin_text)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue()


@settings(max_examples=25, deadline=None)
@given(lines=hostile_lines)
def test_score_commands_answer_every_line(models, lines):
    text = "\n".join(lines) + "\n"
    for kind in ("url", "ip"):
        code, out = _run([f"score-{kind}", "--model", models[kind], "--jsonl", "-"], text)
        assert code == 0
        records = [json.loads(line) for line in out.splitlines()]
        assert len(records) == len(lines), kind


@settings(max_examples=25, deadline=None)
@given(events=st.lists(st.one_of(st.dictionaries(st.sampled_from(["dst_ip", "url", "domain", "payload", "md5"]),
                                                 st.one_of(st.text(max_size=30), st.integers(), st.none()), max_size=4),
                                 st.lists(st.integers(), max_size=3), st.text(max_size=10), st.integers()),
                       min_size=1, max_size=6))
def test_match_never_crashes_on_odd_events(tmp_path_factory, events):
    rules = tmp_path_factory.mktemp("r") / "iocs.txt"
    rules.write_text("203.0.113.7\nevil.example\n")
    text = "".join(json.dumps(e) + "\n" for e in events)
    code, out = _run(["match", "-r", str(rules), "--all", "--jsonl"], text)
    assert code == 0
    assert len(out.splitlines()) == len(events)
