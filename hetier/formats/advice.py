"""Advice files (`hetier advise --advice`): the ranking per machine, the recommended policy and
where its live bytes are per layer, tied to one trace; what `hetier report --advice` reads."""

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
    check_trace(doc, trace, path, "advice")
    return doc
