"""``secml-detect hybrid``: fit from a config, score events into alerts, apply verdicts."""

from __future__ import annotations

import argparse
import json
import sys

from ._output import add_output_options, read_jsonl, write_records


def register(subparsers) -> None:
    parser = subparsers.add_parser("hybrid", help="hybrid detector: fit, alerts, feedback, promote")
    sub = parser.add_subparsers(dest="hybrid_command", metavar="ACTION", required=True)

    fit = sub.add_parser("fit", help="fit a hybrid detector from a config and an event file")
    fit.add_argument("--config", required=True, help="JSON or YAML config (see docs: hybrid detector)")
    fit.add_argument("--output", "-o", required=True, help="model file to write (.smd)")
    fit.add_argument("--label-field", default=None, help="event field holding 0/1 labels (optional)")
    fit.add_argument("events", nargs="*", help="JSON Lines event files (default: stdin)")
    fit.set_defaults(func=_fit)

    alerts = sub.add_parser("alerts", help="score JSON Lines events and print ranked alerts")
    alerts.add_argument("--model", "-m", required=True)
    alerts.add_argument("--threshold", type=float, default=None)
    alerts.add_argument("--top", type=int, default=None)
    alerts.add_argument("--save", default=None, help="write the model back with its alert log (for feedback)")
    add_output_options(alerts)
    alerts.add_argument("events", nargs="*")
    alerts.set_defaults(func=_alerts)

    fb = sub.add_parser("feedback", help="apply analyst verdicts (JSON Lines: alert_id, verdict, note)")
    fb.add_argument("--model", "-m", required=True)
    fb.add_argument("--output", "-o", required=True, help="model file to write after learning")
    fb.add_argument("--events", action="append", default=[], help="event file to look alert ids up in")
    fb.add_argument("--analyst", default="analyst")
    fb.add_argument("--promote", action="store_true", help="promote confirmed alerts to signatures")
    fb.add_argument("verdicts", nargs="*")
    fb.set_defaults(func=_feedback)

    export = sub.add_parser("export", help="export the live signatures (STIX 2.1 or IOC lists)")
    export.add_argument("--model", "-m", required=True)
    export.add_argument("--format", choices=("stix", "ioc"), default="stix")
    export.set_defaults(func=_export)


def _events(paths):
    return [obj for _, obj in read_jsonl(paths)]


def _fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..persistence import save
    from ..hybrid.config import build_from_config, load_config

    config = load_config(args.config)
    detector = build_from_config(config, base_dir=Path(args.config).parent)
    events = _events(args.events)
    labels = None
    if args.label_field:
        labels = [float(e.pop(args.label_field)) if args.label_field in e else float("nan") for e in events]
    detector.fit(events, labels)
    save(detector, args.output, metadata={"config": config})
    print(f"fitted on {len(events)} events; wrote {args.output}", file=sys.stderr)
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from ..persistence import load, save

    detector = load(args.model)
    alerts = detector.alerts(_events(args.events), threshold=args.threshold, top=args.top)
    write_records((a.to_dict() for a in alerts), args, text=str)
    if args.save:
        save(detector, args.save)
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from ..persistence import load, save

    detector = load(args.model)
    records = _events(args.verdicts)
    events = _events(args.events) if args.events else None
    detector.feedback([r["alert_id"] for r in records], [r["verdict"] for r in records], events=events,
                      notes=[r.get("note", "") for r in records], analyst=args.analyst)
    promoted = detector.promote() if args.promote else []
    save(detector, args.output)
    print(f"applied {len(records)} verdicts, promoted {len(promoted)} indicators; wrote {args.output}", file=sys.stderr)
    for p in promoted:
        print(json.dumps(p, default=str))
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..persistence import load

    detector = load(args.model)
    json.dump(detector.export_signatures(args.format), sys.stdout, default=str, indent=1)
    sys.stdout.write("\n")
    return 0
