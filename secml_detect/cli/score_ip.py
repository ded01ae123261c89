"""``secml-detect score-ip``: score IP addresses, one per line, with a saved model.

Reads addresses from files or standard input (``-`` or nothing), one per
line; blank lines and lines starting with ``#`` are skipped; surrounding
whitespace is ignored. Each address gets the model's ``threat_score``;
malformed addresses get the model's documented fallback score and
``"fallback": true`` (or stop the command with ``--strict``, naming the
line). Lines are scored in batches, so a large file streams.

Output: ``SCORE<TAB>ADDRESS`` lines by default, one JSON object per address
with ``--jsonl``, or one JSON list with ``--json``. ``--explain K`` adds the
K strongest features behind each score.
"""

from __future__ import annotations

import argparse
import itertools
import warnings
from collections.abc import Iterator

from ._output import add_output_options, read_lines, write_records

BATCH = 65536


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "score-ip",
        help="score IP addresses (one per line) with a saved IPReputationClassifier",
        description=__doc__.split("\n\n", 1)[0],
    )
    parser.add_argument("--model", required=True, help="model file written by secml_detect.save (e.g. by `secml-detect train`)")
    parser.add_argument("paths", nargs="*", metavar="FILE", help="files of addresses ('-' or none: standard input)")
    parser.add_argument("--explain", type=int, default=0, metavar="K", help="add the K strongest features per address")
    parser.add_argument("--strict", action="store_true", help="stop at the first malformed address instead of scoring it with the fallback")
    add_output_options(parser)
    parser.set_defaults(func=run)


def _numbered(paths: list[str]) -> Iterator[tuple[int, str]]:
    for lineno, line in enumerate(read_lines(paths), start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield lineno, text


def _records(model, lines: Iterator[tuple[int, str]], explain: int, strict: bool) -> Iterator[dict]:
    from ..exceptions import InvalidItemError
    from ..ip import parse_addresses

    if strict:
        model.set_params(on_bad_input="raise")
    while True:
        batch = list(itertools.islice(lines, BATCH))
        if not batch:
            return
        items = [text for _, text in batch]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if explain:
                    explanations = model.explain(items, top_k=explain)
                    scores = [e.threat_score for e in explanations]
                else:
                    explanations = None
                    scores = model.threat_score(items).tolist()
            except InvalidItemError as exc:
                lineno = batch[exc.index][0] if exc.index is not None else "?"
                raise SystemExit(f"line {lineno}: {exc.reason} ({items[exc.index]!r})") from exc
        reasons = parse_addresses(items).reasons
        for i, ((lineno, text), score) in enumerate(zip(batch, scores)):
            record = {"line": lineno, "ip": text, "threat_score": score, "fallback": i in reasons}
            if i in reasons:
                record["reason"] = reasons[i]
            if explanations is not None:
                record["contributions"] = [
                    {"feature": c.name, "value": c.value, "weight": c.weight} for c in explanations[i].contributions
                ]
            yield record


def _text(record: dict) -> str:
    line = f"{record['threat_score']:.6f}\t{record['ip']}"
    if record.get("fallback"):
        line += f"\t(fallback: {record.get('reason', '')})"
    if record.get("contributions"):
        line += "\t" + ", ".join(f"{c['feature']}={c['value']} ({c['weight']:+.2f})" for c in record["contributions"])
    return line


def run(args: argparse.Namespace) -> int:
    from ..persistence import load

    model = load(args.model)
    if not hasattr(model, "explain") or not hasattr(model, "threat_score"):
        raise SystemExit(f"{args.model}: not a secml_detect detector ({type(model).__name__})")
    write_records(_records(model, _numbered(args.paths), args.explain, args.strict), args, text=_text)
    return 0
