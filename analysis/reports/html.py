"""One self-contained HTML report (plotly.js embedded, no network) from computed tables.

The renderer never opens a trace: it takes an ``Analysis``, an optional ``Comparison`` and
writes the file atomically. Curves are already downsampled by the analysis, so big traces give
small reports.
"""

from __future__ import annotations

import html
import json
import os

from hetier.analysis.comparison import Comparison, fast_tier_capacities
from hetier.analysis.reports import advice as advice_section
from hetier.analysis.metrics import Analysis
from hetier.analysis.reports.summary import headline
from hetier.analysis.reports.text import COLUMNS, cells
from hetier.analysis.reports.tiering import tiering_figures
from hetier.analysis.reports.style import (KIND_COLOURS, OTHER_COLOUR, READ_WRITE_COLOURS, TIER_COLOURS, layer_axis,
                                           policy_colour, tier_colour, time_axis_title)
from hetier.atomic import write_bytes_atomic
from hetier.vocabulary import gb, ordered_tiers, policy_label

_CSS = """body{font-family:system-ui,sans-serif;margin:24px;max-width:1400px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}.summary li{margin:4px 0}.warn{color:#a40}.note{color:#666;font-size:13px}"""

# Errors in the page end up in this element, so a headless browser test can read them.
_ERRORS = """<div id="hetier-js-errors" style="display:none"></div><script>
window.addEventListener('error', function(e){document.getElementById('hetier-js-errors').textContent += e.message + '\\n';});
</script>"""


_LIFETIME_NOTE = ("Lifetime: from a buffer's first allocation to its last free; at tensor granularity a tensor made "
                  "and freed inside one layer is marked ≈ and gets op duration x peak live / ciphertexts made "
                  "(Little's law with the peak as the live count, an upper bound): the tensor rows do not keep "
                  "each ciphertext's allocation and free times.")


def _capacity_lines(fig, comp: Comparison | None, top: float, x_max_bytes: float | None = None,
                    legend_suffix=lambda cap: "") -> list[str]:
    """Each machine's fast-tier capacity as a dashed vertical line (x in GB) up to ``top``; returns
    the labels of capacities beyond ``x_max_bytes``, which are left off so the data stays readable."""
    import plotly.graph_objects as go

    beyond = []
    for label, cap in (fast_tier_capacities(comp.runs) if comp else []):
        if x_max_bytes is not None and cap > x_max_bytes:
            beyond.append(label)
            continue
        fig.add_trace(go.Scatter(x=[cap / 1e9, cap / 1e9], y=[0, top], mode="lines", line=dict(dash="dash"),
                                 name=label + legend_suffix(cap)))
    return beyond


def _beyond_note(beyond: list[str], what: str) -> str:
    return f" Not drawn, beyond the x axis ({what}): {'; '.join(beyond)}." if beyond else ""


