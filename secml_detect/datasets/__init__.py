"""Where the data lives: the shared public datasets and the bundled samples.

The full datasets are not shipped with the package. They are looked up

1. in the folder named by the ``SECML_DETECT_DATA`` environment variable,
2. in ``../shared/datasets`` beside a source checkout of the project (or
   ``../../shared/datasets`` for a worktree one level deeper),
3. in ``./shared/datasets`` and ``../shared/datasets`` from the working directory,

and a :class:`DatasetNotFoundError` says where it looked when none exists.
Small, licence-compatible samples are bundled inside the package
(:func:`bundled_path`) so that the demo and the core tests run anywhere; their
sources are credited in ``secml_detect/datasets/data/README.md``.

Loaders for each domain live in submodules (for example
``secml_detect.datasets.urls``) and return plain lists / numpy arrays with
labels.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "DatasetNotFoundError",
    "shared_data_home",
    "shared_dataset_path",
    "bundled_path",
    "has_shared_data",
]

ENV_VAR = "SECML_DETECT_DATA"
_PACKAGE_DIR = Path(__file__).resolve().parent


class DatasetNotFoundError(FileNotFoundError):
    """A shared dataset is not available on this machine."""


def _candidates() -> list[Path]:
    out = []
    if os.environ.get(ENV_VAR):
        out.append(Path(os.environ[ENV_VAR]))
    repo_root = _PACKAGE_DIR.parent.parent  # secml_detect/datasets -> repo root
    out.append(repo_root.parent / "shared" / "datasets")
    out.append(repo_root.parent.parent / "shared" / "datasets")  # a git worktree one level deeper
    cwd = Path.cwd()
    out += [cwd / "shared" / "datasets", cwd.parent / "shared" / "datasets"]
    return out


def shared_data_home() -> Path:
    """The folder holding the shared datasets.

    Raises
    ------
    DatasetNotFoundError
        With the list of places searched.
    """
    tried = _candidates()
    for path in tried:
        if path.is_dir():
            return path
    raise DatasetNotFoundError(
        "shared datasets not found; set SECML_DETECT_DATA to the folder holding them. Looked in: "
        + ", ".join(str(p) for p in tried)
    )


def has_shared_data(name: str | None = None) -> bool:
    """Whether the shared data (or the dataset ``name``) is available."""
    try:
        shared_dataset_path(name) if name else shared_data_home()
    except DatasetNotFoundError:
        return False
    return True


def shared_dataset_path(name: str, filename: str | None = None) -> Path:
    """Path of a shared dataset folder, or of one file inside it.

    Raises
    ------
    DatasetNotFoundError
        When the shared data or that dataset is absent.
    """
    path = shared_data_home() / name
    if filename is not None:
        path = path / filename
    if not path.exists():
        raise DatasetNotFoundError(f"dataset file not found: {path}")
    return path


def bundled_path(name: str) -> Path:
    """Path of a sample bundled in the package (``secml_detect/datasets/data``).

    Examples
    --------
    >>> bundled_path("README.md").name
    'README.md'
    """
    path = _PACKAGE_DIR / "data" / name
    if not path.exists():
        raise DatasetNotFoundError(f"no bundled sample named {name!r} in {path.parent}")
    return path
