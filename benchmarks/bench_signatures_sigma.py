"""Sigma and YARA rule sets: coverage (share that loads and evaluates / compiles) and Sigma events/s.

Data: ``../shared/datasets/sigma_rules`` (SigmaHQ, 3,754 YAML files) and
``../shared/datasets/yara_signature_base`` (741 YARA files). Sigma rules are
parsed by pySigma and converted to the matcher's condition tree; "evaluates"
means the converted rule is compiled into the matcher and run on the event
table below without error. YARA files are compiled by YARA-X with the
THOR/LOKI external variables (filename, filepath, extension, filetype, owner)
defined as empty strings.

Events: 20,000 synthetic Windows process-creation events (seed 0; fields
Image, CommandLine, ParentImage, OriginalFileName, User, CurrentDirectory,
IntegrityLevel, and ``logsource`` = process_creation/windows so that rules of
other log sources are skipped) built from six common benign command lines, 2%
of them carrying a command-line fragment taken from a loaded rule so that
rules fire. No Python
Sigma evaluator exists to compare with (pySigma converts rules to backend
queries, it does not evaluate events), so events/s is reported on its own.
"""

from __future__ import annotations

import collections
import random
import time
from pathlib import Path

from _common import write_result
from secml_detect.datasets import shared_dataset_path
from secml_detect.signatures import Field, SignatureMatcher
from secml_detect.signatures.sigma import load_sigma
from secml_detect.signatures.yara import load_yara_file

BENIGN = [
    ("C:\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs -p -s Schedule", "C:\\Windows\\System32\\services.exe"),
    ("C:\\Windows\\System32\\notepad.exe", "notepad.exe C:\\Users\\bob\\notes.txt", "C:\\Windows\\explorer.exe"),
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", "chrome.exe --type=renderer", "C:\\Windows\\explorer.exe"),
    ("C:\\Windows\\System32\\cmd.exe", "cmd.exe /c dir", "C:\\Windows\\explorer.exe"),
    ("C:\\Windows\\System32\\conhost.exe", "conhost.exe 0xffffffff -ForceV1", "C:\\Windows\\System32\\cmd.exe"),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE", "WINWORD.EXE /n report.docx", "C:\\Windows\\explorer.exe"),
]


def _fragments(rules, rng: random.Random, k: int = 200) -> list[str]:
    frags = []

    def walk(c):
        if isinstance(c, Field):
            if c.field == "CommandLine" and c.op == "contains":
                frags.extend(str(v) for v in c.values)
        for child in getattr(c, "args", ()) or ():
            walk(child)
        if hasattr(c, "arg"):
            walk(c.arg)

    for r in rules:
        walk(r.condition)
    rng.shuffle(frags)
    return frags[:k]


def main() -> None:
    rows: list = []
    sigma_root = shared_dataset_path("sigma_rules")
    files = sorted(p for p in Path(sigma_root).rglob("*") if p.suffix in (".yml", ".yaml"))
    t0 = time.perf_counter()
    rules, errors = load_sigma(files)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = SignatureMatcher(rules=rules).fit()
    fit_s = time.perf_counter() - t0

    rng = random.Random(0)
    frags = _fragments(rules, rng)
    events = []
    for i in range(20_000):
        image, cmd, parent = rng.choice(BENIGN)
        if rng.random() < 0.02 and frags:
            cmd = f"{cmd} {rng.choice(frags)}"
        events.append({"Image": image, "CommandLine": cmd, "ParentImage": parent,
                       "OriginalFileName": image.rsplit("\\", 1)[-1], "User": "CORP\\bob",
                       "CurrentDirectory": "C:\\Users\\bob\\", "IntegrityLevel": "Medium",
                       "logsource": {"category": "process_creation", "product": "windows"}})
    m.match(events[:50])
    t0 = time.perf_counter()
    hits = m.match(events)
    match_s = time.perf_counter() - t0
    failed_files = {e["source"] for e in errors}
    reasons = collections.Counter(e["reason"].split(":")[0] + ": " + e["reason"].split(":", 1)[-1].strip()[:80]
                                  for e in errors)
    rows.append({"system": "SignatureMatcher (pySigma -> condition tree)", "task": "SigmaHQ rules load + evaluate",
                 "metric": "coverage (files)", "value": 1 - len(failed_files) / len(files),
                 "files": len(files), "rules_loaded": len(rules), "files_failed": len(failed_files),
                 "load_s": load_s, "fit_s": fit_s})
    rows.append({"system": "SignatureMatcher (pySigma -> condition tree)", "task": "20k process events x SigmaHQ",
                 "metric": "events/s", "value": len(events) / match_s,
                 "events_with_hits": sum(bool(h) for h in hits)})

    yara_root = Path(shared_dataset_path("yara_signature_base")) / "yara"
    yfiles = sorted(p for p in yara_root.rglob("*") if p.suffix in (".yar", ".yara"))
    t0 = time.perf_counter()
    yerrors = []
    for f in yfiles:
        yerrors.extend(load_yara_file(f)[1])
    rows.append({"system": "SignatureMatcher (YARA-X)", "task": "signature-base YARA files compile",
                 "metric": "coverage (files)", "value": 1 - len(yerrors) / len(yfiles), "files": len(yfiles),
                 "files_failed": len(yerrors), "compile_s": time.perf_counter() - t0})
    yreasons = collections.Counter(e["reason"][:100] for e in yerrors)
    sections = ["Sigma load failures: " + "; ".join(f"{n} x {r}" for r, n in reasons.most_common()) if reasons
                else "Sigma load failures: none",
                "YARA compile failures: " + "; ".join(f"{n} x {r}" for r, n in yreasons.most_common()) if yreasons
                else "YARA compile failures: none"]
    for r in rows:
        print(r)
    print("\n".join(sections))
    write_result("bench_signatures_sigma", "SignatureMatcher: Sigma / YARA coverage and Sigma events/s", rows,
                 notes=__doc__.split("\n\n", 1)[1], sections=sections)


if __name__ == "__main__":
    main()
