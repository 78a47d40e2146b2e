"""The report of a sweep directory: Pareto charts (memory cost or fast-tier GB against predicted
time), time against each varied parameter per machine/policy, a layer x configuration slowdown
heatmap, and a summary naming the best configurations; HTML (plotly inline) or terminal text.

Everything is per (trace, threads) group: runs that differ only in thread count are never
merged or compared. The reference of each group is ``--baseline`` (a configuration label without
threads, or part of one), else its fastest all-DRAM run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from hetier.analysis.sweep import Pick, cheapest_within, config_label, groups, pareto, reference
from hetier.errors import UsageError
from hetier.formats.results import override_column
from hetier.vocabulary import NONE, seconds

MAX_HEATMAP_CONFIGS = 60


@dataclass
class Group:
    """One (trace, threads) slice of a sweep with what the report says about it."""

    trace: str
    threads: int
    rows: list[dict]
    reference: dict | None
    front_cost: list[dict]
    front_fast_gb: list[dict]
    pick: Pick | None = None


@dataclass
class SweepReport:
    path: str
    rows: list[dict]
    override_keys: list[str]
    varied: list[str]  # override keys with more than one value
    groups: list[Group]
    layer_time: dict[str, tuple[list[str], list[float]]] = field(repr=False)  # config_id -> (op names, seconds)
    within: float = 0.10
    baseline: str | None = None

    def label(self, row: dict, threads: bool = True) -> str:
        return config_label(row, self.override_keys, threads)


def build_report(path: str, baseline: str | None = None, within: float = 0.10) -> SweepReport:
    """Read a finished sweep directory and compute everything the renderers show."""
    from hetier.formats.sweep import load_sweep, override_keys

    manifest, configs, layers = load_sweep(path)
    keys = override_keys(configs)  # the axes' and the added references' (tier.key)
    rows = configs.to_pylist()
    varied = [k for k in keys if len({v for r in rows if (v := r.get(override_column(k))) is not None}) > 1]
    picks = {(p.trace, p.stack, p.threads): p for p in cheapest_within(configs, within, baseline, keys)}
    out = []
    for (trace, stack, threads), g in groups(rows).items():
        ref = reference(g, baseline, keys)
        name = trace if stack == "hetier" else f"{trace} (stack {stack})"
        out.append(Group(name, threads, g, ref, pareto(g, "cost_usd"), pareto(g, "fast_tier_gb"),
                         picks.get((trace, stack, threads))))
    if baseline and not any(g.reference for g in out):
        known = sorted({config_label(r, keys, threads=False) for r in rows if r["status"] == "ok"})
        raise UsageError(f"baseline '{baseline}' matches no finished configuration (e.g. {', '.join(known[:4])})")
    lt: dict[str, tuple[list[str], list[float]]] = {}
    if layers.num_rows:
        cols = layers.select(["config_id", "name", "start_ns", "end_ns"]).to_pydict()
        for cid, name, s, e in zip(cols["config_id"], cols["name"], cols["start_ns"], cols["end_ns"]):
            names, secs = lt.setdefault(cid, ([], []))
            names.append(name)
            secs.append((e - s) / 1e9)
    return SweepReport(str(path), rows, keys, varied, out, lt, within, baseline)


def summary_lines(rep: SweepReport) -> list[str]:
    """Plain sentences naming the best configurations of each group."""
    status: dict[str, int] = {}
    for r in rep.rows:
        status[r["status"]] = status.get(r["status"], 0) + 1
    lines = [f"{len(rep.rows)} configurations: " + ", ".join(f"{k} {v}" for k, v in sorted(status.items())) + "."]
    for g in rep.groups:
        ok = [r for r in g.rows if r["status"] == "ok"]
        head = f"{g.trace}, {g.threads} thread(s)"
        if not ok:
            lines.append(f"{head}: no configuration finished.")
            continue
        fast = min(ok, key=lambda r: r["time_s"])
        lines.append(f"{head}: fastest {rep.label(fast)} at {seconds(fast['time_s'] * 1e9)}{_cost(fast)}.")
        if g.reference is None:
            lines.append(f"{head}: no reference run ({'baseline ' + repr(rep.baseline) if rep.baseline else 'no all-DRAM run finished'}).")
            continue
        lines.append(f"{head}: reference {rep.label(g.reference)} at {seconds(g.reference['time_s'] * 1e9)}{_cost(g.reference)}.")
        if g.pick:
            lines.append(f"{head}: cheapest within {100 * rep.within:g}% of the reference: {g.pick.label} at "
                         f"{seconds(g.pick.time_s * 1e9)} ({g.pick.slowdown:.2f}x){_cost({'cost_usd': g.pick.cost_usd, 'cost_note': g.pick.cost_note})}.")
        if g.front_cost:
            lines.append(f"{head}: cost/time Pareto front: " + "; ".join(
                f"{rep.label(r)} ({r['cost_usd']:,.0f} USD, {seconds(r['time_s'] * 1e9)})" for r in g.front_cost) + ".")
    return lines


def _cost(row: dict) -> str:
    if row.get("cost_usd") is None:
        return ""
    from hetier.simulator.prices import priced_with_estimate

    return f", memory {row['cost_usd']:,.0f} USD" + (" (estimate)" if priced_with_estimate(row.get("cost_note")) else "")


def render_text(rep: SweepReport, console) -> None:
    from rich.table import Table

    for line in summary_lines(rep):
        console.print(line, markup=False)
    for g in rep.groups:
        t = Table(title=f"{g.trace}, {g.threads} thread(s)")
        for col in ("configuration", "status", "time", "vs reference", "memory cost"):
            t.add_column(col, justify="right")
        for r in g.rows:
            rel = f"{r['time_s'] / g.reference['time_s']:.2f}x" if r["status"] == "ok" and g.reference else NONE
            t.add_row(rep.label(r), r["status"], seconds(r['time_s'] * 1e9) if r["status"] == "ok" else (r["reason"] or NONE),
                      rel, f"{r['cost_usd']:,.0f} USD" if r.get("cost_usd") is not None else NONE)
        console.print(t)


def figures(rep: SweepReport) -> list[tuple[str, object, str]]:
    import plotly.graph_objects as go

    figs = []
    for g in rep.groups:
        ok = [r for r in g.rows if r["status"] == "ok"]
        head = f"{g.trace}, {g.threads} thread(s)"
        for x, front, xtitle in (("cost_usd", g.front_cost, "memory cost (USD)"),
                                 ("fast_tier_gb", g.front_fast_gb, "fast-tier capacity (GB)")):
            pts = [r for r in ok if r.get(x) is not None]
            if not pts:
                continue
            fig = go.Figure()
            for series in dict.fromkeys(f"{r['machine']} {r['policy']}" for r in pts):
                sel = [r for r in pts if f"{r['machine']} {r['policy']}" == series]
                fig.add_trace(go.Scatter(x=[r[x] for r in sel], y=[r["time_s"] for r in sel], mode="markers", name=series,
                                         text=[rep.label(r) for r in sel], hovertemplate="%{text}<br>%{x}, %{y:.3f} s"))
            fig.add_trace(go.Scatter(x=[r[x] for r in front], y=[r["time_s"] for r in front], mode="lines",
                                     line=dict(color="black", dash="dot"), name="Pareto front"))
            fig.update_layout(title=f"Pareto: {xtitle} vs predicted time ({head})", xaxis_title=xtitle,
                              yaxis_title="predicted time (s)", height=450)
            figs.append((f"Pareto, {xtitle}: {head}", fig, "Each point is a configuration that finished; the dotted "
                         "line joins those no other configuration beats on both axes."))
        for k in rep.varied:
            col = override_column(k)  # the column of override k (tier.key), which the figure names
            fig = go.Figure()
            series: dict[str, list[dict]] = {}
            for r in ok:
                if r.get(col) is not None:
                    others = [o for o in rep.override_keys if o != k]
                    series.setdefault(config_label(r, others, threads=False), []).append(r)
            for name, sel in series.items():
                sel = sorted(sel, key=lambda r: r[col])
                fig.add_trace(go.Scatter(x=[r[col] for r in sel], y=[r["time_s"] for r in sel], mode="lines+markers", name=name))
            fig.update_layout(title=f"Time vs {k} ({head})", xaxis_title=k, yaxis_title="predicted time (s)", height=420)
            figs.append((f"Time vs {k}: {head}", fig, "One line per machine and policy (and the other overrides); "
                         "configurations that do not fit have no point."))
        heat = _heatmap(rep, g, ok)
        if heat is not None:
            figs.append((f"Layer slowdown: {head}", heat, f"Each layer's predicted time divided by the same layer in "
                         f"the reference ({rep.label(g.reference)}); at most {MAX_HEATMAP_CONFIGS} configurations, fastest first."))
    return figs


def _heatmap(rep: SweepReport, g: Group, ok: list[dict]):
    import plotly.graph_objects as go

    if g.reference is None or g.reference["config_id"] not in rep.layer_time:
        return None
    names, ref = rep.layer_time[g.reference["config_id"]]
    cols = sorted((r for r in ok if r["config_id"] in rep.layer_time), key=lambda r: r["time_s"])[:MAX_HEATMAP_CONFIGS]
    z = [[(rep.layer_time[r["config_id"]][1][i] / ref[i]) if ref[i] > 0 else None for r in cols] for i in range(len(names))]
    fig = go.Figure(go.Heatmap(z=z, x=[rep.label(r) for r in cols], y=[f"{i}: {n}" for i, n in enumerate(names)],
                               colorscale="RdYlGn_r", zmid=1.0, colorbar=dict(title="x reference")))
    fig.update_layout(title=f"Layer x configuration slowdown ({g.trace}, {g.threads} thread(s))",
                      height=max(400, 14 * len(names) + 200), xaxis_title="configuration (fastest first)",
                      yaxis=dict(autorange="reversed", title="layer (in execution order)"))
    return fig


def render_html(rep: SweepReport, path: str | Path, plotlyjs: str = "inline") -> int:
    """Write the report atomically (plotly.js as ``plotlyjs`` says); returns the number of figures."""
    import plotly.io as pio

    from hetier.analysis.reports.html import _CSS, _ERRORS, plotly_script
    from hetier.atomic import write_bytes_atomic

    figs = figures(rep)
    parts = [f"<h1>hetier sweep report: {html.escape(Path(rep.path).name)}</h1><ul class=\"summary\">"
             + "".join(f"<li>{html.escape(s)}</li>" for s in summary_lines(rep)) + "</ul>"]
    for i, (title, fig, note) in enumerate(figs):
        parts.append(f"<h2>{html.escape(title)}</h2><p class=\"note\">{html.escape(note)}</p>")
        parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=f"fig{i}", config={"responsive": True}))
    doc = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>hetier sweep report</title><style>{_CSS}</style>"
           f"{_ERRORS}{plotly_script(plotlyjs, path)}</head><body>{''.join(parts)}</body></html>")
    write_bytes_atomic(path, doc.encode())
    return len(figs)


def report_sweep(path: str, output: str | None, fmt: str, force: bool, baseline: str | None,
                 plotlyjs: str = "inline") -> int:
    """`hetier report SWEEP_DIR`: the HTML file (and the summary) or the text report."""
    from hetier.atomic import check_output
    from hetier.terminal import table_console

    if fmt == "html" and not output:
        raise UsageError("an HTML report needs -o FILE (or use --format text)")
    out = check_output(output, force) if fmt == "html" else None
    rep = build_report(path, baseline)
    console = table_console()
    if out is None:
        render_text(rep, console)
        return 0
    n = render_html(rep, out, plotlyjs)
    for line in summary_lines(rep):
        console.print(line, markup=False)
    console.print(f"wrote {out} ({n} figures, {out.stat().st_size / 1e6:.1f} MB)")
    return 0
