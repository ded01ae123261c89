"""``secml-detect score-url``: score URLs (one per line) with a trained URLClassifier."""

from __future__ import annotations

import argparse
import itertools
import warnings

from ._output import add_output_options, read_lines, write_records

BATCH = 65536


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "score-url",
        help="score URLs or domains, one per line, with a model from 'secml-detect train --kind url'",
        description="Print each URL's threat score (0 to 1, higher = more suspicious).",
    )
    p.add_argument("--model", required=True, help="model file written by 'secml-detect train --kind url'")
    p.add_argument("paths", nargs="*", metavar="FILE", help="files of URLs (default or '-': standard input)")
    p.add_argument("--explain", type=int, default=0, metavar="K",
                   help="also give the K features / n-grams that pushed each score most")
    add_output_options(p)
    p.set_defaults(func=run)


def _records(model, lines, explain: int):
    it = iter(lines)
    index = 0
    while True:
        batch = [line for line in itertools.islice(it, BATCH)]
        if not batch:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if explain:
                results = [(e.threat_score, e) for e in model.explain(batch, top_k=explain)]
            else:
                results = [(float(s), None) for s in model.threat_score(batch)]
        for url, (score, exp) in zip(batch, results):
            record = {"index": index, "url": url, "threat_score": round(float(score), 6)}
            if exp is not None:
                record["reasons"] = [{"name": c.name, "value": c.value, "weight": round(c.weight, 4)}
                                     for c in exp.contributions]
            index += 1
            yield record


def _text(record) -> str:
    line = f"{record['threat_score']:.4f}\t{record['url']}"
    if record.get("reasons"):
        line += "\t" + "; ".join(f"{r['name']}={r['value']} ({r['weight']:+.2f})" for r in record["reasons"])
    return line


def run(args: argparse.Namespace) -> int:
    from ..persistence import load
    from ..url import URLClassifier

    model = load(args.model)
    if not isinstance(model, URLClassifier):
        raise SystemExit(f"{args.model} holds a {type(model).__name__}, not a URLClassifier")
    write_records(_records(model, read_lines(args.paths), args.explain), args, text=_text)
    return 0
