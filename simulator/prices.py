"""Memory cost of a machine: each tier's capacity times its device's price per GB, plus the
cards a tier's DIMMs sit in (a CXL expander is its DIMMs and its controller card).

Prices are data (``simulator/presets/prices.toml``, or a user's file of the same layout), each
with its source and date. A device with no price gives no cost and a note naming it, never a
guess. A file may name alternative choices (``[choices.NAME]``: other price entries for some
devices, e.g. an expander whose DIMMs are reused from retired servers); ``--price-choice NAME``
selects one.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from hetier.errors import UsageError
from hetier.simulator.devices import GB, PRESETS, load_toml
from hetier.simulator.machine import Machine
from hetier.validation import PRICE_FILE, validate

DEFAULT_PRICES = PRESETS / "prices.toml"


@dataclass(frozen=True)
class Card:
    """A board that holds a tier's DIMMs (a CXL controller card): its price and how many GB fit in one."""

    name: str
    usd: float
    gb_per_card: float
    date: str
    source: str
    note: str = ""
    estimate: bool = False


@dataclass(frozen=True)
class Price:
    usd_per_gb: float
    date: str
    source: str
    note: str = ""
    estimate: bool = False
    card: Card | None = None  # the card each gb_per_card of this memory needs, if any
    reused: bool = False  # DIMMs already owned (reused): usd_per_gb may be 0


@dataclass(frozen=True)
class MachineCost:
    """Total memory cost in USD (None if a device has no price) and why, per tier."""

    total_usd: float | None
    tiers: tuple[tuple[str, float | None], ...]
    note: str  # the price entries used, or the device that has none

    @property
    def estimate(self) -> bool:
        """True when a price used is an estimate (the note says which)."""
        return priced_with_estimate(self.note)


def priced_with_estimate(cost_note: str | None) -> bool:
    """Whether a cost note (MachineCost.note, a results row's cost_note) names an estimated price:
    every entry and card used is written with ", estimate" after its date when it is one."""
    return "estimate" in (cost_note or "")


@functools.lru_cache(maxsize=8)
def load_prices(path: str = str(DEFAULT_PRICES), choice: str | None = None) -> tuple[dict[str, Price], dict[str, str]]:
    """(price entries by name, device preset -> entry), validated; ``choice`` replaces the
    device -> entry mapping of the devices it names."""
    d = load_toml(Path(path))
    unknown = sorted(set(d) - set(PRICE_FILE.fields))
    if unknown:  # e.g. a machine or device preset given as the price file
        raise UsageError(f"{path}: not a price file (unknown key(s) {', '.join(unknown)}; "
                         "it holds [prices], [devices], [cards], [choices])")
    validate(d, PRICE_FILE, path)
    cards = {n: Card(n, float(e["usd"]), float(e["gb_per_card"]), str(e["date"]), e["source"], e.get("note", ""),
                     e.get("estimate", False)) for n, e in d.get("cards", {}).items()}
    entries: dict[str, Price] = {}
    for name, e in d.get("prices", {}).items():
        reused = e.get("reused", False)
        if e["usd_per_gb"] == 0 and not reused:
            raise UsageError(f"{path}: price '{name}' needs a positive usd_per_gb (0 only with reused = true)")
        card = e.get("card")
        if card is not None and card not in cards:
            raise UsageError(f"{path}: price '{name}' names card '{card}', which is not defined")
        entries[name] = Price(float(e["usd_per_gb"]), str(e["date"]), e["source"], e.get("note", ""),
                              e.get("estimate", False), cards[card] if card else None, reused)
    devices = dict(d.get("devices", {}))
    choices = d.get("choices", {})
    if choice is not None:
        if choice not in choices:
            known = ", ".join(sorted(choices)) or "none"
            raise UsageError(f"{path}: no price choice '{choice}' (choices: {known})")
        devices.update(choices[choice]["devices"])
    for dev, entry in devices.items():
        if entry not in entries:
            raise UsageError(f"{path}: device '{dev}' names price '{entry}', which is not defined")
    if not entries:
        raise UsageError(f"{path}: holds no prices ([prices.NAME] tables with usd_per_gb, date and source)")
    return entries, devices


def price_choices(path: str = str(DEFAULT_PRICES)) -> dict[str, str]:
    """The named alternative choices of a price file and what each says."""
    load_prices(path)
    return {n: c["description"] for n, c in load_toml(Path(path)).get("choices", {}).items()}


def tier_cost(capacity_gb: float, price: Price) -> float:
    """USD of one tier: its GB at the price per GB plus the cards those GB need (whole cards)."""
    usd = capacity_gb * price.usd_per_gb
    if price.card is not None and capacity_gb > 0:
        usd += math.ceil(capacity_gb / price.card.gb_per_card - 1e-9) * price.card.usd
    return round(usd, 2)


def _used(entry: str, p: Price) -> str:
    s = f"{entry} {p.usd_per_gb:g} USD/GB{' (reused DIMMs)' if p.reused else ''} ({p.date}{', estimate' if p.estimate else ''})"
    if p.card is not None:
        c = p.card
        s += f" + card {c.name} {c.usd:,.0f} USD per {c.gb_per_card:g} GB ({c.date}{', estimate' if c.estimate else ''})"
    return s


def machine_cost(machine: Machine, prices_path: str = str(DEFAULT_PRICES), choice: str | None = None) -> MachineCost:
    """Sum over the machine's tiers (Memory Mode counts both) of capacity x price per GB plus cards."""
    entries, devices = load_prices(prices_path, choice)
    tiers, used, missing = [], [], []
    for tier, dev in machine.tiers:
        entry = devices.get(dev.name)
        if entry is None:
            tiers.append((tier, None))
            missing.append(dev.name)
            continue
        p = entries[entry]
        tiers.append((tier, tier_cost(dev.capacity_bytes / GB, p)))
        used.append(_used(entry, p))
    if missing:
        return MachineCost(None, tuple(tiers), f"no price for device(s) {', '.join(missing)}")
    head = f"price choice {choice}: " if choice else ""
    return MachineCost(round(sum(v for _, v in tiers), 2), tuple(tiers), head + "; ".join(dict.fromkeys(used)))