def _figures(an: Analysis, comp: Comparison | None) -> list[tuple[str, object, str]]:
    import plotly.graph_objects as go

    figs = []
    t = an.live_ts / 1e9
    time_title = time_axis_title(an.meta)
    for title, series, colours in (("Live bytes by buffer kind", an.live_by_kind, KIND_COLOURS),
                                   ("Live bytes by allocating layer", an.live_by_layer, {})):
        fig = go.Figure()
        for name, y in series.items():
            colour = colours.get(name, OTHER_COLOUR if name == "other layers" else None)
            fig.add_trace(go.Scatter(x=t, y=y / 1e9, name=name, stackgroup="one", mode="lines",
                                     line=dict(width=0.5, color=colour)))
        fig.add_trace(go.Scatter(x=[an.peak_ts / 1e9], y=[an.peak_bytes / 1e9], mode="markers+text",
                                 text=[f"peak {gb(an.peak_bytes)} ({an.peak_layer})"], textposition="top center",
                                 marker=dict(color="black", size=9), name="peak"))
        fig.update_layout(title=title, xaxis_title=time_title, yaxis_title="live bytes (GB)", height=420)
        figs.append((title, fig, "Stacked live (allocated, not yet freed) bytes; the marker is the peak."))
    fig = go.Figure(go.Scatter(x=an.hot_x * an.allocated_bytes / 1e9, y=100 * an.hot_y, mode="lines",
                               name="hottest buffers first"))
    fig.add_trace(go.Scatter(x=[0, an.allocated_bytes / 1e9], y=[0, 100], mode="lines",
                             line=dict(dash="dot", color="#aaa"), name="uniform"))
    beyond = _capacity_lines(fig, comp, 100, an.allocated_bytes)
    fig.update_layout(title="Hot/cold: traffic served by the hottest bytes", height=420,
                      xaxis_title="allocated bytes, hottest per byte first (GB, summed over the run)",
                      yaxis_title="traffic served (% of bytes read + written)")
    figs.append(("Hot/cold", fig, "Buffers sorted by traffic per byte. The x axis sums every buffer allocated during "
                 "the run; they are not all live at once, so a fast tier left of a dashed line can hold more than "
                 "the curve's share at that point when it is reused over time."
                 + _beyond_note(beyond, "they hold every byte ever allocated")))
    figs.append(_reuse_figure(an, comp))
    pl = an.per_layer
    fig = go.Figure([go.Bar(x=pl["layer"], y=[b / 1e9 for b in pl["read_bytes"]], name="read",
                            marker_color=READ_WRITE_COLOURS["read"]),
                     go.Bar(x=pl["layer"], y=[b / 1e9 for b in pl["write_bytes"]], name="written",
                            marker_color=READ_WRITE_COLOURS["written"])])
    fig.update_layout(barmode="stack", title="Traffic per layer", yaxis_title="bytes moved (GB)",
                      xaxis=layer_axis(pl["layer"]), height=460)
    figs.append(("Traffic per layer", fig, "Bytes read and written by each layer's HE primitives (before any CPU cache)."))
    fig = go.Figure(go.Bar(x=pl["layer"], y=pl["seconds"], name="time", marker_color=TIER_COLOURS["compute"]))
    fig.update_layout(title=f"{'Modelled' if an.meta.get('mode') == 'plan' else 'Recorded'} time per layer",
                      yaxis_title=time_title, xaxis=layer_axis(pl["layer"]), height=440)
    figs.append(("Time per layer", fig, f"Durations are {an.meta['durations']}."))
    pp = an.per_prim
    fig = go.Figure([go.Bar(x=pp["prim"], y=[b / 1e9 for b in pp["read_bytes"]], name="read",
                            marker_color=READ_WRITE_COLOURS["read"]),
                     go.Bar(x=pp["prim"], y=[b / 1e9 for b in pp["write_bytes"]], name="written",
                            marker_color=READ_WRITE_COLOURS["written"])])
    fig.update_layout(barmode="group", title="Traffic per HE primitive", xaxis_title="HE primitive",
                      yaxis_title="bytes moved (GB)", height=380)
    figs.append(("Traffic per primitive", fig, "Read/write mix of each primitive."))
    if comp is not None:
        figs.extend(_comparison_figures(comp))
        figs.extend(tiering_figures(comp))  # runs whose kernel or hardware moved bytes: promotions over time
    return figs


def figures(an: Analysis, comp: Comparison | None = None) -> list[tuple[str, object, str]]:
    """The report's figures (title, plotly Figure, note), as the HTML shows them; for the Python API."""
    return _figures(an, comp)


