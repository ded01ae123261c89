"""Shared fixtures: access to the shared datasets, skipping with a reason when absent."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from secml_detect.datasets import DatasetNotFoundError, shared_dataset_path

# Kernel property tests: enough examples to find edge cases, bounded for CI on 2 cores.
# The default run is derandomized so CI is reproducible; "thorough" explores with fresh randomness.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def shared_dataset():
    """Return a function ``(name, filename=None) -> Path`` that skips when the data is absent."""

    def _get(name: str, filename: str | None = None):
        try:
            return shared_dataset_path(name, filename)
        except DatasetNotFoundError as exc:
            pytest.skip(f"shared dataset unavailable: {exc}")

    return _get
