"""Placement files: where each tensor (or allocation site) of one trace lives, as JSON.

Written by ``hetier advise``, replayed by ``replay --policy placement:FILE`` and meant for a
real run to apply later. A file names the trace it was made for (its identity: file name,
sha256, model, start time); it is refused for any other trace.

    {"magic": "hetier-placement", "version": 1, "trace": {...identity...}, "machine": "...",
     "policy": "ilp", "granularity": "tensor" | "site",
     "tensors": {"12": "dram", ...}, "sites": {"conv2d_3:ciphertext": "dram", ...},
     "moves": [{"before_op": 7, "tensor": 12, "tier": "pmem"}, ...]}
"""

from __future__ import annotations

import json
import os

from hetier.atomic import write_bytes_atomic
from hetier.errors import HetierError
from hetier.formats.header import check_header

PLACEMENT_MAGIC = "hetier-placement"
PLACEMENT_VERSION = 1


def placement_document(trace: dict, machine: str, policy: str, start: dict[int, str],
                       moves: dict[int, list[tuple[int, str]]], sites: dict[str, str] | None = None) -> dict:
    """The JSON document for a schedule (start tier per tensor plus moves at op starts)."""
    return {"magic": PLACEMENT_MAGIC, "version": PLACEMENT_VERSION, "trace": trace, "machine": machine,
            "policy": policy, "granularity": "site" if sites else "tensor",
            "tensors": {str(t): tier for t, tier in sorted(start.items())}, "sites": dict(sorted((sites or {}).items())),
            "moves": [{"before_op": op, "tensor": t, "tier": tier} for op in sorted(moves) for t, tier in moves[op]]}


def write_placement(path: str | os.PathLike, doc: dict) -> None:
    write_document(path, doc)


def write_document(path: str | os.PathLike, doc: dict) -> None:
    """A hetier JSON document (placement, advice), written atomically; same document, same bytes."""
    write_bytes_atomic(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())


def read_placement(path: str | os.PathLike) -> dict:
    """Load and check a placement file's form (not yet its trace)."""
    doc = read_document(path, PLACEMENT_MAGIC, PLACEMENT_VERSION, "placement")
    for key, kind in (("tensors", dict), ("moves", list)):
        if not isinstance(doc.get(key), kind):
            raise HetierError(f"placement file '{path}': '{key}' missing or not a {kind.__name__}")
    from hetier.validation import PLACEMENT, validate

    return validate(doc, PLACEMENT, f"placement file '{path}'")


MAX_DOCUMENT_BYTES = 1 << 30  # a placement or advice file: 1 GiB holds millions of tensors


def read_document(path: str | os.PathLike, magic: str, version: int, what: str) -> dict:
    """Load a hetier JSON document (placement, advice): its magic, version and trace identity."""
    from hetier.formats.input_file import read_input

    try:
        doc = json.loads(read_input(path, f"{what} file", MAX_DOCUMENT_BYTES))
    except (OSError, ValueError, RecursionError) as e:
        raise HetierError(f"'{path}' is not a hetier {what} file ({e.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise HetierError(f"'{path}' is not a hetier {what} file (not a JSON object)")
    check_header(doc, magic, version, path, what)
    if not isinstance(doc.get("trace"), dict):
        raise HetierError(f"{what} file '{path}': 'trace' missing or not a dict")
    return doc


def describe_identity(trace: dict) -> str:
    return (f"{trace.get('file', '?')} ({trace.get('model', '?')} {json.dumps(trace.get('config', {}), sort_keys=True)}, "
            f"sha256 {str(trace.get('sha256', '?'))[:12]})")


def check_trace(doc: dict, trace: dict, path: str, what: str = "placement") -> None:
    """Refuse a placement (or advice) made for another trace, naming both."""
    if doc["trace"].get("sha256") != trace.get("sha256"):
        raise HetierError(f"{what} '{path}' was made for trace {describe_identity(doc['trace'])}, "
                          f"not for {describe_identity(trace)}")
