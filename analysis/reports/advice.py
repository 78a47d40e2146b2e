"""The advice section of a report, from an advice file of `hetier advise --advice`: policies
ranked against all-DRAM and Memory Mode, where the recommended placement keeps each layer's live
bytes (by tier), the bytes it migrates, and (``--tiering``) what Linux tiering and Flat Memory Mode
moved over time, drawn by the results' tiering figure (analysis/reports/tiering.py). `hetier
advise` prints its tables with the same cells.
"""

from __future__ import annotations

from hetier.analysis.reports.style import layer_axis, policy_colour, tier_colour
from hetier.analysis.reports.tiering import tiering_figure
from hetier.terminal import safe
from hetier.vocabulary import NONE, gb, ordered_tiers, seconds


def _size(b) -> str:
    return NONE if b is None else gb(b)


def _secs(ns) -> str:
    return NONE if ns is None else seconds(ns)


def _ratio(x) -> str:
    return NONE if x is None else f"{x:.3f}x"


def ranking_columns(machine: dict) -> list[str]:
    fast = machine["fast_tier"]
    mm = ["vs Memory Mode"] if machine["memory_mode_ns"] is not None else []
    return ["rank", "policy", "time", "vs all-DRAM", *mm, f"{fast} peak", "migrated", f"{fast} for <=5% of all-DRAM",
            "deploy"]


def ranking_title(model: str, machine: dict, threads: int) -> str:
    mm = f", Memory Mode {_secs(machine['memory_mode_ns'])}" if machine["memory_mode_ns"] is not None else ""
    need = machine.get("memory_needed_bytes", machine.get("peak_live_bytes"))  # advice files before it: the live peak
    return (f"{model} on {machine['machine']} ({machine['fast_tier']} {_size(machine['fast_bytes'])}, memory needed "
            f"{_size(need)}), {threads} thread(s): all-DRAM {_secs(machine['all_dram_ns'])}{mm}")


def _deploy(row: dict) -> str:
    """How a real process gets the placement (numactl words), or that only the simulator can."""
    how = row.get("deploy")
    return how.split(" (")[0] if how else "simulation only"


def ranking_rows(machine: dict, bisected: bool) -> list[list[str]]:
    """One machine's policies, fastest first; a policy that did not run is a row saying why. The
    Memory Mode column only where the machine has a Memory Mode twin (PMem)."""
    has_mm = machine["memory_mode_ns"] is not None
    rows = []
    for i, r in enumerate(machine["rows"], 1):
        if r["time_ns"] is None:
            rows.append([NONE, r["policy"], r["why"], "", *([""] if has_mm else []), "", "", "", _deploy(r)])
            continue
        smallest = (NONE if not (bisected and r.get("searched", True)) else "not reached" if r["min_fast_bytes"] is None
                    else _size(r["min_fast_bytes"]))
        mm = [_ratio(r["vs_memory_mode"])] if has_mm else []
        rows.append([str(i), r["policy"], _secs(r["time_ns"]), _ratio(r["vs_all_dram"]), *mm,
                     _size(r["fast_peak_bytes"]), _size(r["migrated_bytes"]), smallest, _deploy(r)])
    return rows


def layer_tiers(layers: list[dict]) -> list[str]:
    return ordered_tiers(t for row in layers for t in row["bytes"])


def layer_columns(layers: list[dict]) -> list[str]:
    return ["op", "layer", *layer_tiers(layers), "moved in before it"]


def layer_rows(layers: list[dict]) -> list[list[str]]:
    """Per op: live bytes by tier at its peak under the recommended placement, and bytes moved in."""
    tiers = layer_tiers(layers)
    return [[str(r["op"]), r["layer"], *(_size(r["bytes"].get(t, 0)) for t in tiers), _size(r["moved_bytes"])]
            for r in layers]


def summary(doc: dict) -> list[str]:
    """The recommendation in a sentence or two."""
    best = doc["recommended"]
    m = next((m for m in doc["machines"] if m["machine"] == best["machine"]), None)
    vs = [f"{_ratio(best['vs_all_dram'])} all-DRAM"] + ([f"{_ratio(best['vs_memory_mode'])} Memory Mode"]
                                                       if best["vs_memory_mode"] is not None else [])
    fast = f" in {m['fast_tier']} {_size(m['fast_bytes'])}" if m else ""
    return [f"Recommended placement: {best['policy']} on {best['machine']}{fast}, {_secs(best['time_ns'])} "
            f"({', '.join(vs)}) with {doc['threads']} thread(s); it migrates {_size(best['migrated_bytes'])} "
            f"between tiers.",
            f"Advice made for trace {doc['trace'].get('file')} (sha256 {str(doc['trace'].get('sha256'))[:12]}).",
            tiering_line(doc)]


NO_TIERING_COLUMNS = ("This advice file has no per-op tiering columns (written before advice files kept them): "
                      "no promotions and demotions over time; `hetier advise --tiering --advice FILE` writes them.")


