"""Tables of many rows as text in one pass, drawn like rich's default table (heavy head, right
justified): rich measures, pads and wraps every cell as a renderable, about 10 ms a row, so a
per-op table of 10^5 rows (an advice file, `hetier advise` on a large trace) took minutes."""

from __future__ import annotations

from rich.cells import cell_len

from hetier.terminal import MAX_SHOWN, plain


def _width(cell: str) -> int:
    return len(cell) if cell.isascii() else cell_len(cell)  # wide characters (CJK, emoji) take two cells


def _column_width(column: tuple[str, ...]) -> int:
    if all(map(str.isascii, column)):
        return max(map(len, column), default=0)
    return max(map(_width, column), default=0)


def _inert(row: list, n: int) -> list[str]:
    """``row`` as ``n`` inert cells; a row of short printable strings (the common case) as it is."""
    try:
        joined = "".join(row)
    except TypeError:  # a cell that is not a string
        joined = None
    if joined is not None and len(joined) <= MAX_SHOWN and joined.isprintable() and len(row) == n:
        return row
    return [plain(c) for c in row] + [""] * (n - len(row))


def _line(left: str, fill: str, cross: str, right: str, widths: list[int]) -> str:
    return left + cross.join(fill * (w + 2) for w in widths) + right


def _row(edge: str, cells: list[str], widths: list[int]) -> str:
    return edge + edge.join(" " * (w - _width(c) + 1) + c + " " for c, w in zip(cells, widths)) + edge


def text_table(title: str, columns: list[str], rows: list[list[str]]) -> str:
    """``rows`` under ``columns`` as box-drawn lines, every cell right-justified and shown inert
    (hetier.terminal.plain), ``title`` above (as a soft-wrapping rich console prints it); never
    wrapped, so the lines are as wide as the widest row."""
    head = [plain(c) for c in columns]
    body = [_inert(r, len(head)) for r in rows]
    widths = [_column_width(column) for column in zip(head, *body)]
    ascii_row = "│" + "│".join(f" {{:>{w}}} " for w in widths) + "│"  # str.format pads by characters
    lines = [plain(title, 2000), _line("┏", "━", "┳", "┓", widths), _row("┃", head, widths),
             _line("┡", "━", "╇", "┩", widths)]
    lines.extend(ascii_row.format(*r) if "".join(r).isascii() else _row("│", r, widths) for r in body)
    lines.append(_line("└", "─", "┴", "┘", widths))
    return "\n".join(lines)
