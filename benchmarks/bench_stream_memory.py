"""Bounded memory on a stream of 10,000,000 items (chunked scoring).

A generator yields 10 M synthetic HTTP parameter strings; ``iter_scores``
scores them in chunks of 65,536 with ByteFrequencyModel and keeps only a
running count of alerts. Peak RSS growth is compared with scoring the first
1 M items as one in-memory batch (the "peer": the naive way).
"""

from __future__ import annotations

import numpy as np

from _common import measure, write_result
from secml_detect import ByteFrequencyModel
from secml_detect.stream import iter_scores


def payloads(n: int):
    rng = np.random.RandomState(0)
    for i in range(n):
        yield f"id={i}&user=u{rng.randint(1000)}&page={i % 17}"


def main() -> None:
    model = ByteFrequencyModel().fit(list(payloads(20_000)))
    n_stream = 10_000_000
    with measure(trace_python=False) as m_stream:
        alerts = sum(int((s > 0.99).sum()) for s in iter_scores(model, payloads(n_stream)))
    n_batch = 1_000_000
    with measure(trace_python=False) as m_batch:
        batch = list(payloads(n_batch))
        model.threat_score(batch)
    rows = [
        {"system": "iter_scores (chunks of 65,536)", "task": f"{n_stream:,} items", "items_per_s": m_stream.items_per_s(n_stream),
         "peak_mem_mb": m_stream.peak_mb, "metric": "alerts at 0.99", "value": float(alerts)},
        {"system": "one in-memory batch (naive)", "task": f"{n_batch:,} items", "items_per_s": m_batch.items_per_s(n_batch),
         "peak_mem_mb": m_batch.peak_mb},
    ]
    write_result("bench_stream_memory", "Bounded memory on a 10 M-item stream", rows, notes=__doc__.split("\n\n", 1)[1])


if __name__ == "__main__":
    main()
