"""A trace's identity: what ties a results file or a report to the trace it came from."""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike, what: str = "trace") -> str:
    """The sha256 of a file's bytes (what identifies a trace everywhere); not a regular file is an error."""
    from hetier.formats.input_file import open_input

    with open_input(path, what) as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def trace_identity(path: str, meta: dict) -> dict:
    """The file's name and hash, model, mode, granularity and start time of the trace at ``path``
    (``meta``: its metadata, as TraceReader read it)."""
    return {"file": os.path.basename(path), "sha256": file_sha256(path), "model": meta["model"]["name"],
            "config": meta["model"]["config"], "mode": meta["mode"], "granularity": meta["granularity"],
            "start_time": meta["start_time"]}
