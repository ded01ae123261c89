"""Scale-out: scoring throughput with 1 and 2 Dask workers vs one process, and per-partition overhead.

Data: 400,000 synthetic HTTP parameter strings (seeded); model: ByteFrequencyModel
fitted on 20,000 of them. Workers are processes of a LocalCluster on this
machine (1 thread each). Overhead per partition: wall time to score 64 tiny
partitions (10 rows each) divided by 64. Threads: the same model with
``n_jobs=1`` and ``n_jobs=2`` in one process (the kernel releases the GIL).
"""

from __future__ import annotations

import time

import numpy as np

from _common import write_result
from secml_detect import ByteFrequencyModel


def main() -> None:
    import dask.dataframe as dd
    import distributed
    import pandas as pd

    from secml_detect.dask import score_partitions

    rng = np.random.RandomState(0)
    n = 400_000
    payloads = [f"id={rng.randint(10**6)}&user=u{rng.randint(1000)}&q={'ab' * rng.randint(1, 20)}" for _ in range(n)]
    frame = pd.DataFrame({"payload": payloads})
    model = ByteFrequencyModel().fit(payloads[:20_000])
    rows = []

    for jobs in (1, 2):
        model.set_params(n_jobs=jobs)
        model.threat_score(payloads[:1000])
        start = time.perf_counter()
        model.threat_score(payloads)
        rows.append({"system": f"one process, n_jobs={jobs} threads", "task": "score 400k payloads",
                     "items_per_s": n / (time.perf_counter() - start)})
    model.set_params(n_jobs=None)
    single = rows[0]["items_per_s"]

    for workers in (1, 2):
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40)
        with distributed.Client(cluster):
            ddf = dd.from_pandas(frame, npartitions=16)
            score_partitions(model, ddf, column="payload").compute()  # warm-up: JIT on the workers
            start = time.perf_counter()
            score_partitions(model, ddf, column="payload").compute()
            rate = n / (time.perf_counter() - start)
            tiny = dd.from_pandas(frame.iloc[:640], chunksize=10)
            score_partitions(model, tiny, column="payload").compute()
            start = time.perf_counter()
            score_partitions(model, tiny, column="payload").compute()
            overhead_ms = (time.perf_counter() - start) / 64 * 1000
        cluster.close()
        rows.append({"system": f"Dask LocalCluster, {workers} worker(s)", "task": "score 400k payloads",
                     "items_per_s": rate, "metric": "overhead per partition (ms)", "value": overhead_ms,
                     "ratio_to_peer": rate / single})
    write_result("bench_dask", "Scale-out: threads and Dask workers", rows, notes=__doc__.split("\n\n", 1)[1] +
                 "\nRatio: items/s relative to one process with one thread. This machine has 2 cores, "
                 "shared with the scheduler and the client process.")


if __name__ == "__main__":
    main()
