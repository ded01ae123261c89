"""``secml-detect filetype PATH...``: the content type of files."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator

from ._output import add_output_options, write_records


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "filetype",
        help="detect the content type of files (pre-trained model)",
        description="Print the content type of each file, one line per file (\"-\" reads paths from stdin). "
                    "Unreadable paths are reported, never fatal.",
    )
    p.add_argument("paths", nargs="*", help="files or directories (with -r); '-' reads paths from stdin")
    p.add_argument("-r", "--recursive", action="store_true", help="walk directories")
    p.add_argument("--min-confidence", type=float, default=None,
                   help="answer 'unknown' below this probability (default: the model's, 0.5)")
    p.add_argument("--model", default=None, help="a model file saved with secml_detect.save (default: the shipped one)")
    p.add_argument("--batch-size", type=int, default=2048)
    prog = p.add_mutually_exclusive_group()
    prog.add_argument("--progress", action="store_true", help="progress on stderr even when it is not a terminal")
    prog.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    add_output_options(p)
    p.set_defaults(func=run)


def _expand(paths: list[str], recursive: bool) -> Iterator[str]:
    if not paths:
        paths = ["-"]
    for path in paths:
        if path == "-":
            for line in sys.stdin:
                line = line.rstrip("\r\n")
                if line:
                    yield line
            continue
        if recursive and os.path.isdir(path) and not os.path.islink(path):
            for dirpath, dirnames, filenames in os.walk(path, onerror=None):
                dirnames.sort()
                for name in sorted(filenames):
                    yield os.path.join(dirpath, name)
        else:
            yield path


def _text(record: dict) -> str:
    if not record["ok"]:
        return f"{record['path']}: unknown (error: {record['error']})"
    label = record["label"]
    if label == "unknown":
        return f"{record['path']}: unknown (best guess {record['best_guess']}, {record['confidence']:.2f})"
    return f"{record['path']}: {label} ({record['confidence']:.2f})"


def run(args: argparse.Namespace) -> int:
    from ..filetype import FileTypeDetector

    if args.model:
        from ..persistence import load

        det = load(args.model)
    else:
        det = FileTypeDetector.pretrained()
    det.set_params(batch_size=args.batch_size)
    if args.min_confidence is not None:
        det.set_params(min_confidence=args.min_confidence)
    progress = args.progress or (not args.no_progress and sys.stderr.isatty())
    paths = list(_expand(args.paths, args.recursive))
    start = time.perf_counter()
    state = {"n": 0, "last": start, "errors": 0}

    def records() -> Iterator[dict]:
        for path, res in zip(paths, det.iter_detect(paths)):
            state["n"] += 1
            state["errors"] += not res.ok
            now = time.perf_counter()
            if progress and now - state["last"] >= 1.0:
                state["last"] = now
                print(f"\r{state['n']}/{len(paths)} files, {state['n'] / (now - start):.0f} files/s",
                      end="", file=sys.stderr, flush=True)
            yield {"path": path, **res.to_dict()}

    write_records(records(), args, text=_text)
    if progress and state["n"]:
        elapsed = time.perf_counter() - start
        print(f"\r{state['n']} files in {elapsed:.1f}s ({state['errors']} unreadable)", file=sys.stderr)
    return 0
