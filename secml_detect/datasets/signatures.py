"""Bundled signature samples: Tor exit nodes and two SigmaHQ rules.

See ``secml_detect/datasets/data/README.md`` for sources and licences.
"""

from __future__ import annotations

from pathlib import Path

from . import bundled_path

__all__ = ["load_tor_exit_nodes", "tor_exit_nodes_path", "sigma_sample_dir"]


def tor_exit_nodes_path() -> Path:
    """Path of the bundled Tor exit-node list (one IP a line, ``#`` comments)."""
    return Path(bundled_path("tor_exit_nodes_sample.txt"))


def load_tor_exit_nodes() -> list[str]:
    """The 1,013 Tor exit nodes (first seen before 2023) still listed at the last commit of the source list.

    Examples
    --------
    >>> ips = load_tor_exit_nodes()
    >>> len(ips) > 1000, ":" in ips[-1]
    (True, True)
    """
    with open(tor_exit_nodes_path(), encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip() and not line.startswith("#")]


def sigma_sample_dir() -> Path:
    """Folder holding two bundled SigmaHQ rules (DRL 1.1)."""
    return Path(bundled_path("sigma_sample"))
