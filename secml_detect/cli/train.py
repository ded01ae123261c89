"""``secml-detect train``: fit a URL or IP model from labelled lines and save it.

Input lines are ``label<TAB>item`` with label ``1`` (malicious) or ``0``
(benign); blank lines and lines starting with ``#`` are skipped. The model is
written in the safe persistence format (:func:`secml_detect.persistence.save`).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._output import add_output_options, read_lines, write_records

KINDS = {
    "url": ("secml_detect.url", "URLClassifier"),
    "ip": ("secml_detect.ip", "IPReputationClassifier"),
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a URL or IP classifier from 'label<TAB>item' lines",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("--kind", required=True, choices=sorted(KINDS), help="what the items are")
    p.add_argument("--input", default="-", help="labelled lines (default: standard input)")
    p.add_argument("--output", required=True, help="model file to write (conventionally *.smd)")
    add_output_options(p)
    p.set_defaults(func=run)


def parse_labelled(lines) -> tuple[list[str], list[int]]:
    """Items and 0/1 labels from ``label<TAB>item`` lines; bad lines raise ``SystemExit`` naming the line."""
    items, labels = [], []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, item = line.partition("\t")
        if not sep or label.strip() not in ("0", "1"):
            raise SystemExit(f"line {lineno}: expected 'label<TAB>item' with label 0 or 1, got {line[:80]!r}")
        items.append(item)
        labels.append(int(label))
    return items, labels


def load_estimator(kind: str):
    module_name, class_name = KINDS[kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"--kind {kind} needs {module_name}.{class_name}, which this build lacks ({exc})") from exc
    return getattr(module, class_name)


def run(args: argparse.Namespace) -> int:
    from ..persistence import save

    cls = load_estimator(args.kind)
    items, labels = parse_labelled(read_lines([args.input]))
    if len(set(labels)) != 2:
        raise SystemExit(f"need both labels 0 and 1 in {args.input}, got {sorted(set(labels))}")
    model = cls().fit(items, labels)
    save(model, args.output, metadata={"kind": args.kind, "n_items": len(items),
                                        "n_malicious": int(sum(labels)), "source": str(args.input)})
    record = {"kind": args.kind, "model": args.output, "n_items": len(items), "n_malicious": int(sum(labels))}
    write_records([record], args, text=lambda r: (f"trained {cls.__name__} on {r['n_items']} items "
                                                  f"({r['n_malicious']} malicious) -> {r['model']}"),
                  out=sys.stdout)
    return 0
