"""The terminal version of the report: headline and comparison table (rich)."""

from __future__ import annotations

from hetier.analysis.comparison import Comparison
from hetier.analysis.metrics import Analysis
from hetier.analysis.reports.summary import headline
from hetier.terminal import safe


def render_text(an: Analysis, comp: Comparison | None, console) -> None:
    from rich.table import Table

    for line in headline(an, comp):
        console.print(f"- {safe(line, 2000)}")
    if comp is None:
        return
    t = Table(title="configurations")
    for col in ("machine", "policy", "threads", "time", "vs baseline", "compute", "stall by tier", "MM hit"):
        t.add_column(col, justify="right")
    for r in comp.rows():
        time = ("does not fit: needs " + ", ".join(f"{v:.2f} GB more {k}" for k, v in r["missing_gb"].items())
                if r["time_s"] is None else f"{r['time_s']:.3f} s")
        t.add_row(safe(r["machine"]), safe(r["policy"]), str(r["threads"]), safe(time),
                  "-" if r["vs_baseline"] is None else f"{r['vs_baseline']:.2f}x", f"{r['compute_s']:.2f} s",
                  safe(", ".join(f"{k} {v:.2f} s" for k, v in r["stall_s"].items()), 2000),
                  "-" if r["mm_hit_ratio"] is None else f"{100 * r['mm_hit_ratio']:.1f}%")
    console.print(t)
