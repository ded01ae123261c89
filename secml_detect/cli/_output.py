"""Shared output helpers for subcommands: text, ``--json`` and ``--jsonl``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Add the mutually exclusive ``--json`` / ``--jsonl`` flags."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print one JSON document")
    group.add_argument("--jsonl", action="store_true", help="print one JSON object per line")


def write_records(
    records: Iterable[dict[str, Any]],
    args: argparse.Namespace,
    *,
    text: Any = None,
    out: TextIO | None = None,
) -> int:
    """Write records in the format chosen by ``args``; return how many were written.

    ``text`` formats one record as a line for the default human output
    (``str(record)`` when omitted).
    """
    out = out or sys.stdout
    count = 0
    if getattr(args, "json", False):
        items = list(records)
        json.dump(items, out, default=str)
        out.write("\n")
        return len(items)
    for record in records:
        if getattr(args, "jsonl", False):
            out.write(json.dumps(record, default=str) + "\n")
        else:
            out.write((text(record) if text else str(record)) + "\n")
        count += 1
    return count


def read_lines(paths: list[str]) -> Iterator[str]:
    """Lines (without newline) from files, or standard input for ``-`` / none."""
    if not paths:
        paths = ["-"]
    for path in paths:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="surrogateescape")
        try:
            for line in stream:
                yield line.rstrip("\r\n")
        finally:
            if stream is not sys.stdin:
                stream.close()


def read_jsonl(paths: list[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) per non-empty line; bad JSON raises with the line."""
    for lineno, line in enumerate(read_lines(paths), start=1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"line {lineno}: invalid JSON ({exc.msg})") from exc
