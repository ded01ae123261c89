"""The one place for numba flags.

``fastmath`` is deliberately off: kernel results decide alerts and must be
reproducible. ``cache=True`` keeps import-to-first-score fast after the first
run; ``nogil=True`` lets ``n_jobs`` scoring use threads.

Set ``SECML_DETECT_DISABLE_JIT=1`` (or numba's own ``NUMBA_DISABLE_JIT=1``) to
run kernels as plain Python, for debugging and coverage.
"""

from __future__ import annotations

import os

import numba

JIT_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}

_DISABLED = os.environ.get("SECML_DETECT_DISABLE_JIT", "") not in ("", "0")


def njit(*args, **overrides):
    """``numba.njit`` with the project's flags (usable with or without arguments)."""
    options = {**JIT_OPTIONS, **overrides}
    if _DISABLED:
        if args and callable(args[0]):
            return args[0]
        return lambda fn: fn
    if args and callable(args[0]):
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)
