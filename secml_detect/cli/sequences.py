"""``secml-detect sequences``: learn normal call sequences, then score new ones.

One sequence per line, tokens separated by whitespace (log keys, system-call
numbers, API names); an empty line is an empty sequence.

    secml-detect sequences fit normal.txt --model calls.smd
    secml-detect sequences score new.txt --model calls.smd --jsonl
"""

from __future__ import annotations

import argparse

from ._output import add_output_options, read_lines, write_records


def register(subparsers) -> None:
    parser = subparsers.add_parser("sequences", help="learn normal call sequences and score new ones",
                                   description=__doc__.split("\n\n", 1)[1],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fit = sub.add_parser("fit", help="fit an APICallSequenceModel on normal sequences and save it")
    fit.add_argument("files", nargs="*", help="files of normal sequences (default: standard input)")
    fit.add_argument("--model", required=True, help="where to write the model (.smd)")
    fit.add_argument("--order", type=int, default=3, help="context length (default 3)")
    fit.add_argument("--aggregate", default="max", choices=["max", "mean", "sum", "topg"])
    fit.add_argument("--contamination", type=float, default=0.01, help="target false-positive rate")
    fit.set_defaults(func=_fit)
    score = sub.add_parser("score", help="score sequences with a saved model")
    score.add_argument("files", nargs="*", help="files of sequences (default: standard input)")
    score.add_argument("--model", required=True, help="a model written by 'sequences fit'")
    score.add_argument("--top-k", type=int, default=3, help="most surprising calls reported per sequence")
    add_output_options(score)
    score.set_defaults(func=_score)


def _fit(args) -> int:
    from ..persistence import save
    from ..sequence import APICallSequenceModel

    seqs = [line.split() for line in read_lines(args.files)]
    model = APICallSequenceModel(order=args.order, aggregate=args.aggregate,
                                 contamination=args.contamination).fit(seqs)
    save(model, args.model, metadata={"trained_on": len(seqs)})
    print(f"fitted on {len(seqs)} sequences; wrote {args.model}")
    return 0


def _score(args) -> int:
    from ..persistence import load

    model = load(args.model)
    seqs = [line.split() for line in read_lines(args.files)]
    flags = model.predict(seqs) == -1
    explanations = model.explain(seqs, top_k=args.top_k)
    records = ({"line": i + 1, "threat_score": e.threat_score, "anomaly": bool(f),
                "surprising": [{"where": c.name, "call": c.value, "surprise": c.weight} for c in e.contributions]}
               for i, (e, f) in enumerate(zip(explanations, flags)))
    write_records(records, args, text=lambda r: f"{r['line']}\t{r['threat_score']:.4f}\t"
                  f"{'ANOMALY' if r['anomaly'] else 'ok'}\t" + "; ".join(
                      f"{s['where']}: {s['call']}" for s in r["surprising"][:1]))
    return 0
