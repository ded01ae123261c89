"""``secml-detect match``: rules + events in JSON Lines -> hits in JSON Lines."""

from __future__ import annotations

import argparse
import json
import sys
from itertools import islice

from ._output import add_output_options, read_jsonl, write_records

_CHUNK = 10_000


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "match",
        help="match events (JSON Lines) against signatures: IOC lists, Sigma, YARA, JSON rules",
        description=(
            "Match events against signature rules and print the explained hits. Rule files are read by "
            "suffix: Sigma (.yml/.yaml), YARA (.yar/.yara), JSON Lines rules (.jsonl), anything else a "
            "plain IOC list (kinds guessed per line; the ioc_signature_base formats are recognised by name). "
            "A directory is read recursively. Rules that cannot be loaded are reported on stderr."),
    )
    p.add_argument("events", nargs="*", help="JSON Lines files of events (default: standard input)")
    p.add_argument("-r", "--rules", action="append", default=[], metavar="PATH", help="rule file or directory (repeatable)")
    p.add_argument("--ioc", action="append", default=[], metavar="KIND=PATH",
                   help="IOC list of one kind (ip, domain, url, hash, path, process, pattern), repeatable")
    p.add_argument("--model", metavar="FILE", help="a saved SignatureMatcher (.smd) to start from")
    p.add_argument("--all", action="store_true", help="also print events without hits")
    p.add_argument("--export", choices=("stix", "ioc"), help="print the loaded indicators as STIX 2.1 or IOC lists and exit")
    add_output_options(p)
    p.set_defaults(func=run)


def _build(args):
    from ..signatures import SignatureMatcher
    from ..signatures.iocfiles import load_ioc_file

    if args.model:
        from ..persistence import load

        matcher = load(args.model)
    else:
        matcher = SignatureMatcher(rules=list(args.rules)).fit()
        args.rules = []
    for path in args.rules:  # on top of a loaded model
        from ..signatures.iocfiles import load_rule_source

        rules, errors = load_rule_source(path)
        matcher.load_errors_.extend(errors)
        for r in rules:
            matcher.add_rule(r)
    for spec in args.ioc:
        kind, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit(f"--ioc expects KIND=PATH, got {spec!r}")
        rules, errors = load_ioc_file(path, kind=kind, format="plain")
        matcher.load_errors_.extend(errors)
        for r in rules:
            matcher.add_rule(r)
    return matcher


def run(args: argparse.Namespace) -> int:
    matcher = _build(args)
    for err in matcher.load_errors_:
        line = f":{err['line']}" if err.get("line") else ""
        print(f"secml-detect match: skipped {err['source']}{line}: {err['reason']}", file=sys.stderr)
    if args.export == "stix":
        json.dump(matcher.to_stix(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if args.export == "ioc":
        json.dump(matcher.to_ioc_lists(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0

    def records():
        stream = read_jsonl(args.events)
        index = 0
        while True:
            chunk = list(islice(stream, _CHUNK))
            if not chunk:
                return
            for (lineno, event), hits in zip(chunk, matcher.match([e for _, e in chunk])):
                if hits or args.all:
                    yield {"index": index, "line": lineno,
                           "threat_score": max((h.score for h in hits), default=0.0),
                           "hits": [h.to_dict() for h in hits]}
                index += 1

    def text(rec):
        if not rec["hits"]:
            return f"{rec['index']}\t0.00\t-"
        return f"{rec['index']}\t{rec['threat_score']:.2f}\t" + "; ".join(
            f"{h['rule_id']} [{h['severity']}] {h['field']}={h['value']!r}" for h in rec["hits"])

    import warnings

    from ..exceptions import BadInputWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BadInputWarning)  # non-object lines simply match nothing
        write_records(records(), args, text=text)
    return 0
