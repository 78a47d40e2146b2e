"""The terminal version of the report: headline and comparison table (rich). `hetier replay`
prints the same table, so the two verbs use one vocabulary."""

from __future__ import annotations

from hetier.analysis.comparison import Comparison
from hetier.analysis.metrics import Analysis
from hetier.analysis.reports.summary import headline
from hetier.vocabulary import NONE


def cells(r: dict) -> list[str]:
    """One comparison row as text; "-" where a value does not exist."""
    return [safe(r["machine"]), safe(r["overrides"] or NONE, 2000), safe(r["policy"]), str(r["threads"]),
            r["reason"] if r["time_s"] is None else f"{r['time_s']:.3f} s",
            NONE if r["vs_baseline"] is None else f"{r['vs_baseline']:.2f}x",
            NONE if r["compute_s"] is None else f"{r['compute_s']:.2f} s",
            NONE if r["stall_s"] is None else ", ".join(f"{k} {v:.2f} s" for k, v in r["stall_s"].items()),
            ", ".join(f"{k} {v:.2f} GB" for k, v in r["peak_gb"].items()),
            NONE if r["mm_hit_ratio"] is None else f"{100 * r['mm_hit_ratio']:.1f}%"]


COLUMNS = ("machine", "overrides", "policy", "threads", "time", "vs baseline", "compute (thread-s)", "stall by tier (thread-s)",
           "peak by tier", "Memory Mode hit")


def comparison_table(comp: Comparison, title: str = "configurations"):
    from rich.table import Table

    t = Table(title=title)
    for col in COLUMNS:
        t.add_column(col, justify="right")
    for r in comp.rows():
        t.add_row(*cells(r))
    return t
from hetier.terminal import safe


def render_text(an: Analysis, comp: Comparison | None, console) -> None:
    for line in headline(an, comp):
        console.print(f"- {safe(line, 2000)}")
    if comp is not None:
        console.print(comparison_table(comp))