def tiering_line(doc: dict) -> str:
    """What the advice holds of tiering over time: the runs drawn, none, or that the file predates it."""
    if "tiering" not in doc:
        return NO_TIERING_COLUMNS
    n = len(doc["tiering"])
    if not n:
        return "No tiering run in this advice (`hetier advise --tiering` ranks Linux tiering and Flat Memory Mode)."
    return (f"Tiering over time: {n} run(s) of Linux tiering or Flat Memory Mode with their bytes moved per op "
            "(drawn in the HTML report).")


def tiering_figures(doc: dict) -> list[tuple[str, object, str]]:
    """Per tiering run the advice file keeps: the figure a results file's tiering run gets."""
    figs = []
    for entry in doc.get("tiering", []):
        m, ops = entry["machine"], entry["ops"]
        layers = {k: v for k, v in ops.items() if k != "resident_bytes"}
        if "resident_bytes" in ops:
            layers[f"live_end_bytes_{m['tiers'][0]['tier']}"] = ops["resident_bytes"]
        title, fig, note = tiering_figure(m, entry["policy"], layers)
        figs.append((f"Advice: {title}", fig, note))
    return figs


def advice_figures(doc: dict) -> list[tuple[str, object, str]]:
    """Predicted time per policy on each machine, the recommended placement's live bytes per
    layer by tier with the bytes moved in before each layer, then each tiering run over time."""
    import plotly.graph_objects as go

    figs = []
    for m in doc["machines"]:
        ran = [r for r in m["rows"] if r["time_ns"] is not None]
        if not ran:
            continue
        fig = go.Figure(go.Bar(x=[r["policy"] for r in ran], y=[r["time_ns"] / 1e9 for r in ran], name="policy",
                               marker_color=[policy_colour(r["policy"]) for r in ran]))
        for name, ns, colour in (("all-DRAM", m["all_dram_ns"], policy_colour("all-dram")),
                                 ("Memory Mode", m["memory_mode_ns"], policy_colour("memory-mode"))):
            if ns:
                fig.add_trace(go.Scatter(x=[r["policy"] for r in ran], y=[ns / 1e9] * len(ran), mode="lines",
                                         line=dict(dash="dash", color=colour), name=f"{name} {_secs(ns)}"))
        fig.update_layout(title=f"Policies ranked on {m['machine']}", xaxis_title="policy",
                          yaxis_title="predicted time (s)", height=400)
        figs.append((f"Advice: policies on {m['machine']}", fig,
                     "Predicted time of each policy that fits, beside the same machine with all data in DRAM and "
                     "in Memory Mode (dashed). Policies that do not run are in the table above."))
    layers = doc["layers"]
    names = [r["layer"] for r in layers]
    best = doc["recommended"]
    fig = go.Figure([go.Bar(x=names, y=[r["bytes"].get(t, 0) / 1e9 for r in layers], name=t,
                            marker_color=tier_colour(t)) for t in layer_tiers(layers)])
    fig.add_trace(go.Scatter(x=names, y=[r["moved_bytes"] / 1e9 for r in layers], mode="markers",
                             name="moved in before the layer", marker=dict(color="black", symbol="diamond", size=9)))
    fig.update_layout(barmode="stack", title=f"Where {best['policy']} on {best['machine']} keeps the live bytes",
                      yaxis_title="live bytes at the layer's peak (GB)", xaxis=layer_axis(names), height=460)
    figs.append(("Advice: live bytes by tier per layer", fig,
                 "Bars: the live bytes at each layer's peak under the recommended placement, by tier. Diamonds: "
                 f"bytes migrated into their tier just before the layer ({_size(best['migrated_bytes'])} in all)."))
    return figs + tiering_figures(doc)


def render_advice_text(doc: dict, console) -> None:
    for line in summary(doc):
        console.print(f"- {safe(line, 2000)}")
    for m in doc["machines"]:
        console.print(rich_table(ranking_title(doc["trace"].get("model", "?"), m, doc["threads"]),
                                 ranking_columns(m), ranking_rows(m, doc["bisected"])))
    best = doc["recommended"]
    print_layer_table(console, f"{best['policy']} on {best['machine']}", doc["layers"])


def print_layer_table(console, placement: str, layers: list[dict]) -> None:
    """The per-op table (one row per op: 10^5 rows on a large trace) drawn in one pass."""
    from hetier.text_table import text_table

    text = text_table(f"{placement}: live bytes at each layer's peak, by tier", layer_columns(layers), layer_rows(layers))
    console.file.write(text + "\n")  # as it is: rich would split and measure every line again
    console.file.flush()


def rich_table(title: str, columns: list[str], rows: list[list[str]]):
    from rich.table import Table

    t = Table(title=safe(title, 2000))
    for col in columns:
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(*(safe(c) for c in r))
    return t
