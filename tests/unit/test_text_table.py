"""The one-pass table of the per-op advice rows: the same lines rich draws, cells shown inert."""

import io

from rich.console import Console

from hetier.analysis.reports.advice import layer_columns, layer_rows, print_layer_table, rich_table
from hetier.text_table import text_table

LAYERS = [{"op": i, "layer": f"conv{i}" + "名" * (i % 3), "bytes": {"dram": 393_216 + i * 7_777_777, "pmem": i * 10 ** 8},
           "moved_bytes": i * 1000} for i in range(12)]
LAYERS[3]["layer"] = "[bold]x\x1b[2J\u202e"  # markup, an escape sequence, a bidi override
LAYERS[5]["layer"] = "y" * 300  # cut like any user string
LAYERS[7]["bytes"] = {"dram": 1}  # a tier missing from one row


def _rich(title, columns, rows) -> str:
    c = Console(file=io.StringIO(), width=1000, soft_wrap=True)
    c.print(rich_table(title, columns, rows))
    return c.file.getvalue()


def test_the_text_table_draws_what_rich_draws():
    columns, rows = layer_columns(LAYERS), layer_rows(LAYERS)
    expected = _rich("ilp on ref-app-direct: live bytes", columns, rows)
    assert text_table("ilp on ref-app-direct: live bytes", columns, rows) + "\n" == expected
    assert "\\x1b[2J\\u202e" in expected and "y" * 200 + "...(+100 chars)" in expected


def test_short_rows_and_non_strings_are_cells_too():
    assert text_table("t", ["a", "b"], [["1"], [2, None]]).splitlines()[4:6] == ["│ 1 │      │", "│ 2 │ None │"]


def test_the_report_prints_the_layer_table_after_what_rich_printed():
    out = io.StringIO()
    c = Console(file=out, width=200, soft_wrap=True)
    c.print("before")
    print_layer_table(c, "ilp on m", LAYERS[:2])
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["before", "ilp on m: live bytes at each layer's peak, by tier"]
    assert lines[-4:] == ["┡━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━┩",
                          "│  0 │   conv0 │ 0.4 MB │  0.0 MB │             0.0 MB │",
                          "│  1 │ conv1名 │ 8.2 MB │ 0.10 GB │             0.0 MB │",
                          "└────┴─────────┴────────┴─────────┴────────────────────┘"]
