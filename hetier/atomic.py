"""Write outputs next to their final name and rename, so a user's file is never half-written.

An output is written to a new temporary file created exclusively (O_EXCL, so never through a
symbolic link) in the target's folder, fsynced, then renamed over the target. One writer per
output at a time: a lock file next to the target is held (flock) while the output is written.
A target that exists and is not a regular file (a FIFO, a device, a symbolic link) is refused.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from hetier.errors import HetierError, UsageError


def _refuse_special(p: Path) -> None:
    """Refuse a target that exists and is not a regular file (``rename`` would replace it)."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"output '{p}' is a directory")
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"output '{p}' is a symbolic link (give the file it points to)")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"output '{p}' exists and is not a regular file")


def refuse_output_over_input(output: str | os.PathLike, inputs: list[str]) -> None:
    """Refuse an output that is one of the files a command reads (``--force`` allows replacing an
    old output, never the command's own input): ``inputs`` are candidate paths, those that are no
    existing file are ignored."""
    try:
        out = os.stat(output)
    except OSError:
        return  # a new file is no input
    if not stat.S_ISREG(out.st_mode):
        return
    for name in inputs:
        try:
            st = os.stat(name)
        except (OSError, ValueError):
            continue
        if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
            raise UsageError(f"output '{output}' is the input '{name}': refused even with --force (write the "
                             "output elsewhere)")


def check_output(path: str | os.PathLike, force: bool) -> Path:
    """Refuse an existing output without ``force``, a non-regular one, and an unwritable folder."""
    if not str(path):
        raise UsageError("output name is empty")
    p = Path(path)
    _refuse_special(p)
    if os.path.lexists(p) and not force:
        raise UsageError(f"output '{p}' exists (use --force to overwrite)")
    parent = p.parent if str(p.parent) else Path(".")
    missing = []
    while not os.path.lexists(parent) and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"output folder '{parent}' is not a directory")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"output folder '{parent}' is not writable")
    try:  # try the missing folders now, but leave nothing behind: they are made when the output is written
        for folder in reversed(missing):
            folder.mkdir()
    except OSError as e:
        raise UsageError(f"cannot create output folder '{folder}': {e.strerror}") from None
    finally:
        for folder in missing:
            try:
                folder.rmdir()
            except OSError:
                pass
    return p


def lock_path(path: Path) -> Path:
    """The lock file that says someone is writing ``path``."""
    return path.with_name(f".{path.name}.lock")


class OutputLock:
    """An exclusive, non-blocking lock on one output (flock on ``.NAME.lock``; released by the
    kernel if the process dies, so a stale lock file never blocks the next run)."""

    def __init__(self, path: Path):
        self.path = lock_path(path)
        self.target = path
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise UsageError(f"cannot lock output '{path}' ({self.path}: {e.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise UsageError(f"another hetier is writing '{path}' (lock {self.path})") from None
            try:  # the holder before us may have removed the file we locked: lock the current one
                same = os.fstat(fd).st_ino == os.stat(self.path, follow_symlinks=False).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd: int | None = fd
                return
            os.close(fd)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None


def _umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AtomicOutput:
    """A new temporary file next to ``path``; ``commit`` renames it into place, ``discard``
    removes it. As a context manager: commit on success, discard on any error (disk full
    included), and an ``OSError`` becomes one line naming the output."""

    def __init__(self, path: str | os.PathLike, suffix: str = ".partial", lock: "OutputLock | None" = None):
        self.path = Path(path)
        if not str(path):
            raise UsageError("output name is empty")
        _refuse_special(self.path)
        parent = self.path.parent if str(self.path.parent) else Path(".")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create output folder '{parent}': {e.strerror}") from None
        self._lock = lock if lock is not None else OutputLock(self.path)  # ``lock``: the caller holds it
        self._own_lock = lock is None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f"{self.path.name}.", suffix=suffix, dir=parent)
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; an output gets the usual mode
        except OSError as e:
            self._release()
            raise HetierError(f"cannot write '{self.path}': {e.strerror}") from None
        self.tmp = Path(tmp)
        self.file: BinaryIO = os.fdopen(fd, "wb")

    def commit(self) -> Path:
        """fsync, rename over the target (re-checked: still not a special file), release the lock."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            _refuse_special(self.path)
            os.replace(self.tmp, self.path)
            _fsync_dir(self.path.parent if str(self.path.parent) else Path("."))
        except BaseException as e:
            self.discard()
            if isinstance(e, OSError):
                raise HetierError(f"cannot write '{self.path}': {e.strerror or e}") from None
            raise
        self._release()
        return self.path

    def _release(self) -> None:
        if self._own_lock:
            self._lock.release()

    def discard(self) -> None:
        """Remove the temporary file and release the lock (safe to call twice)."""
        try:
            self.file.close()
        except OSError:
            pass
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass
        self._release()

    def keep_partial(self) -> Path:
        """Stop without renaming: keep the temporary file (e.g. a trace's readable prefix)."""
        try:
            self.file.close()
        except OSError:
            pass  # what could not be flushed is lost; the complete part stays readable
        self._release()
        return self.tmp

    def __enter__(self) -> "AtomicOutput":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
            return
        self.discard()
        if isinstance(exc, OSError) and not isinstance(exc, HetierError):
            raise HetierError(f"cannot write '{self.path}': {exc.strerror or exc}") from None


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: some file systems refuse fsync on a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via an exclusive temporary file and rename."""
    with AtomicOutput(path) as out:
        out.file.write(data)
