"""The words and numbers shown to users, one version of each for replay, info, report and export:
tier order and names, GB formatting, the "does not fit" sentence, the mark for a missing value.

It lives outside analysis/ because the simulator says "does not fit" too (data flows tracer ->
simulator -> analysis; the simulator never imports analysis). Tiers are named by their device
kind where a policy says "pmem" on a machine whose slow tier is something else (a CXL expander),
so a reader never sees "all-pmem" on a CXL machine. Colours and plot axes: analysis/reports/style.py.
"""

from __future__ import annotations

NONE = "-"  # a value that does not exist (a run that does not fit has no compute or stall)
DOES_NOT_FIT = "does not fit"  # the status of a run whose placement does not fit

# Fast tier first; a machine lists its tiers in this order too (dram, then the slow tier).
TIER_ORDER = ("dram", "pmem", "cxl")


def gb(n: float) -> str:
    """Bytes as GB (or MB below 0.1 GB), two decimals (one for MB)."""
    return f"{n / 1e9:,.2f} GB" if n >= 1e8 else f"{n / 1e6:,.1f} MB"


def gb_fine(n: float) -> str:
    """Bytes as GB (or MB below 10 MB), three decimals: `hetier info`'s tables, where a small
    kind (the keys) must not read as zero."""
    return f"{n / 1e9:,.3f} GB" if n >= 1e7 else f"{n / 1e6:,.3f} MB"


def seconds(ns: float) -> str:
    """Nanoseconds as seconds, three decimals: a run's (predicted) time."""
    return f"{ns / 1e9:.3f} s"


def tier_sort_key(tier: str) -> tuple[int, str]:
    return (TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER), tier)


def ordered_tiers(tiers) -> list[str]:
    """Tier names fast first, in one order everywhere."""
    return sorted(set(tiers), key=tier_sort_key)


def slow_tier_kind(machine: dict) -> str | None:
    """Device kind (pmem, cxl, ...) of a machine's slow tier; None for a single tier."""
    tiers = machine.get("tiers", [])
    return tiers[-1].get("kind", tiers[-1]["tier"]) if len(tiers) > 1 else None


def policy_label(policy: str, machine: dict) -> str:
    """The policy as a reader should see it: "all-pmem" reads "all-cxl" on a CXL machine."""
    kind = slow_tier_kind(machine)
    return policy.replace("pmem", kind) if kind and kind != "pmem" else policy


def does_not_fit(missing_bytes: dict[str, float]) -> str:
    """The sentence for a placement that does not fit, tiers fast first:
    "does not fit: needs 1.01 GB more dram"."""
    need = ", ".join(f"{missing_bytes[t] / 1e9:.2f} GB more {t}" for t in ordered_tiers(missing_bytes)
                     if missing_bytes[t] > 0)
    return f"{DOES_NOT_FIT}: needs {need}"


def threads_exceed(threads: int, cores: int) -> str:
    """Why a configuration with more simulated threads than cores has no time (a row, on every verb)."""
    return f"{threads} threads exceed the machine's {cores} cores"


def exceeds_all_tiers(peak_bytes: float, capacity_bytes: float) -> str:
    """The sentence for a workload whose peak is larger than all of a machine's tiers together."""
    return f"{DOES_NOT_FIT}: peak live {peak_bytes / 1e9:.2f} GB exceeds the {capacity_bytes / 1e9:.2f} GB of all tiers"
