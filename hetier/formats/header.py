"""The header every hetier file carries: its magic and format version, checked in one place."""

from __future__ import annotations

from hetier.errors import HetierError


class NotOfKind(HetierError):
    """A file that is not the kind asked for at all (another format, or another hetier file's magic),
    as opposed to one of that kind that is damaged or of another version."""


def check_header(doc, magic: str, version: int, where: str, kind: str, noun: str = "file") -> dict:
    """``doc`` (a file's decoded header) if it is a hetier ``kind`` of this ``version``, else a
    one-line error naming ``where`` (e.g. "'x.arrow' is not a hetier results file")."""
    if not isinstance(doc, dict) or doc.get("magic") != magic:
        raise NotOfKind(f"'{where}' is not a hetier {kind} {noun}")
    got = doc.get("version")
    if not isinstance(got, int) or isinstance(got, bool):
        raise HetierError(f"'{where}' has a {kind} format version that is not a whole number ({str(got)[:40]!r})")
    if got != version:
        raise HetierError(f"'{where}' has {kind} format {got}; this hetier reads {version}")
    return doc
