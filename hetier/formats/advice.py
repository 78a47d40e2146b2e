"""Advice files (`hetier advise --advice`): the ranking per machine, the recommended policy and
where its live bytes are per layer, and (``--tiering``) per Linux tiering and Flat Memory Mode run
the bytes moved at each op, tied to one trace; what `hetier report --advice` reads."""

from __future__ import annotations

from hetier.errors import HetierError
from hetier.formats.placement import check_trace, read_document
from hetier.validation import ADVICE, validate

ADVICE_MAGIC = "hetier-advice"
ADVICE_VERSION = 1


def read_advice(path: str, trace: dict) -> dict:
    """Load an advice file written by `hetier advise --advice`, refused for any trace but ``trace``."""
    doc = read_document(path, ADVICE_MAGIC, ADVICE_VERSION, "advice")
    for key, kind in (("machines", list), ("recommended", dict), ("layers", list)):
        if not isinstance(doc.get(key), kind):
            raise HetierError(f"advice file '{path}': '{key}' missing or not a {kind.__name__}")
    validate(doc, ADVICE, f"advice file '{path}'")  # types, ranges, sizes: hetier/validation.py
    for i, entry in enumerate(doc.get("tiering", [])):  # absent in advice files written before it
        check_tiering_columns(entry["ops"], f"advice file '{path}': tiering[{i}].ops")
    check_trace(doc, trace, path, "advice")
    return doc


def check_tiering_columns(ops: dict, where: str) -> None:
    """A tiering entry's per-op columns (already typed by ADVICE): one value per op in each, and
    no op ending before it starts (the figure's bars span start to end)."""
    n = len(ops["name"])
    for col, values in ops.items():
        if len(values) != n:
            raise HetierError(f"{where}.{col} has {len(values)} values for {n} ops")
    bad = next((i for i, (s, e) in enumerate(zip(ops["start_ns"], ops["end_ns"])) if e < s), None)
    if bad is not None:
        raise HetierError(f"{where}: op {bad} ends before it starts (end_ns {ops['end_ns'][bad]} < "
                          f"start_ns {ops['start_ns'][bad]})")
