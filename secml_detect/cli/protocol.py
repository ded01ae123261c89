"""``secml-detect protocol``: train a ProtocolAnomalyModel on normal requests, score and explain.

Input is JSON lines, one request per line, in any form the model accepts:
``{"raw": "GET / HTTP/1.1\\r\\n..."}`` (optionally with ``"service"``), a
parsed record (``method``, ``path``, ``query``, ``headers``, ``body``,
``service``) or a payload ``{"payload": "...", "port": 25}``. Bytes that are
not text go base64-encoded in ``raw_b64`` / ``payload_b64``.
"""

from __future__ import annotations

import argparse
import base64

from ._output import add_output_options, read_jsonl, write_records


def _item(obj):
    if isinstance(obj, dict):
        obj = dict(obj)
        for key in ("raw", "payload"):
            encoded = obj.pop(f"{key}_b64", None)
            if encoded is not None:
                obj[key] = base64.b64decode(encoded)
    return obj


def _read(paths):
    lines, items = [], []
    for lineno, obj in read_jsonl(paths):
        lines.append(lineno)
        items.append(_item(obj))
    return lines, items


def _fit(args: argparse.Namespace) -> int:
    from ..persistence import save
    from ..protocol import ProtocolAnomalyModel

    _, items = _read(args.inputs)
    model = ProtocolAnomalyModel(mode=args.mode, contamination=args.contamination).fit(items)
    save(model, args.model)
    print(f"trained on {model.n_samples_seen_} requests, {len(model.node_keys_)} hierarchy nodes -> {args.model}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from ..persistence import load

    model = load(args.model)
    lines, items = _read(args.inputs)
    explanations = model.explain(items, top_k=args.top_k)
    threshold = 1.0 - float(model.contamination)
    records = []
    for lineno, exp in zip(lines, explanations):
        anomaly = exp.threat_score > threshold
        if args.alerts_only and not anomaly:
            continue
        records.append({"line": lineno, "threat_score": round(exp.threat_score, 6), "anomaly": bool(anomaly),
                        "reasons": [{"field": c.name, "why": c.value, "weight": round(c.weight, 3)}
                                    for c in exp.contributions],
                        "fallback": exp.fallback})

    def text(r):
        head = f"line {r['line']}: {'ANOMALY' if r['anomaly'] else 'normal'} {r['threat_score']:.4f}"
        return "\n".join([head] + [f"    {x['weight']:8.1f}  {x['field']}: {x['why']}" for x in r["reasons"]])

    write_records(records, args, text=text)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("protocol", help="model normal application-protocol traffic, flag and explain "
                                   "unlikely requests")
    sub = parser.add_subparsers(dest="protocol_command", metavar="ACTION", required=True)
    fit = sub.add_parser("fit", help="train on normal requests (JSON lines)")
    fit.add_argument("inputs", nargs="*", help="JSON-lines files (default: standard input)")
    fit.add_argument("--model", required=True, help="where to save the model (.smd)")
    fit.add_argument("--mode", choices=("http", "raw"), default="http")
    fit.add_argument("--contamination", type=float, default=0.01, help="target false-positive rate")
    fit.set_defaults(func=_fit)
    score = sub.add_parser("score", help="score and explain requests (JSON lines)")
    score.add_argument("inputs", nargs="*", help="JSON-lines files (default: standard input)")
    score.add_argument("--model", required=True, help="a model saved by `protocol fit`")
    score.add_argument("--top-k", type=int, default=3, help="reasons per request")
    score.add_argument("--alerts-only", action="store_true", help="print only requests flagged as anomalies")
    add_output_options(score)
    score.set_defaults(func=_score)