def _comparison_figures(comp: Comparison) -> list[tuple[str, object, str]]:
    """Predicted time per configuration, then each fitting run's time per layer; one colour per tier."""
    import plotly.graph_objects as go

    figs = []
    rows = [r for r in comp.rows() if r["time_s"] is not None]
    labels = [f"{r['machine']}<br>{r['policy']}" for r in rows]
    fig = go.Figure([go.Bar(x=labels, y=[r["compute_s"] / max(r["threads"], 1) for r in rows], name="compute",
                            marker_color=TIER_COLOURS["compute"])])
    for t in ordered_tiers(t for r in rows for t in r["stall_s"]):
        fig.add_trace(go.Bar(x=labels, y=[r["stall_s"].get(t, 0.0) / max(r["threads"], 1) for r in rows],
                             name=f"stall {t}", marker_color=tier_colour(t)))
    fig.add_trace(go.Scatter(x=labels, y=[r["time_s"] for r in rows], mode="markers", name="makespan (policy colour)",
                             marker=dict(color=[policy_colour(r["policy"]) for r in rows], symbol="diamond", size=12,
                                         line=dict(color="black", width=1))))
    fig.update_layout(barmode="stack", title="Predicted time per configuration", xaxis_title="machine / policy",
                      yaxis_title="predicted time (s; bars: thread-time / threads)", height=450)
    figs.append(("Policy comparison", fig, "Configurations that do not fit have no bar; see the table."))
    for run, layers in comp.run_layers():
        label = f"{run['machine']['name']} / {policy_label(run['policy'], run['machine'])}"
        threads = max(run["threads"], 1)
        fig = go.Figure([go.Bar(x=layers["name"], y=[v / 1e9 / threads for v in layers["compute_ns"]],
                                name="compute", marker_color=TIER_COLOURS["compute"])])
        for t in ordered_tiers(run["stall_ns"]):
            fig.add_trace(go.Bar(x=layers["name"], y=[v / 1e9 / threads for v in layers[f"stall_ns_{t}"]],
                                 name=f"stall {t}", marker_color=tier_colour(t)))
        fig.update_layout(barmode="stack", title=f"Where the time goes per layer: {label}",
                          yaxis_title="predicted time (s; thread-time / threads)", xaxis=layer_axis(layers["name"]),
                          height=440)
        figs.append((f"Per layer: {label}", fig, "Compute and memory stall of each layer in this replay."))
        busy = _busy_figure(run, layers, label)
        if busy:
            figs.append(busy)
    return figs


def _busy_figure(run: dict, layers: dict, label: str) -> tuple[str, object, str] | None:
    """Busy threads and live bytes over one replay (what the target's CPU-use and memory plots
    would show); None for results of an older hetier, which do not say how many threads ops ran on."""
    import numpy as np
    import plotly.graph_objects as go

    from hetier.analysis.busy_threads import busy_threads

    t, n = busy_threads(layers, max(run["threads"], 1))
    if not len(t):
        return None
    fig = go.Figure(go.Scatter(x=t / 1e9, y=100 * n, mode="lines", line=dict(shape="hv", color=TIER_COLOURS["compute"]),
                               name="CPU use (busy threads x 100%)"))
    live = [k for k in layers if k.startswith("live_end_bytes_")]
    if live:
        total = np.sum([np.asarray(layers[k], dtype=float) for k in live], axis=0)
        fig.add_trace(go.Scatter(x=np.asarray(layers["end_ns"]) / 1e9, y=total / 1e9, mode="lines", yaxis="y2",
                                 line=dict(shape="hv", color=OTHER_COLOUR), name="live GB (all tiers)"))
    fig.update_layout(title=f"Busy threads over the run: {label}", xaxis_title="predicted time (s)",
                      yaxis=dict(title="CPU use (%; 100% per busy thread)", rangemode="tozero"),
                      yaxis2=dict(title="live bytes after each op (GB)", overlaying="y", side="right",
                                  rangemode="tozero"), height=400)
    return (f"Busy threads: {label}", fig, "Threads each op kept busy (its serial part, e.g. the executor's teardown: "
            "one), and live bytes after each op: what a CPU-use and a memory plot of the target would show.")


