"""The long fuzz run: every property and fuzz test with 1,000 examples each.

``HYPOTHESIS_PROFILE=thorough`` raises hypothesis' examples per test from 60
(the default test run) to 1,000. Selected: the kernel-vs-reference property
tests, the parsers (HTTP, IPv4 notations, ragged buffers), hostile model
files, hostile event tables and hostile CLI input. The row reports how many
tests ran, how many failed, and the wall time; failures print their
minimal failing example in the log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from _common import REPO_ROOT, write_result

SELECTION = ["tests/test_fuzz_persistence.py", "tests/test_fuzz_cli.py", "tests/test_netaddr.py", "tests/test_ragged.py",
             "tests/test_kernels_bytes.py", "tests/test_protocol_parsing.py", "tests/test_url_kernels.py",
             "tests/test_ip_kernels.py", "tests/test_sequence_kernels.py", "tests/test_signatures.py",
             "tests/test_hierarchy.py", "tests/test_base.py", "tests/test_protocol_kernels.py",
             "tests/test_signatures_kernels.py",
             "tests/test_hybrid.py::test_hostile_event_tables_keep_length_and_never_crash"]


def main() -> None:
    selected = [t for t in SELECTION if (REPO_ROOT / t.split("::")[0]).exists()]
    env = {**os.environ, "HYPOTHESIS_PROFILE": "thorough"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "3600", *selected],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print(proc.stdout[-3000:])
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|error|skipped)", summary)}
    rows = [{"system": "hypothesis, 1,000 examples per test", "task": f"{len(selected)} test files",
             "metric": "tests passed / failed", "value": f"{counts.get('passed', 0)} / {counts.get('failed', 0) + counts.get('error', 0)}",
             "items_per_s": None}]
    write_result("bench_fuzz", "Long fuzz run", rows, notes=__doc__.split("\n\n", 1)[1],
                 sections=[f"Summary line: `{summary}` ({seconds:.0f} s). Command: "
                           "`HYPOTHESIS_PROFILE=thorough python -m pytest " + " ".join(selected) + "`."])
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
