"""One vocabulary for replay, report and export: tier order and names, colours, GB formatting,
the "does not fit" sentence and the mark for a value that does not exist.

Tiers are named by their device kind where a policy or tier name says "pmem" on a machine whose
slow tier is something else (a CXL expander), so a reader never sees "all-pmem" on a CXL machine.
"""

from __future__ import annotations

NONE = "-"  # a value that does not exist (a run that does not fit has no compute or stall)

# Fast tier first; a machine lists its tiers in this order too (dram, then the slow tier).
TIER_ORDER = ("dram", "pmem", "cxl")
TIER_COLOURS = {"dram": "#1f77b4", "pmem": "#d62728", "cxl": "#9467bd", "compute": "#7f7f7f"}
KIND_COLOURS = {"ciphertext": "#1f77b4", "temporary": "#ff7f0e", "plaintext": "#2ca02c", "key": "#8c564b"}
POLICY_COLOURS = {"all-dram": "#1f77b4", "all-pmem": "#d62728", "all-cxl": "#d62728", "dram-first": "#2ca02c",
                  "interleave": "#17becf", "kind-aware": "#bcbd22", "memory-mode": "#ff7f0e"}
READ_WRITE_COLOURS = {"read": "#4c78a8", "written": "#f58518"}
OTHER_COLOUR = "#c7c7c7"


def gb(n: float) -> str:
    """Bytes as GB (or MB below 0.1 GB), two decimals."""
    return f"{n / 1e9:,.2f} GB" if n >= 1e8 else f"{n / 1e6:,.1f} MB"


def tier_sort_key(tier: str) -> tuple[int, str]:
    return (TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER), tier)


def ordered_tiers(tiers) -> list[str]:
    """Tier names fast first, in one order everywhere."""
    return sorted(set(tiers), key=tier_sort_key)


def tier_colour(tier: str) -> str:
    return TIER_COLOURS.get(tier, OTHER_COLOUR)


def slow_tier_kind(machine: dict) -> str | None:
    """Device kind (pmem, cxl, ...) of a machine's slow tier; None for a single tier."""
    tiers = machine.get("tiers", [])
    return tiers[-1].get("kind", tiers[-1]["tier"]) if len(tiers) > 1 else None


def policy_label(policy: str, machine: dict) -> str:
    """The policy as a reader should see it: "all-pmem" reads "all-cxl" on a CXL machine."""
    kind = slow_tier_kind(machine)
    return policy.replace("pmem", kind) if kind and kind != "pmem" else policy


def policy_colour(policy: str) -> str:
    return POLICY_COLOURS.get(policy.split(":")[0], OTHER_COLOUR)


def does_not_fit(missing_bytes: dict[str, float]) -> str:
    """The sentence for a placement that does not fit, tiers fast first."""
    need = ", ".join(f"{missing_bytes[t] / 1e9:.2f} GB more {t}" for t in ordered_tiers(missing_bytes)
                     if missing_bytes[t] > 0)
    return f"does not fit: needs {need}"


def fast_tier_capacities(runs: list[dict]) -> list[tuple[str, float]]:
    """(label, bytes) of each distinct machine's fast tier (Memory Mode: its DRAM cache)."""
    out: dict[str, float] = {}
    for r in runs:
        m = r["machine"]
        t = m["tiers"][0]
        role = "DRAM cache" if m["mode"] == "memory" else t["tier"]
        out.setdefault(f"{m['name']}: {role} {t['capacity_gb']:,.2f} GB", t["capacity_gb"] * 1e9)
    return sorted(out.items(), key=lambda kv: (kv[1], kv[0]))


def layer_axis(names: list[str]) -> dict:
    """A plotly axis with every layer name on it (small, vertical), whatever their number."""
    return dict(title="layer (in execution order)", tickmode="array", tickvals=names, ticktext=names, tickangle=-90,
                tickfont=dict(size=9), automargin=True)


def time_axis_title(meta: dict) -> str:
    """A trace's time axis: recorded for real runs, modelled for plan traces."""
    return "modelled time (s)" if meta.get("mode") == "plan" else "recorded time (s)"