def _reuse_figure(an: Analysis, comp: Comparison | None) -> tuple[str, object, str]:
    """Bytes re-accessed per stack-distance bin (GB, log axis), their cumulative share, and each
    machine's fast-tier capacity as a vertical line."""
    import numpy as np
    import plotly.graph_objects as go

    h = an.reuse
    # bin 0 (distance 0) joins bin 1 ([1, 2) B) so that every bin has a lower edge on a log axis
    per_bin = np.concatenate([[h.bytes[0] + h.bytes[1]], h.bytes[2:]])
    nz = np.flatnonzero(per_bin)
    fig = go.Figure()
    if len(nz):
        ks = np.arange(nz.min(), nz.max() + 1)
        lower = [2.0 ** k / 1e9 for k in ks]  # bin k of per_bin covers [2^k, 2^(k+1)) B
        upper = [2.0 ** (k + 1) / 1e9 for k in ks]
        total = per_bin.sum()
        fig.add_trace(go.Scatter(x=lower + [upper[-1]], y=list(per_bin[ks] / 1e9) + [per_bin[ks[-1]] / 1e9],
                                 line_shape="hv", fill="tozeroy", mode="lines", name="bytes re-accessed",
                                 hovertemplate="distance %{x:.3g} GB and up: %{y:.3g} GB re-accessed<extra></extra>"))
        fig.add_trace(go.Scatter(x=upper, y=list(100 * np.cumsum(per_bin[ks]) / total), yaxis="y2", mode="lines+markers",
                                 name="re-accessed bytes below distance (%)", line=dict(color="black", width=1)))
        _capacity_lines(fig, comp, float(per_bin.max()) / 1e9, legend_suffix=lambda cap: f" ({100 * h.share_beyond(cap):.0f}%+ beyond)")
    ticks = [10.0 ** e for e in range(0, 16, 3)]  # 1 B, 1 kB, ... 1 PB; the axis itself is in GB
    fig.update_layout(title="Reuse (stack) distance", height=480,
                      xaxis=dict(type="log", title="stack distance (GB, log; ticks labelled in bytes)",
                                 tickvals=[t / 1e9 for t in ticks], ticktext=["1 B", "1 kB", "1 MB", "1 GB", "1 TB", "1 PB"]),
                      yaxis=dict(title="bytes re-accessed (GB)"),
                      yaxis2=dict(title="re-accessed bytes below distance (%)", overlaying="y", side="right",
                                  range=[0, 105], tickvals=[0, 20, 40, 60, 80, 100], showgrid=False),
                      legend=dict(orientation="h", yanchor="top", y=-0.25))
    cold = f"{gb(h.cold_bytes)} in {h.cold_accesses:,.0f} first touches have no previous access and are not shown."
    note = ("Per access: the distinct bytes touched since the previous access of the same buffer, weighted by the "
            "bytes accessed (a tensor row of n ciphertexts is n accesses). Left of a dashed line an LRU fast tier of "
            "that size holds the data; right of it the data comes back from the slow tier (the share beyond is a "
            "lower bound: bins that straddle the line are counted as inside). The first step, at 1 B, also holds "
            "distance 0 (the same buffer again with nothing in between). " + cold)
    if an.meta.get("granularity") == "tensor":
        note += (" At tensor granularity the buffer is the tensor and an op's rows are in a sorted, not a time, "
                 "order: re-accesses inside one layer show distance 0 although their ciphertexts interleave with "
                 "others'. A ciphertext-granularity trace gives the distances inside a layer.")
    return "Reuse distance", fig, note


