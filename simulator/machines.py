"""Machines: memory tiers plus a mode (flat tiers, or Memory Mode's DRAM cache), as data.

A machine is a preset (``simulator/presets/machines/*.toml``) or a user's TOML file, plus
overrides ``tier.key=value`` (e.g. ``dram.capacity_gb=16``). ``to_dict`` gives the fully
resolved machine that results embed, with the ``[source]`` tables of the machine and its devices.
Every key is used or an error: a key the simulator would ignore is refused by name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hetier.errors import UsageError
from hetier.simulator.devices import (Device, device_from_dict, load_device, load_toml, presets_of, resolve_preset,
                                      source_table)

MODES = ("flat", "memory")
_MACHINE_KEYS = {"name", "description", "mode", "cores", "llc_mb", "tiers", "mm_miss_penalty_ns",
                 "cache_block_bytes", "page_bytes", "source"}
_MACHINE_NUMBERS = ("cores", "llc_mb", "mm_miss_penalty_ns", "cache_block_bytes", "page_bytes")  # --set machine.KEY


@dataclass(frozen=True)
class Machine:
    """Tiers in placement order (fastest first). Memory Mode: tiers = (cache, backing)."""

    name: str
    mode: str
    tiers: tuple[tuple[str, Device], ...]
    cores: int
    llc_bytes: int
    mm_miss_penalty_ns: float = 70.0
    cache_block_bytes: int = 4096
    page_bytes: int = 4096  # Memory Mode: the OS's page size (frames are placed at random)
    description: str = ""
    source: dict = field(default_factory=dict, compare=False, hash=False)  # [source]: what each number cites

    @property
    def tier_names(self) -> list[str]:
        return [n for n, _ in self.tiers]

    def device(self, tier: str) -> Device:
        return dict(self.tiers)[tier]

    def to_dict(self) -> dict:
        return {"name": self.name, "mode": self.mode, "cores": self.cores, "llc_bytes": self.llc_bytes,
                "mm_miss_penalty_ns": self.mm_miss_penalty_ns, "cache_block_bytes": self.cache_block_bytes,
                "page_bytes": self.page_bytes, "description": self.description, "source": dict(self.source),
                "tiers": [{"tier": n, **d.to_dict()} for n, d in self.tiers]}


def machine_presets() -> dict[str, Path]:
    return presets_of("machines")


def _parse_overrides(items: list[str], machine: str) -> dict[str, dict]:
    """``tier.key=value`` for every machine, ``MACHINE:tier.key=value`` for one."""
    out: dict[str, dict] = {}
    for item in items:
        target, colon, rest = item.partition(":")
        if colon and "=" not in target:
            if target != machine:
                continue
            item = rest
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise UsageError(f"override '{item}' must look like tier.key=value (e.g. dram.capacity_gb=16)")
        tier, field = key.split(".", 1)
        try:  # values are TOML: numbers, strings, lists such as read_curve=[[1, 2.9], [4, 11.6]]
            v: object = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            v = value
        out.setdefault(tier, {})[field] = v
    return out


def load_machine(name_or_path: str, overrides: list[str] | None = None) -> Machine:
    """A machine preset by name or a machine TOML file by path, with ``tier.key=value`` overrides."""
    path = resolve_preset("machines", name_or_path)
    d = load_toml(path)
    where = str(path)
    unknown = set(d) - _MACHINE_KEYS
    if unknown:
        raise UsageError(f"{where}: unknown machine key(s) {', '.join(sorted(unknown))}")
    mode = d.get("mode", "flat")
    if mode not in MODES:
        raise UsageError(f"{where}: mode '{mode}' unknown (known: flat, memory)")
    ov = _parse_overrides(overrides or [], d.get("name", path.stem))
    tiers = d.get("tiers")
    if not tiers:
        raise UsageError(f"{where}: no [[tiers]]")
    resolved = []
    for t in tiers:
        if "name" not in t:
            raise UsageError(f"{where}: a tier has no name")
        tier_ov = ov.pop(t["name"], {})
        if "device" in t:
            dev = load_device(t["device"], {**{k: v for k, v in t.items() if k not in ("name", "device")}, **tier_ov})
        else:
            dev = device_from_dict({k: v for k, v in t.items() if k != "name"}, f"{where} tier {t['name']}", tier_ov)
        resolved.append((t["name"], dev))
    machine_ov = ov.pop("machine", {})
    settable = _MACHINE_NUMBERS + ("name", "description")
    fixed = set(machine_ov) - set(settable)
    if fixed:
        raise UsageError(f"override machine.{', machine.'.join(sorted(fixed))} cannot be set "
                         f"(settable: {', '.join(settable)})")
    if ov:
        raise UsageError(f"override names unknown tier(s) {', '.join(ov)} (tiers: {', '.join(n for n, _ in resolved)})")
    d = {**d, **machine_ov}
    for k in _MACHINE_NUMBERS:
        if k in d and (not isinstance(d[k], (int, float)) or d[k] <= 0):
            raise UsageError(f"{where}: '{k}' must be a positive number (got {d[k]!r})")
    if "cores" not in d or "llc_mb" not in d:
        raise UsageError(f"{where}: missing 'cores' or 'llc_mb'")
    if mode == "memory" and len(resolved) != 2:
        raise UsageError(f"{where}: Memory Mode needs exactly two tiers (DRAM cache, then PMem)")
    return Machine(name=d.get("name", path.stem), mode=mode, tiers=tuple(resolved), cores=int(d["cores"]),
                   llc_bytes=int(d["llc_mb"] * 2 ** 20), mm_miss_penalty_ns=float(d.get("mm_miss_penalty_ns", 70.0)),
                   cache_block_bytes=int(d.get("cache_block_bytes", 4096)), page_bytes=int(d.get("page_bytes", 4096)),
                   description=d.get("description", ""), source=source_table(d.get("source", {}), where))


def machine_from_dict(d: dict) -> Machine:
    """Rebuild a machine from its ``to_dict`` form (as results files embed it)."""
    tiers = tuple((t["tier"], device_from_dict({k: v for k, v in t.items() if k != "tier"}, f"tier {t['tier']}"))
                  for t in d["tiers"])
    return Machine(name=d["name"], mode=d["mode"], tiers=tiers, cores=d["cores"], llc_bytes=d["llc_bytes"],
                   mm_miss_penalty_ns=d["mm_miss_penalty_ns"], cache_block_bytes=d["cache_block_bytes"],
                   page_bytes=d.get("page_bytes", 4096), description=d.get("description", ""),
                   source=d.get("source", {}))
