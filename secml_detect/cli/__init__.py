"""The ``secml-detect`` command line.

Each subcommand lives in its own module in this package and exposes
``register(subparsers)``; modules are discovered at start-up, so a new
subcommand is a new file. Output convention: human-readable lines by default,
``--json`` (one JSON document) or ``--jsonl`` (one JSON object per line).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Sequence

from .._version import __version__

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="secml-detect",
        description="Security machine-learning detectors: signature rules and learned models together.",
    )
    parser.add_argument("--version", action="version", version=f"secml-detect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``secml-detect`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. `| head`
        return 0
