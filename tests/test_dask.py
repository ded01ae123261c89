"""Dask integration on a LocalCluster started by the test (2 worker processes)."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from secml_detect import ByteFrequencyModel, HybridDetector  # noqa: E402
from secml_detect.dask import fit_merged, partial_fit_partitions, score_partitions  # noqa: E402


def _frame(n=2000, seed=0):
    rng = np.random.RandomState(seed)
    payloads = [f"id={rng.randint(10**6)}&user=u{rng.randint(100)}&q={'x' * rng.randint(1, 9)}" for _ in range(n)]
    payloads[::97] = ["id=1' OR '1'='1' --"] * len(payloads[::97])
    return pd.DataFrame({"payload": payloads, "service": "shop"})


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_distributed_scores_equal_single_process(client):
    frame = _frame()
    model = ByteFrequencyModel().fit(frame.payload.tolist()[:1000])
    ddf = dd.from_pandas(frame, npartitions=4)
    distributed_scores = score_partitions(model, ddf, column="payload").compute()
    np.testing.assert_array_equal(distributed_scores.to_numpy(), model.threat_score(frame.payload.tolist()))
    assert distributed_scores.index.equals(frame.index)


def test_hybrid_scores_whole_rows(client):
    frame = _frame(600)
    hd = HybridDetector([("payload", ByteFrequencyModel(), "payload")], random_state=0).fit(frame.iloc[:300])
    got = score_partitions(hd, dd.from_pandas(frame, npartitions=3)).compute().to_numpy()
    np.testing.assert_array_equal(got, hd.threat_score(frame))


def test_merged_fit_equals_single_fit(client):
    frame = _frame(3000, seed=1)
    single = ByteFrequencyModel().fit(frame.payload.tolist())
    merged = fit_merged(ByteFrequencyModel(), dd.from_pandas(frame, npartitions=5), column="payload", split_every=2)
    np.testing.assert_allclose(merged.mean_, single.mean_, rtol=1e-12)
    np.testing.assert_allclose(merged.std_, single.std_, rtol=1e-9, atol=1e-15)
    assert merged.n_samples_seen_ == single.n_samples_seen_
    probe = frame.payload.tolist()[:200]
    np.testing.assert_allclose(merged.threat_score(probe), single.threat_score(probe), atol=1e-9)


def test_streaming_partial_fit_matches_moments():
    frame = _frame(1000, seed=2)
    streamed = partial_fit_partitions(ByteFrequencyModel(), dd.from_pandas(frame, npartitions=4), column="payload")
    single = ByteFrequencyModel().fit(frame.payload.tolist())
    np.testing.assert_allclose(streamed.mean_, single.mean_, rtol=1e-12)


def test_unmergeable_model_is_refused():
    with pytest.raises(TypeError, match="cannot be merged"):
        fit_merged(HybridDetector(), dd.from_pandas(_frame(10), npartitions=1))


def test_repeated_scoring_calls_share_nothing(client):
    frame = _frame(400)
    model = ByteFrequencyModel().fit(frame.payload.tolist())
    ddf = dd.from_pandas(frame, npartitions=2)
    first = score_partitions(model, ddf, column="payload").compute()
    second = score_partitions(model, ddf, column="payload").compute()
    np.testing.assert_array_equal(first.to_numpy(), second.to_numpy())
