"""Scale-out with Dask: score partitions in parallel, stream partial_fit, merge fits.

Needs the ``dask`` extra (``pip install 'secml_detect[dask]'``).

* :func:`score_partitions` scores a ``dask.dataframe`` partition by partition
  with any fitted detector (or a :class:`~secml_detect.HybridDetector` over
  whole rows). With a ``dask.distributed`` client, the model is broadcast to
  the workers once, not sent again with every partition.
* :func:`partial_fit_partitions` trains an online detector by streaming the
  partitions through ``partial_fit`` in order.
* :func:`fit_merged` fits count-based detectors on each partition in parallel
  and merges their sufficient statistics with a tree reduction; the result
  equals a single fit on all the data (tested). A detector takes part by
  implementing ``_partition_stats(X)``, ``_combine_stats(a, b)`` and
  ``_set_stats(stats)``; a second pass scores the partitions to calibrate.

The same code runs on a laptop (``LocalCluster``) and on a real cluster: only
the client's address changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

__all__ = ["score_partitions", "partial_fit_partitions", "fit_merged"]


def _require_dask():
    try:
        import dask
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("secml_detect.dask needs Dask: pip install 'secml_detect[dask]'") from exc
    return dask, dd


def _client():
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def _items(partition, column: str | None):
    return partition if column is None else partition[column].tolist()


def _score_partition(partition, model, column, method):
    import pandas as pd

    values = getattr(model, method)(_items(partition, column))
    return pd.Series(np.asarray(values, dtype=np.float64), index=partition.index, name=method)


def score_partitions(model: Any, ddf, *, column: str | None = None, method: str = "threat_score"):
    """Score every row of a Dask DataFrame, partition by partition.

    Parameters
    ----------
    model : fitted detector
    ddf : dask.dataframe.DataFrame
    column : str, optional
        Column holding the items (URLs, payloads...). ``None`` passes whole
        partitions (for :class:`~secml_detect.HybridDetector`).
    method : str, default="threat_score"
        Scoring method to call (``score_samples``, ``predict``...).

    Returns
    -------
    dask.dataframe.Series
        Aligned with ``ddf``'s index; call ``.compute()``.
    """
    _require_dask()
    client = _client()
    # hash=False: a fresh key per call, so a second call never races the release of the first.
    shipped = client.scatter(model, broadcast=True, hash=False) if client is not None else model
    return ddf.map_partitions(_score_partition, shipped, column, method, meta=(method, "f8"))


def partial_fit_partitions(model: Any, ddf, *, column: str | None = None, label_column: str | None = None,
                           verbose: bool = False):
    """Train an online detector by streaming partitions through ``partial_fit``.

    Partitions are computed one at a time (in order), so memory holds one
    partition. Returns ``model``.
    """
    _require_dask()
    for i in range(ddf.npartitions):
        part = ddf.get_partition(i).compute()
        if label_column is None:
            model.partial_fit(_items(part, column))
        else:
            model.partial_fit(_items(part, column), part[label_column].to_numpy())
        if verbose:
            print(f"partial_fit: partition {i + 1}/{ddf.npartitions} ({len(part)} rows)", flush=True)
    return model


def _stats(partition, template, column):
    return template._partition_stats(_items(partition, column))


def _combine(template, *stats):
    out = stats[0]
    for s in stats[1:]:
        out = template._combine_stats(out, s)
    return out


def _score_samples(partition, model, column):
    return np.asarray(model.score_samples(_items(partition, column)), dtype=np.float64)


def fit_merged(model: Any, ddf, *, column: str | None = None, split_every: int = 8):
    """Fit a count-based detector on partitions in parallel and merge exactly.

    Parameters
    ----------
    model : detector implementing the sufficient-statistics protocol
    ddf : dask.dataframe.DataFrame
    column : str, optional
    split_every : int, default=8
        Fan-in of the tree reduction.

    Returns
    -------
    A fitted clone of ``model``.
    """
    dask, _ = _require_dask()
    for name in ("_partition_stats", "_combine_stats", "_set_stats"):
        if not hasattr(model, name):
            raise TypeError(f"{type(model).__name__} cannot be merged across partitions (no {name})")
    template = clone(model)
    if hasattr(template, "_validate_params"):
        template._validate_params()
    parts = ddf.to_delayed()
    delayed = dask.delayed
    level = [delayed(_stats)(p, template, column) for p in parts]
    while len(level) > 1:
        level = [delayed(_combine)(template, *level[i : i + split_every]) for i in range(0, len(level), split_every)]
    (stats,) = dask.compute(level[0])
    fitted = clone(model)._set_stats(stats)
    if hasattr(fitted, "_fit_threshold"):
        scores = dask.compute(*[delayed(_score_samples)(p, fitted, column) for p in parts])
        fitted._fit_threshold(np.concatenate(scores) if scores else np.zeros(0))
    return fitted
