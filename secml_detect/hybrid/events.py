"""Event tables: a pandas DataFrame or a list of mappings, one row an event."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["as_event_list", "is_missing", "column_values", "event_fingerprint", "jsonable_event"]


def is_missing(value: Any) -> bool:
    """``None``, NaN, NaT and empty strings count as missing values."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and value == "":
        return True
    try:  # pandas NA / NaT without importing pandas
        return bool(value != value)  # noqa: PLR0124
    except (TypeError, ValueError):
        return False


def as_event_list(events: Any) -> tuple[list[dict], list[int]]:
    """Rows as plain dicts, plus the indices of rows that are not mappings.

    Rows that are not mappings become empty events (so the batch keeps its
    length and order) and are reported for the bad-item policy.
    """
    if hasattr(events, "to_dict") and hasattr(events, "columns"):
        records = events.to_dict("records")
    elif isinstance(events, Mapping):
        raise TypeError("expected a table of events (a DataFrame or a list of mappings), got one mapping")
    else:
        records = list(events)
    rows: list[dict] = []
    bad: list[int] = []
    for i, row in enumerate(records):
        if isinstance(row, Mapping):
            rows.append({str(k): v for k, v in row.items() if not is_missing(v)})
        else:
            rows.append({})
            bad.append(i)
    return rows, bad


def column_values(rows: list[dict], column: str) -> tuple[list[int], list[Any]]:
    """Indices of rows where ``column`` is present, and those values."""
    idx = [i for i, row in enumerate(rows) if column in row]
    return idx, [rows[i][column] for i in idx]


def jsonable_event(row: Mapping) -> dict:
    """A JSON-serialisable copy of an event (bytes as text, other objects as str)."""
    out = {}
    for key, value in row.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, bytes):
            out[key] = value.decode("utf-8", "backslashreplace")
        elif isinstance(value, (list, tuple)):
            out[key] = [v if isinstance(v, (str, int, float, bool)) else str(v) for v in value]
        else:
            out[key] = str(value)
    return out


def event_fingerprint(row: Mapping) -> str:
    """Stable content hash of an event: identical events share an alert id."""
    canonical = json.dumps(jsonable_event(row), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]
