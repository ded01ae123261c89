"""Helpers shared by the benchmark scripts: timing, peak memory, result files."""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import threading
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


class Measure:
    """Wall time and peak memory of a block (``tracemalloc`` peak for numpy/Python
    allocations plus the RSS growth, which also sees native libraries)."""

    seconds: float = 0.0
    peak_mb: float = 0.0

    def items_per_s(self, n: int) -> float:
        return n / self.seconds if self.seconds > 0 else float("inf")


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover - non-Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def measure(trace_python: bool = True):
    """``with measure() as m: ...`` then read ``m.seconds`` and ``m.peak_mb``."""
    m = Measure()
    base = _rss_mb()
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if trace_python:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        traced = 0.0
        if trace_python:
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        m.peak_mb = max(peak[0] - base, traced)


def best_of(fn, repeat: int = 3, clock=time.perf_counter) -> float:
    """Smallest time of ``repeat`` calls (after the first, JIT-warming call).

    ``clock=time.process_time`` measures CPU time instead of wall time: on a
    shared machine it is the one-core cost of single-threaded code.
    """
    fn()
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def best_of_interleaved(fns: list, repeat: int = 3, clock=time.perf_counter, rotate: bool = False) -> list[float]:
    """Smallest time of each function over ``repeat`` rounds that call them in turn (after one warm-up each).

    Interleaving keeps the load of a shared machine alike for ours and the
    peer; ``clock=time.process_time`` for CPU time, as in :func:`best_of`.
    ``rotate`` starts round ``r`` at function ``r``, so that no function
    always follows the same one (a call that churns memory slows the next).
    """
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for r in range(repeat):
        first = r % len(fns) if rotate else 0
        for k in list(range(first, len(fns))) + list(range(first)):
            fn = fns[k]
            start = clock()
            fn()
            best[k] = min(best[k], clock() - start)
    return best


def cpu_seconds(fn, repeat: int = 3) -> float:
    """Smallest CPU time of ``repeat`` calls, after a warm-up call."""
    return best_of(fn, repeat, clock=time.process_time)


def chosen_sections(argv: list[str] | None, sections: tuple[str, ...]) -> list[str]:
    """Section names given on the command line (all of ``sections`` when none), checked."""
    names = list(argv if argv is not None else sys.argv[1:]) or list(sections)
    unknown = set(names) - set(sections)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; choose from {sections}")
    return names


def with_kept_rows(name: str, rows: list[dict], names: list[str], sections: tuple[str, ...], legacy) -> list[dict]:
    """``rows`` of the sections run plus the other sections' rows of the existing result file, in section order.

    ``legacy(row)`` names the section of a row written before rows carried one.
    """
    path = RESULTS_DIR / f"{name}.json"
    if len(names) < len(sections) and path.exists():
        old = json.loads(path.read_text())
        rows = [r for r in old["rows"] if r.get("section", legacy(r)) not in names] + rows
    return sorted(rows, key=lambda r: sections.index(r.get("section", legacy(r))))  # stable within a section


def write_result(name: str, title: str, rows: list[dict], *, notes: str = "", sections: list[str] | None = None,
                 script: str | None = None) -> Path:
    """Write ``results/<name>.json``; ``script`` names the bench script when it is not ``<name>.py``."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"name": name, "title": title, "machine": machine(), "notes": notes, "rows": rows,
               "sections": sections or [], "date": time.strftime("%Y-%m-%d"), "script": script or name}
    path.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print(f"wrote {path}")
    return path


def fitted_date(dates, preferred, *, after_days: int = 0, min_share: float = 0.05, fallback_quantile: float = 0.8):
    """``preferred`` (a cut-off or a replay's first day) when the dated items fit it, else a date they do fit.

    The benchmarks' dates were set for the development data. Data of the same
    form from another period (a later snapshot, an evaluation set) gets the
    same protocol at a date of its own instead of an empty split: ``preferred``
    is kept when at least ``min_share`` of the items lie before it and the
    items reach ``after_days`` days past it (and ``min_share`` lie after it
    when ``after_days`` is 0); otherwise the date is the ``fallback_quantile``
    of the items' dates, moved back so that ``after_days`` days follow it. The
    change is printed.
    """
    import numpy as np

    dates = np.asarray(dates, dtype="datetime64[s]")
    dates = dates[~np.isnat(dates)]
    preferred = np.datetime64(preferred, "s")
    span = np.timedelta64(after_days, "D")
    before = float(np.mean(dates < preferred)) if dates.size else 0.0
    fits = before >= min_share and (dates.max() >= preferred + span - np.timedelta64(1, "D") if after_days
                                    else 1.0 - before >= min_share)
    if fits or not dates.size:
        return preferred
    chosen = np.quantile(dates.astype(np.int64), fallback_quantile).astype("datetime64[s]")
    chosen = min(chosen, dates.max() - span).astype("datetime64[D]").astype("datetime64[s]")
    print(f"note: the data's dates ({dates.min()} .. {dates.max()}) do not fit {preferred}; using {chosen}",
          flush=True)
    return chosen
