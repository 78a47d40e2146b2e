"""Questions asked of a sweep's configurations table: the all-DRAM reference per group, the
cheapest configuration within a tolerance of it, the Pareto front of cost against time.

Groups are (trace, stack, threads): runs that differ only in thread count or stack profile are
never compared or merged.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from hetier.formats.results import override_column


@dataclass(frozen=True)
class Pick:
    """One configuration named by an answer, with the reference it was measured against."""

    trace: str
    threads: int
    label: str
    time_s: float
    cost_usd: float | None
    reference: str
    reference_time_s: float
    reference_cost_usd: float | None
    stack: str = "hetier"
    capacities: str = ""  # the pick's tiers and sizes: "dram 32 GB + cxl 256 GB"
    reference_capacities: str = ""
    cost_note: str = ""  # the prices used for either box (sources, dates, estimates)
    reference_cost_note: str = ""

    @property
    def estimate(self) -> bool:
        """Either box is priced with an estimate."""
        from hetier.simulator.prices import priced_with_estimate

        return priced_with_estimate(self.cost_note) or priced_with_estimate(self.reference_cost_note)

    @property
    def slowdown(self) -> float:
        return self.time_s / self.reference_time_s


def overrides_text(row: dict, override_keys: list[str]) -> str:
    """A row's overrides as `--set` takes them: "dram.capacity_gb=32 cxl.capacity_gb=0" (floats as %g)."""
    values = {k: row.get(override_column(k)) for k in override_keys}
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items() if v is not None)


def config_label(row: dict, override_keys: list[str], threads: bool = True) -> str:
    """machine policy [key=value ...] [stack S] xTHREADS: enough to tell any two configurations apart."""
    ov = overrides_text(row, override_keys)
    stack = f"stack {row['stack']}" if row.get("stack", "hetier") != "hetier" else ""
    return " ".join(p for p in (row["machine"], row["policy"], ov, stack, f"x{row['threads']}" if threads else "") if p)


def capacities(row: dict) -> str:
    """A row's machine as tiers and sizes, fast first: "dram 32 GB + cxl 256 GB"."""
    import json

    tiers = json.loads(row["machine_json"])["tiers"] if row.get("machine_json") else []
    return " + ".join(f"{t['tier']} {t['capacity_gb']:,.0f} GB" for t in tiers)


def groups(rows: list[dict]) -> dict[tuple[str, str, int], list[dict]]:
    out: dict[tuple[str, str, int], list[dict]] = {}
    for r in rows:
        out.setdefault((r["trace"], r.get("stack") or "hetier", r["threads"]), []).append(r)
    return out


def reference(group: list[dict], baseline: str | None = None, override_keys: list[str] = ()) -> dict | None:
    """The group's reference run: the first (in configuration order) whose label without threads
    is ``baseline`` or contains it, else the fastest all-DRAM run that finished."""
    ok = [r for r in group if r["status"] == "ok"]
    if baseline:
        labels = [config_label(r, list(override_keys), threads=False) for r in ok]
        named = [r for r, s in zip(ok, labels) if s == baseline] or [r for r, s in zip(ok, labels) if baseline in s]
        return named[0] if named else None
    dram = [r for r in ok if r["policy"] == "all-dram"]
    return min(dram, key=lambda r: r["time_s"]) if dram else None


def cheapest_within(configs: pa.Table, tolerance: float = 0.10, baseline: str | None = None,
                    override_keys: list[str] = ()) -> list[Pick]:
    """Per (trace, stack, threads): the cheapest finished configuration at most ``tolerance`` slower
    than the reference (ties: faster, then configuration order)."""
    keys = list(override_keys)
    out = []
    for (trace, stack, threads), group in groups(configs.to_pylist()).items():
        ref = reference(group, baseline, keys)
        if ref is None:
            continue
        limit = ref["time_s"] * (1 + tolerance)
        fits = [r for r in group if r["status"] == "ok" and r["cost_usd"] is not None and r["time_s"] <= limit]
        if not fits:
            continue
        best = min(fits, key=lambda r: (r["cost_usd"], r["time_s"]))
        out.append(Pick(trace, threads, config_label(best, keys), best["time_s"], best["cost_usd"],
                        config_label(ref, keys), ref["time_s"], ref["cost_usd"], stack, capacities(best),
                        capacities(ref), best.get("cost_note") or "", ref.get("cost_note") or ""))
    return out


def pareto(rows: list[dict], x: str = "cost_usd") -> list[dict]:
    """Finished rows no other row beats on both ``x`` and time (ascending ``x``)."""
    pts = sorted((r for r in rows if r["status"] == "ok" and r.get(x) is not None), key=lambda r: (r[x], r["time_s"]))
    front, best = [], float("inf")
    for r in pts:
        if r["time_s"] < best:
            front.append(r)
            best = r["time_s"]
    return front
