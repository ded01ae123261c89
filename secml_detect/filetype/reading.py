"""Bounded reading of a file's head and tail windows, with a status per item.

A batch may mix ``bytes``-like contents, paths (``str`` or
:class:`os.PathLike`) and open binary file objects. Each item gives at most
``head_size`` bytes from the start and ``tail_size`` bytes from the end (the
tail never overlaps the head, so files shorter than ``head_size`` have an empty
tail). Nothing else of the file is read, so the work per item is bounded
however large or hostile the file is.

Paths are opened with ``O_NONBLOCK`` and checked with ``fstat`` before any
read: directories, FIFOs, sockets and devices are reported as special files
and never read (so ``/dev/zero`` or a FIFO cannot hang a batch). Unreadable
paths, permission errors and I/O errors become a :class:`ReadStatus` with
``ok=False``; they never raise, so one bad path cannot abort a batch of
100,000.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass

import numpy as np

from .._ragged import RaggedArray

__all__ = ["ReadStatus", "WindowBatch", "read_windows", "DEFAULT_HEAD", "DEFAULT_TAIL"]

DEFAULT_HEAD = 1024
DEFAULT_TAIL = 1024
_STREAM_LIMIT = 1 << 20  # non-seekable streams: the tail is the end of the first 1 MiB


@dataclass(frozen=True)
class ReadStatus:
    """How one item was read.

    Attributes
    ----------
    ok : bool
        True when the windows were read (an empty file is ``ok``).
    error : str
        Why not, when ``ok`` is False (``"not a regular file (directory)"``,
        ``"permission denied"``, ``"no such file"``, ``"unsupported item type"``...).
    size : int
        Size of the whole content in bytes (``-1`` when unknown).
    kind : str
        ``"bytes"``, ``"path"``, ``"file"`` or ``"invalid"``.
    """

    ok: bool
    error: str = ""
    size: int = -1
    kind: str = "bytes"


@dataclass(frozen=True, eq=False)
class WindowBatch:
    """Head and tail windows of a batch as two ragged buffers.

    Attributes
    ----------
    head, tail : RaggedArray
        ``head.item(i)`` is the start of item ``i``, ``tail.item(i)`` its end.
    sizes : ndarray of int64
        Whole content sizes (``-1`` when unknown, for failed items).
    status : list of ReadStatus
    """

    head: RaggedArray
    tail: RaggedArray
    sizes: np.ndarray
    status: list

    @property
    def ok(self) -> np.ndarray:
        """Mask of the items that were read."""
        return np.fromiter((s.ok for s in self.status), dtype=bool, count=len(self.status))

    def __len__(self) -> int:
        return len(self.status)


def _errno_text(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "not a regular file (directory)"
    return f"cannot read ({exc.strerror or type(exc).__name__})"


def _special_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def _pread_all(fd: int, n: int, offset: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = os.pread(fd, n, offset)
        if not chunk:
            break
        chunks.append(chunk)
        n -= len(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _read_path(path, head: int, tail: int) -> tuple[bytes, bytes, ReadStatus]:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        return b"", b"", ReadStatus(False, _errno_text(exc), -1, "path")
    except (TypeError, ValueError) as exc:  # e.g. an embedded NUL in the path
        return b"", b"", ReadStatus(False, f"invalid path ({exc})", -1, "path")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return b"", b"", ReadStatus(False, f"not a regular file ({_special_kind(st.st_mode)})", -1, "path")
        size = st.st_size
        h = _pread_all(fd, head, 0)
        t = b""
        if size > len(h) and tail > 0:
            start = max(size - tail, len(h))
            t = _pread_all(fd, size - start, start)
        return h, t, ReadStatus(True, "", size, "path")
    except OSError as exc:
        return b"", b"", ReadStatus(False, _errno_text(exc), -1, "path")
    finally:
        os.close(fd)


def _none_to_bytes(value):
    return b"" if value is None else value


def _read_fileobj(fh, head: int, tail: int) -> tuple[bytes, bytes, ReadStatus]:
    try:
        seekable = fh.seekable() if hasattr(fh, "seekable") else False
        if seekable:
            start = fh.tell()
            end = fh.seek(0, io.SEEK_END)
            size = end - start
            fh.seek(start)
            h = _none_to_bytes(fh.read(head))
            t = b""
            if size > len(h) and tail > 0:
                fh.seek(max(end - tail, start + len(h)))
                t = _none_to_bytes(fh.read(tail))
            fh.seek(start)
        else:
            data = _none_to_bytes(fh.read(_STREAM_LIMIT))
            if not isinstance(data, (bytes, bytearray)):
                return b"", b"", ReadStatus(False, "file object is not binary (open it with 'rb')", -1, "file")
            h = data[:head]
            rest = data[len(h):]
            t = rest[-tail:] if tail > 0 else b""
            size = len(data) if len(data) < _STREAM_LIMIT else -1
        if not isinstance(h, (bytes, bytearray)) or not isinstance(t, (bytes, bytearray)):
            return b"", b"", ReadStatus(False, "file object is not binary (open it with 'rb')", -1, "file")
        return bytes(h), bytes(t), ReadStatus(True, "", size, "file")
    except (OSError, ValueError) as exc:  # closed file, I/O error
        return b"", b"", ReadStatus(False, f"cannot read file object ({exc})", -1, "file")


def _read_one(item, head: int, tail: int) -> tuple[bytes, bytes, ReadStatus]:
    if isinstance(item, (bytes, bytearray, memoryview)):
        mv = memoryview(item).cast("B") if isinstance(item, memoryview) else item
        size = len(mv)
        h = bytes(mv[:head])
        t = bytes(mv[max(size - tail, len(h)):]) if tail > 0 else b""
        return h, t, ReadStatus(True, "", size, "bytes")
    if isinstance(item, np.ndarray) and item.dtype == np.uint8 and item.ndim == 1:
        return _read_one(item.tobytes(), head, tail)
    if isinstance(item, (str, os.PathLike)):
        return _read_path(item, head, tail)
    if hasattr(item, "read"):
        return _read_fileobj(item, head, tail)
    return b"", b"", ReadStatus(False, f"unsupported item type {type(item).__name__}", -1, "invalid")


def _ragged(chunks: list[bytes], missing: np.ndarray) -> RaggedArray:
    lengths = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b"".join(chunks), dtype=np.uint8).copy()
    return RaggedArray(data, offsets, missing)


def read_windows(items, head_size: int = DEFAULT_HEAD, tail_size: int = DEFAULT_TAIL) -> WindowBatch:
    """Read the head and tail windows of every item of a batch.

    Parameters
    ----------
    items : iterable
        ``bytes``/``bytearray``/``memoryview`` (the content itself), ``str`` or
        :class:`os.PathLike` (a path), or an open binary file object (read from
        its current position, which is restored when seekable).
    head_size, tail_size : int
        Window sizes in bytes.

    Returns
    -------
    WindowBatch
        Never raises for a bad item: its status says why.

    Examples
    --------
    >>> w = read_windows([b"%PDF-1.7 ... %%EOF", "/nonexistent/file", 3])
    >>> [s.ok for s in w.status], w.status[1].error, w.status[2].error
    ([True, False, False], 'no such file', 'unsupported item type int')
    >>> bytes(w.head.item(0)[:5])
    b'%PDF-'
    """
    if isinstance(items, (str, bytes, os.PathLike)):
        raise TypeError("expected a batch (a list of items), got a single str/bytes/path")
    heads, tails, status = [], [], []
    for item in items:
        h, t, s = _read_one(item, int(head_size), int(tail_size))
        heads.append(h)
        tails.append(t)
        status.append(s)
    missing = np.fromiter((not s.ok for s in status), dtype=bool, count=len(status))
    sizes = np.fromiter((s.size for s in status), dtype=np.int64, count=len(status))
    return WindowBatch(_ragged(heads, missing), _ragged(tails, missing), sizes, status)
