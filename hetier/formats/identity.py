"""A trace's identity: what ties a results file or a report to the trace it came from."""

from __future__ import annotations

import hashlib
import os


def trace_identity(path: str, meta: dict) -> dict:
    """The file's name and hash, model, mode, granularity and start time of the trace at ``path``
    (``meta``: its metadata, as TraceReader read it)."""
    h = hashlib.sha256()
    from hetier.formats.input_file import open_input

    with open_input(path, "trace") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"file": os.path.basename(path), "sha256": h.hexdigest(), "model": meta["model"]["name"],
            "config": meta["model"]["config"], "mode": meta["mode"], "granularity": meta["granularity"],
            "start_time": meta["start_time"]}
