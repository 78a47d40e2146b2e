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
from hetier.simulator.devices import (Device, check_device_keys, device_from_dict, load_device, load_toml,
                                      presets_of, resolve_preset, source_table)
from hetier.validation import DEVICE_OVERRIDE, MACHINE, MACHINE_OVERRIDE, TIER_REF, validate

MODES = ("flat", "memory")
MAX_MM_SETS = 1 << 27  # Memory Mode's simulated cache keeps 9 bytes per set: at most ~1.2 GB of state


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
        # checked here, so that a bad value is blamed on the option, not on the preset file
        validate({field: v}, MACHINE_OVERRIDE if tier == "machine" else DEVICE_OVERRIDE, f"--set {item}")
        out.setdefault(tier, {})[field] = v
    return out


def load_machine(name_or_path: str, overrides: list[str] | None = None) -> Machine:
    """A machine preset by name or a machine TOML file by path, with ``tier.key=value`` overrides
    (``machine.key=value`` for the machine's own keys). Every value is checked against the rules
    of hetier/validation.py; an error names the file or the --set option it came from."""
    path = resolve_preset("machines", name_or_path)
    d = load_toml(path)
    where = str(path)
    validate(d, MACHINE, where)
    ov = _parse_overrides(overrides or [], d.get("name", path.stem))
    if ov:  # a rule across values (Memory Mode's sets) may be broken by the overrides as much as the file
        where_all = f"{where} with --set {', '.join(f'{t}.{k}' for t, kv in ov.items() for k in kv)}"
    else:
        where_all = where
    d = {**d, **ov.pop("machine", {})}
    mode = d.get("mode", "flat")
    resolved = []
    for i, t in enumerate(d["tiers"]):
        validate(t, TIER_REF, where, f"tiers[{i}]")
        if any(n == t["name"] for n, _ in resolved):
            raise UsageError(f"{where}: tier name '{t['name']}' appears twice")
        tier_ov = ov.pop(t["name"], {})
        inline = {k: v for k, v in t.items() if k not in ("name", "device")}
        tier_where = f"{where} tier {t['name']}"
        if "device" in t:
            check_device_keys(inline, tier_where)
            dev = load_device(t["device"], {**inline, **tier_ov})
        else:
            dev = device_from_dict(inline, tier_where, tier_ov)
        resolved.append((t["name"], dev))
    if ov:
        raise UsageError(f"override names unknown tier(s) {', '.join(ov)} (tiers: {', '.join(n for n, _ in resolved)})")
    if mode == "memory" and len(resolved) != 2:
        raise UsageError(f"{where}: Memory Mode needs exactly two tiers (DRAM cache, then PMem)")
    return _checked(Machine(name=d.get("name", path.stem), mode=mode, tiers=tuple(resolved), cores=int(d["cores"]),
                            llc_bytes=int(d["llc_mb"] * 2 ** 20),
                            mm_miss_penalty_ns=float(d.get("mm_miss_penalty_ns", 70.0)),
                            cache_block_bytes=int(d.get("cache_block_bytes", 4096)),
                            page_bytes=int(d.get("page_bytes", 4096)), description=d.get("description", ""),
                            source=source_table(d.get("source", {}), where)), where_all)


def _checked(m: Machine, where: str) -> Machine:
    """Refuse a Memory Mode cache whose simulated state would not fit in memory (sets = DRAM / block)."""
    if m.mode == "memory":
        sets = m.tiers[0][1].capacity_bytes // m.cache_block_bytes
        if sets > MAX_MM_SETS:
            raise UsageError(f"{where}: a Memory Mode cache of {m.tiers[0][1].capacity_bytes / 1e9:,.0f} GB in "
                             f"{m.cache_block_bytes}-byte blocks has {sets:,} sets, over the simulator's "
                             f"{MAX_MM_SETS:,}; raise cache_block_bytes")
    return m


def machine_from_dict(d: dict) -> Machine:
    """Rebuild a machine from its ``to_dict`` form (as results files embed it; validated there)."""
    names = [t["tier"] for t in d["tiers"]]
    if len(set(names)) != len(names) or (d["mode"] == "memory" and len(names) != 2):
        raise UsageError(f"machine '{d['name']}': tiers {', '.join(names)} do not make a {d['mode']} machine")
    tiers = tuple((t["tier"], device_from_dict({k: v for k, v in t.items() if k != "tier"}, f"tier {t.get('tier')}"))
                  for t in d["tiers"])
    return _checked(Machine(name=d["name"], mode=d["mode"], tiers=tiers, cores=d["cores"], llc_bytes=d["llc_bytes"],
                            mm_miss_penalty_ns=d["mm_miss_penalty_ns"], cache_block_bytes=d["cache_block_bytes"],
                            page_bytes=d.get("page_bytes", 4096), description=d.get("description", ""),
                            source=d.get("source", {})), f"machine '{d['name']}'")
