"""Errors and warnings raised by secml_detect.

Every error about input data is a :class:`ValueError` subclass that names the
offending item, so a caller can find it in a batch of a million.

Bad-item policy (see the glossary in the docs): a detector never drops an item
and never lets one bad item abort a batch silently. With ``on_bad_input="fallback"``
(the default) the item receives the detector's documented fallback score and a
:class:`BadInputWarning` lists the indices; with ``on_bad_input="raise"`` an
:class:`InvalidItemError` naming the first bad index is raised instead.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "SecmlDetectError",
    "InvalidItemError",
    "InvalidParameterError",
    "UntrustedModelError",
    "ModelFormatError",
    "SecmlDetectWarning",
    "BadInputWarning",
    "ModelVersionWarning",
]


class SecmlDetectError(Exception):
    """Base class of every exception raised by secml_detect."""


class InvalidItemError(SecmlDetectError, ValueError):
    """An input item cannot be processed.

    Parameters
    ----------
    index : int or None
        Position of the item in the batch (``None`` when not in a batch).
    reason : str
        What is wrong with it.
    item : object, optional
        The item itself; only a short ``repr`` is kept in the message.

    Examples
    --------
    >>> err = InvalidItemError(3, "not a valid IPv4 address", item="300.1.2.3")
    >>> str(err)
    "item 3: not a valid IPv4 address ('300.1.2.3')"
    >>> err.index
    3
    """

    def __init__(self, index: int | None, reason: str, item: object = None) -> None:
        self.index = index
        self.reason = reason
        self.item = item
        where = "item" if index is None else f"item {index}"
        shown = "" if item is None else f" ({_short_repr(item)})"
        super().__init__(f"{where}: {reason}{shown}")


class InvalidParameterError(SecmlDetectError, ValueError):
    """A constructor parameter has an invalid value (raised by ``fit``)."""


class ModelFormatError(SecmlDetectError, ValueError):
    """A model file is not a valid secml_detect model file."""


class UntrustedModelError(ModelFormatError):
    """A model file names a type that is not on the trusted list.

    Loading stops before any such type is imported or instantiated.
    """


class SecmlDetectWarning(UserWarning):
    """Base class of every warning issued by secml_detect."""


class BadInputWarning(SecmlDetectWarning):
    """Some items in a batch were scored with the documented fallback score.

    Attributes
    ----------
    indices : tuple of int
        Positions of those items in the batch.
    """

    def __init__(self, message: str, indices: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.indices = tuple(int(i) for i in indices)


class ModelVersionWarning(SecmlDetectWarning):
    """A model file was written by different library versions than installed."""


def _short_repr(item: object, limit: int = 80) -> str:
    text = repr(item)
    return text if len(text) <= limit else text[: limit - 3] + "..."