def _table(cols: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _advice_html(doc: dict) -> str:
    """The advice section's summary and its ranking table per machine (its figures follow the others)."""
    a = advice_section
    out = ["<h2>Placement advice</h2><ul class=\"summary\">"
           + "".join(f"<li>{html.escape(s)}</li>" for s in a.summary(doc)) + "</ul>"]
    for m in doc["machines"]:
        out.append(f"<p class=\"note\">{html.escape(a.ranking_title(doc['trace'].get('model', '?'), m, doc['threads']))}"
                   f"</p>" + _table(a.ranking_columns(m), a.ranking_rows(m, doc["bisected"])))
    return "".join(out)


PLOTLYJS = ("inline", "cdn", "directory")


def plotly_script(mode: str, out: str | os.PathLike) -> str:
    """How the page loads plotly.js: ``inline`` (the default; the file works offline, ~4.6 MB
    more), ``cdn`` (a script tag for plotly's CDN at the installed version) or ``directory``
    (plotly.min.js written once beside the report, shared by the reports of that folder)."""
    from plotly.offline import get_plotlyjs

    if mode == "inline":
        return f"<script type=\"text/javascript\">{get_plotlyjs()}</script>"
    if mode == "cdn":
        import plotly

        return f"<script src=\"https://cdn.plot.ly/plotly-{plotly.__version__}.min.js\" charset=\"utf-8\"></script>"
    js = os.path.join(os.path.dirname(os.path.abspath(out)), "plotly.min.js")
    body = get_plotlyjs().encode()
    if not os.path.exists(js) or os.path.getsize(js) != len(body):
        write_bytes_atomic(js, body)
    return "<script src=\"plotly.min.js\" charset=\"utf-8\"></script>"


def render_html(an: Analysis, comp: Comparison | None, path: str | os.PathLike, advice: dict | None = None,
                plotlyjs: str = "inline") -> int:
    """Write the report (with an advice section if an advice document is given); returns the number of figures."""
    import plotly.io as pio

    figs = _figures(an, comp)
    advice_figs = advice_section.advice_figures(advice) if advice else []
    m = an.meta
    parts = [f"<h1>hetier report: {html.escape(m['model']['name'])}</h1>"]
    cls = ' class="warn"' if an.truncated else ""
    parts.append(f"<ul class=\"summary\"{cls}>" + "".join(f"<li>{html.escape(s)}</li>" for s in headline(an, comp)) + "</ul>")
    if comp is not None:
        rows = [cells(r)[:8] + [", ".join(f"{k} {v:.2f}" for k, v in r["peak_gb"].items()),
                                ", ".join(f"{k} {r['read_gb'][k]:.1f}/{r['write_gb'][k]:.1f}" for k in r["read_gb"]),
                                cells(r)[-1]] for r in comp.rows()]
        parts.append("<h2>Configurations</h2>" + _table(
            list(COLUMNS[:8]) + ["peak GB by tier", "GB read/written by tier", COLUMNS[-1]], rows))
    for i, (title, fig, note) in enumerate(figs + advice_figs):
        if advice and i == len(figs):  # the advice section: its tables, then its figures
            parts.append(_advice_html(advice))
        parts.append(f"<h2>{html.escape(title)}</h2><p class=\"note\">{html.escape(note)}</p>")
        parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=f"fig{i}",
                                 config={"responsive": True}))
    s = an.sites
    if s:
        order = sorted(range(len(s["layer"])), key=lambda i: -s["bytes"][i])[:25]
        parts.append("<h2>Allocation sites (largest 25)</h2><p class=\"note\">Per allocating layer and buffer kind, "
                     "as Valgrind's DHAT shows heap blocks. <em>count</em> is the trace's count column summed over "
                     "allocations: ciphertexts (plaintexts, keys), not rows. " + _LIFETIME_NOTE + "</p>" + _table(
            ["layer", "kind", "buffers", "count", "bytes", "mean lifetime (s)", "reads/byte", "writes/byte",
             "bytes never read"],
            [[s["layer"][i], s["kind"][i], f"{s['buffers'][i]:,}", f"{s['count'][i]:,}", gb(s["bytes"][i]),
              ("≈ " if s["lifetime_derived"][i] else "") + f"{s['mean_lifetime_s'][i]:.3g}",
              f"{s['reads_per_byte'][i]:.2f}", f"{s['writes_per_byte'][i]:.2f}", gb(s["bytes_never_read"][i])]
             for i in order]))
    # the metadata the trace has (versions, host, start_time and runtime are optional in the format)
    meta = {k: m[k] for k in ("he", "model", "mode", "durations", "granularity", "host", "versions", "start_time", "runtime")
            if k in m}
    parts.append("<h2>Trace metadata</h2><pre>" + html.escape(json.dumps(meta, indent=1, sort_keys=True)) + "</pre>")
    doc = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>hetier report: {html.escape(m['model']['name'])}"
           f"</title><style>{_CSS}</style>{_ERRORS}{plotly_script(plotlyjs, path)}</head>"
           f"<body>{''.join(parts)}</body></html>")
    write_bytes_atomic(path, doc.encode())
    return len(figs) + len(advice_figs)
