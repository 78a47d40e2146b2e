"""Write outputs next to their final name and rename, so a user's file is never half-written."""

from __future__ import annotations

import os
from pathlib import Path

from hetier.errors import UsageError


def check_output(path: str | os.PathLike, force: bool) -> Path:
    """Refuse an existing output without ``force`` and an output whose folder cannot be written."""
    p = Path(path)
    if p.exists() and not force:
        raise UsageError(f"output '{p}' exists (use --force to overwrite)")
    if p.is_dir():
        raise UsageError(f"output '{p}' is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create output folder '{parent}': {e.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise UsageError(f"output folder '{parent}' is not writable")
    return p


def partial_path(path: Path) -> Path:
    """Where an output is written until it is complete."""
    return path.with_name(path.name + ".partial")


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename."""
    p = Path(path)
    tmp = partial_path(p)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)
