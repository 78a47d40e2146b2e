"""Show user-provided strings (names from traces, paths, metadata) in a terminal safely.

Rich interprets ``[...]`` as markup and a terminal obeys escape sequences, so a layer called
``[link=...]`` or ``\\x1b[2J`` must be shown as text: markup escaped, control characters written
as ``\\xNN``, and very long strings cut.
"""

from __future__ import annotations

import unicodedata

from rich.markup import escape

MAX_SHOWN = 200  # characters of one user string shown in the terminal


def _visible(ch: str) -> str:
    if ch in "\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"):
        return ch
    cp = ord(ch)
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


def plain(value: object, limit: int = MAX_SHOWN) -> str:
    """``value`` as one line of inert text: control and format characters (escapes, bidi
    overrides, newlines) written out, cut to ``limit`` characters."""
    s = str(value)
    if len(s) > limit:
        s = s[:limit] + f"...(+{len(s) - limit} chars)"
    if s.isprintable():
        return s
    return "".join(_visible(c) for c in s)


def table_console(width: int = 200):
    """A rich console for tables on stdout: soft wrap, and ``width`` columns when the output is
    not a terminal (a pipe or file would otherwise cut tables at 80)."""
    from rich.console import Console

    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console.width = width
    return console


def safe(value: object, limit: int = MAX_SHOWN) -> str:
    """``plain`` plus rich markup escaped: for user strings inside a rich markup string or table."""
    return escape(plain(value, limit))
