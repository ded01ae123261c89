"""Where the data lives: the shared public datasets and the bundled samples.

The full datasets are not shipped with the package. They are looked up

0. in the folder given to :func:`data_home` inside its ``with`` block,
1. in the folder named by the ``SECML_DETECT_DATA`` environment variable,
2. in ``../shared/datasets`` beside a source checkout of the project (or
   ``../../shared/datasets`` for a worktree one level deeper),
3. in ``./shared/datasets`` and ``../shared/datasets`` from the working directory,

and a :class:`DatasetNotFoundError` says where it looked when none exists.
Loaders find a dataset's files by pattern (:func:`dataset_files`), not by
one exact name, so a later snapshot or an evaluation set of the same form
(say ``openphish_firstseen_from_2026-03.csv`` beside the ``..._before_...``
file, or DeepLog's ``hdfs_test_normal``) is read the same way; the folder of
such an evaluation set is named by ``SECML_DETECT_EVAL_DATA``
(:func:`evaluation_data_home`).
Small, licence-compatible samples are bundled inside the package
(:func:`bundled_path`) so that the demo and the core tests run anywhere; their
sources are credited in ``secml_detect/datasets/data/README.md``.

Loaders for each domain live in submodules (for example
``secml_detect.datasets.urls``) and return plain lists / numpy arrays with
labels.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

__all__ = [
    "DatasetNotFoundError",
    "shared_data_home",
    "data_home",
    "dataset_files",
    "evaluation_data_home",
    "shared_dataset_path",
    "bundled_path",
    "has_shared_data",
]

ENV_VAR = "SECML_DETECT_DATA"
EVAL_ENV_VAR = "SECML_DETECT_EVAL_DATA"
_PACKAGE_DIR = Path(__file__).resolve().parent
_HOME_OVERRIDE: ContextVar[Path | None] = ContextVar("secml_detect_data_home", default=None)


class DatasetNotFoundError(FileNotFoundError):
    """A shared dataset is not available on this machine."""


def _candidates() -> list[Path]:
    if _HOME_OVERRIDE.get() is not None:
        return [_HOME_OVERRIDE.get()]
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


@contextmanager
def data_home(path) -> Iterator[Path]:
    """Read the datasets from ``path`` inside the ``with`` block.

    Every loader of :mod:`secml_detect.datasets` then reads that folder, and
    only that one: the way to score a model trained on the development data
    against an evaluation set of the same form.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, data_home(tmp) as home:
    ...     shared_data_home() == home
    True
    """
    path = Path(path)
    if not path.is_dir():
        raise DatasetNotFoundError(f"data home is not a folder: {path}")
    token = _HOME_OVERRIDE.set(path)
    try:
        yield path
    finally:
        _HOME_OVERRIDE.reset(token)


def evaluation_data_home() -> Path | None:
    """The evaluation-set folder named by ``SECML_DETECT_EVAL_DATA``, or None when unset."""
    value = os.environ.get(EVAL_ENV_VAR)
    if not value:
        return None
    path = Path(value)
    if not path.is_dir():
        raise DatasetNotFoundError(f"{EVAL_ENV_VAR} is not a folder: {path}")
    return path


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


def dataset_files(name: str, pattern: str = "*", *, exclude: str | None = None) -> list[Path]:
    """The files of dataset ``name`` matching the glob ``pattern``, sorted by name.

    ``MANIFEST.md`` and names containing ``exclude`` are left out.

    Raises
    ------
    DatasetNotFoundError
        When the dataset is absent or no file matches.
    """
    folder = shared_dataset_path(name)
    files = sorted(p for p in folder.glob(pattern)
                   if p.is_file() and p.name != "MANIFEST.md" and not (exclude and exclude in p.name))
    if not files:
        raise DatasetNotFoundError(f"no file matching {pattern!r} in {folder}")
    return files


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
