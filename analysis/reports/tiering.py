"""The tiering section of a report: what the kernel (Linux tiering) promoted into DRAM and demoted
out of it, or what the memory controller (Flat Memory Mode) swapped, op by op over simulated
time, and under Linux tiering the bytes resident in DRAM after each op. Drawn from the per-op
columns results files hold (formats/results.py MOVE_COLUMNS, ``live_end_bytes_TIER``), so the
bars add up to the run's totals; the advice section draws an advice file's tiering runs with the
same ``tiering_figure`` (reports/advice.py).
"""

from __future__ import annotations

from hetier.analysis.comparison import Comparison
from hetier.analysis.reports.style import tier_colour
from hetier.formats.results import MOVE_COLUMNS
from hetier.vocabulary import gb, policy_label

# a memory system that moves bytes by itself -> (what moving in is called, moving out, who moves them)
MOVED_BY = {"linux-tiering": ("promoted", "demoted", "the kernel (NUMA balancing promotes, kswapd demotes)"),
            "flat-memory-mode": ("swapped in", "swapped out", "the memory controller (a line swapped on access)")}


def moving_runs(comp: Comparison) -> list[tuple[dict, dict]]:
    """(run, per-op columns) of every run that fits under a memory system that moves bytes by itself."""
    return [(run, layers) for run, layers in comp.run_layers()
            if run["machine"]["mode"] in MOVED_BY and all(c in layers for c in MOVE_COLUMNS)]


def tiering_figures(comp: Comparison) -> list[tuple[str, object, str]]:
    """The tiering figure of every run in ``comp`` whose memory system moves bytes by itself."""
    return [tiering_figure(run["machine"], run["policy"], layers) for run, layers in moving_runs(comp)]


def tiering_figure(m: dict, policy: str, layers: dict) -> tuple[str, object, str]:
    """Bytes moved into the fast tier (up) and out of it (down) at each op, a bar spanning the
    op's simulated time; under Linux tiering the fast tier's resident bytes after each op (a step
    line, right axis) and its capacity. ``m`` is a machine as results embed it (name, mode, tiers
    with tier and capacity_gb), ``layers`` the per-op columns name, start_ns, end_ns, MOVE_COLUMNS
    and optionally live_end_bytes_FAST: a results run's, or an advice file's tiering entry."""
    import plotly.graph_objects as go

    fast, slow = m["tiers"][0]["tier"], m["tiers"][-1]["tier"]
    into, out_of, who = MOVED_BY[m["mode"]]
    start = [s / 1e9 for s in layers["start_ns"]]
    width = [(e - s) / 1e9 for s, e in zip(layers["start_ns"], layers["end_ns"])]
    mid = [s + w / 2 for s, w in zip(start, width)]
    hover = "%{customdata}: %{y:.4g} GB<extra></extra>"
    fig = go.Figure([
        go.Bar(x=mid, width=width, y=[b / 1e9 for b in layers["promoted_bytes"]], customdata=layers["name"],
               name=f"{into} ({fast})", marker_color=tier_colour(fast), hovertemplate=hover),
        go.Bar(x=mid, width=width, y=[-b / 1e9 for b in layers["demoted_bytes"]], customdata=layers["name"],
               name=f"{out_of} (to {slow})", marker_color=tier_colour(slow), hovertemplate=hover)])
    resident = f"live_end_bytes_{fast}"
    if m["mode"] == "linux-tiering" and resident in layers:
        ends = [e / 1e9 for e in layers["end_ns"]]
        held = [b / 1e9 for b in layers[resident]]
        fig.add_trace(go.Scatter(x=[0.0, *ends], y=[0.0, *held], yaxis="y2",
                                 mode="lines", line_shape="hv", line=dict(color="black", width=1.5),
                                 name=f"resident in {fast} after the op"))
        cap = m["tiers"][0]["capacity_gb"]
        fig.add_trace(go.Scatter(x=[0.0, ends[-1] if ends else 0.0], y=[cap, cap], yaxis="y2", mode="lines",
                                 line=dict(color="black", dash="dash", width=1), name=f"{fast} capacity {cap:,.2f} GB"))
        fig.update_layout(yaxis2=dict(title=f"resident in {fast} (GB)", overlaying="y", side="right",
                                      range=[0, 1.05 * max([cap, *held])], showgrid=False))
    label = f"{m['name']} / {policy_label(policy, m)}"
    fig.update_layout(barmode="relative", title=f"Tiering over time: {label}", height=440,
                      xaxis_title="simulated time (s)", yaxis_title=f"GB {into} (up) / {out_of} (down) per op",
                      legend=dict(orientation="h", yanchor="top", y=-0.2))
    moved_in, moved_out = sum(layers["promoted_bytes"]), sum(layers["demoted_bytes"])
    note = (f"Bytes {who} moved at each op: each bar spans the op's simulated time; up, {into} {fast} "
            f"({gb(moved_in)} in all), down, {out_of} it to {slow} ({gb(moved_out)} in all).")
    if m["mode"] == "linux-tiering":
        note += f" The line is the bytes resident in {fast} after each op, the dashed line {fast}'s capacity."
    else:
        note += (f" Flat Memory Mode keeps every line in exactly one of {fast} and {slow}, so each line swapped "
                 f"in sends one out and {fast} is always full: there is no resident curve to draw.")
    return f"Tiering over time: {label}", fig, note
