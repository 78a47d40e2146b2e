"""Open a file hetier reads (TOML, JSON, CSV, Arrow, Parquet, certificates), refusing what is not
a regular file before any read can block: a FIFO, a directory, a device or a socket.

The file is opened non-blocking (so opening a FIFO cannot wait for a writer), checked with
``fstat`` on the opened descriptor (no window for a swap between the check and the open), then
switched back to blocking reads. Every loader goes through ``open_input``.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO

from hetier.errors import UsageError


def _not_regular(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO (named pipe)"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) else "special file"


def open_input(path: str | os.PathLike, what: str = "input", max_bytes: int | None = None) -> BinaryIO:
    """``path`` opened for binary reading; a missing, unreadable, non-regular or (with
    ``max_bytes``) larger file is a UsageError naming ``what`` and the path."""
    p = os.fspath(path)
    if not p:
        raise UsageError(f"{what} name is empty")
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UsageError(f"{what} '{p}' not found") from None
    except IsADirectoryError:
        raise UsageError(f"{what} '{p}' is a directory, not a regular file") from None
    except OSError as e:
        raise UsageError(f"cannot read {what} '{p}': {e.strerror}") from None
    try:
        st = os.fstat(fd)
        kind = _not_regular(st.st_mode)
        if kind:
            raise UsageError(f"{what} '{p}' is a {kind}, not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise UsageError(f"{what} '{p}' is larger than {max_bytes} bytes ({st.st_size})")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input(path: str | os.PathLike, what: str = "input", max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file (see ``open_input``); at most ``max_bytes`` are read."""
    with open_input(path, what, max_bytes) as f:
        try:
            data = f.read() if max_bytes is None else f.read(max_bytes + 1)
        except OSError as e:
            raise UsageError(f"cannot read {what} '{os.fspath(path)}': {e.strerror}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise UsageError(f"{what} '{os.fspath(path)}' is larger than {max_bytes} bytes")
    return data


def check_input_file(path: str | os.PathLike, what: str = "input", max_bytes: int | None = None) -> Path:
    """Check that ``path`` is a readable regular file (opened and closed at once); returns it."""
    open_input(path, what, max_bytes).close()
    return Path(path)
