"""File content types from bounded head/tail windows: :class:`FileTypeDetector`.

A pre-trained model ships in ``secml_detect/filetype/model/`` (safe ``.smd``
format plus ``metadata.json``); load it with :meth:`FileTypeDetector.pretrained`.
"""

from .detector import DEFAULT_TYPES_OF_INTEREST, FileTypeDetector, FileTypeResult
from .reading import ReadStatus, WindowBatch, read_windows

__all__ = ["FileTypeDetector", "FileTypeResult", "DEFAULT_TYPES_OF_INTEREST", "ReadStatus", "WindowBatch",
           "read_windows"]
