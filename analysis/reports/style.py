"""How the reports draw: colours of tiers, kinds, policies and read/write, and the plot axes.
The words and numbers (tier order and names, GB, "does not fit") are in hetier/vocabulary.py."""

from __future__ import annotations

TIER_COLOURS = {"dram": "#1f77b4", "pmem": "#d62728", "cxl": "#9467bd", "compute": "#7f7f7f"}
KIND_COLOURS = {"ciphertext": "#1f77b4", "temporary": "#ff7f0e", "plaintext": "#2ca02c", "key": "#8c564b", "host": "#9467bd"}
POLICY_COLOURS = {"all-dram": "#1f77b4", "all-pmem": "#d62728", "all-cxl": "#d62728", "dram-first": "#2ca02c",
                  "interleave": "#17becf", "kind-aware": "#bcbd22", "memory-mode": "#ff7f0e"}
READ_WRITE_COLOURS = {"read": "#4c78a8", "written": "#f58518"}
OTHER_COLOUR = "#c7c7c7"


def tier_colour(tier: str) -> str:
    return TIER_COLOURS.get(tier, OTHER_COLOUR)


def policy_colour(policy: str) -> str:
    return POLICY_COLOURS.get(policy.split(":")[0], OTHER_COLOUR)


def layer_axis(names: list[str]) -> dict:
    """A plotly axis with every layer name on it (small, vertical), whatever their number."""
    return dict(title="layer (in execution order)", tickmode="array", tickvals=names, ticktext=names, tickangle=-90,
                tickfont=dict(size=9), automargin=True)


def time_axis_title(meta: dict) -> str:
    """A trace's time axis: recorded for real runs, modelled for plan traces."""
    return "modelled time (s)" if meta.get("mode") == "plan" else "recorded time (s)"
