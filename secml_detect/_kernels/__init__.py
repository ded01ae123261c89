"""Numba kernels over flat buffers (private).

One module per domain; every kernel takes only arrays and scalars, and every
kernel has a plain-Python reference in ``tests/naive.py`` that a hypothesis
test compares it against. All numba flags live in :mod:`.config`.
"""
