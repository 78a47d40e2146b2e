"""Memory cost of a machine: each tier's capacity times its device's price per GB.

Prices are data (``simulator/presets/prices.toml``, or a user's file of the same layout), each
with its source and date. A device with no price gives no cost and a note naming it, never a
guess.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from hetier.errors import UsageError
from hetier.simulator.devices import GB, PRESETS, load_toml
from hetier.simulator.machine import Machine

DEFAULT_PRICES = PRESETS / "prices.toml"
_PRICE_KEYS = {"usd_per_gb", "date", "source", "note", "estimate"}


@dataclass(frozen=True)
class Price:
    usd_per_gb: float
    date: str
    source: str
    note: str = ""
    estimate: bool = False


@dataclass(frozen=True)
class MachineCost:
    """Total memory cost in USD (None if a device has no price) and why, per tier."""

    total_usd: float | None
    tiers: tuple[tuple[str, float | None], ...]
    note: str  # the price entries used, or the device that has none


@functools.lru_cache(maxsize=8)
def load_prices(path: str = str(DEFAULT_PRICES)) -> tuple[dict[str, Price], dict[str, str]]:
    """(price entries by name, device preset -> entry), validated."""
    d = load_toml(Path(path))
    entries: dict[str, Price] = {}
    for name, e in d.get("prices", {}).items():
        unknown = set(e) - _PRICE_KEYS
        if unknown:
            raise UsageError(f"{path}: price '{name}' has unknown key(s) {', '.join(sorted(unknown))}")
        if not isinstance(e.get("usd_per_gb"), (int, float)) or e["usd_per_gb"] <= 0:
            raise UsageError(f"{path}: price '{name}' needs a positive usd_per_gb")
        if not e.get("source") or not e.get("date"):
            raise UsageError(f"{path}: price '{name}' needs a source and a date")
        entries[name] = Price(float(e["usd_per_gb"]), str(e["date"]), e["source"], e.get("note", ""),
                              bool(e.get("estimate", False)))
    devices = dict(d.get("devices", {}))
    for dev, entry in devices.items():
        if entry not in entries:
            raise UsageError(f"{path}: device '{dev}' names price '{entry}', which is not defined")
    return entries, devices


def machine_cost(machine: Machine, prices_path: str = str(DEFAULT_PRICES)) -> MachineCost:
    """Sum of capacity x price per GB over the machine's tiers (Memory Mode counts both)."""
    entries, devices = load_prices(prices_path)
    tiers, used, missing = [], [], []
    for tier, dev in machine.tiers:
        entry = devices.get(dev.name)
        if entry is None:
            tiers.append((tier, None))
            missing.append(dev.name)
            continue
        p = entries[entry]
        tiers.append((tier, round(dev.capacity_bytes / GB * p.usd_per_gb, 2)))
        used.append(f"{entry} {p.usd_per_gb:g} USD/GB ({p.date}{', estimate' if p.estimate else ''})")
    if missing:
        return MachineCost(None, tuple(tiers), f"no price for device(s) {', '.join(missing)}")
    return MachineCost(round(sum(v for _, v in tiers), 2), tuple(tiers), "; ".join(dict.fromkeys(used)))
