"""Machines from presets and files: memory tiers plus a mode (the memory system), as data.

A machine is a preset (``simulator/presets/machines/*.toml``) or a user's TOML file, plus
overrides ``tier.key=value`` (e.g. ``dram.capacity_gb=16``). ``to_dict`` gives the fully
resolved machine that results embed, with the ``[source]`` tables of the machine and its devices.
Every key is used or an error: a key the simulator would ignore is refused by name.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from hetier.errors import UsageError
from hetier.simulator.devices import (check_device_keys, device_from_dict, load_device, load_toml, presets_of,
                                      resolve_preset, source_table)
from hetier.simulator.machine import Machine
from hetier.simulator.memory_systems import memory_system_for
from hetier.validation import DEVICE_OVERRIDE, MACHINE, MACHINE_KEYS, MACHINE_OVERRIDE, TIER_REF, validate


def machine_presets() -> dict[str, Path]:
    return presets_of("machines")


REMOVED = "__removed__"  # an override that takes a tier away: TIER.capacity_gb=0


def _parse_overrides(items: list[str], machine: str) -> dict[str, dict]:
    """``tier.key=value`` for every machine, ``MACHINE:tier.key=value`` for one; ``tier.capacity_gb=0``
    removes the tier."""
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
        if tier != "machine" and field == "capacity_gb" and v == 0 and not isinstance(v, bool):
            out.setdefault(tier, {})[REMOVED] = True  # the machine without that tier (like for like: no idle expander)
            continue
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
    resolved = []
    for i, t in enumerate(d["tiers"]):
        validate(t, TIER_REF, where, f"tiers[{i}]")
        name = t["name"]
        if name == "machine":
            raise UsageError(f"{where}: tier name 'machine' is taken (--set machine.KEY sets the machine's own keys)")
        if any(n == name for n, _ in resolved):
            raise UsageError(f"{where}: tier name '{name}' appears twice")
        tier_ov = ov.pop(name, {})
        if tier_ov.pop(REMOVED, False):
            continue
        inline = {k: v for k, v in t.items() if k not in ("name", "device")}
        tier_where = f"{where} tier {name}"
        # a rule across a device's values (a scaled curve's floor) may be broken by the overrides
        set_note = f" with --set {', '.join(f'{name}.{k}' for k in tier_ov)}" if tier_ov else ""
        if "device" in t:
            check_device_keys(inline, tier_where)
            dev = load_device(device_ref(t["device"], path), {**inline, **tier_ov}, f" (as {tier_where}{set_note})")
        else:
            dev = device_from_dict(inline, tier_where + set_note, tier_ov)
        resolved.append((name, dev))
    if ov:
        raise UsageError(f"override names unknown tier(s) {', '.join(ov)} (tiers: {', '.join(n for n, _ in resolved)})")
    if not resolved:
        raise UsageError(f"{where_all}: capacity_gb=0 removed every tier; a machine needs at least one")
    plain = {k.name: k.value(d) for k in MACHINE_KEYS if k.key not in ("name", "tiers", "source")}
    return _checked(Machine(**plain, name=d.get("name", path.stem), tiers=tuple(resolved),
                            source=source_table(d.get("source", {}), where)), where_all)


def device_ref(ref: str, machine_path: Path) -> str:
    """A tier's ``device``: a preset name as it is; a relative path from the machine file's folder
    (not the current directory, where a file of the same name would be taken silently)."""
    if ref in presets_of("devices") or Path(ref).is_absolute():
        return ref
    return str(machine_path.parent / ref)


def _checked(m: Machine, where: str) -> Machine:
    """Refuse, in one line naming ``where``, a machine its memory system cannot organise."""
    memory_system_for(m).check_machine(m, where)
    return m


def machine_from_dict(d: dict) -> Machine:
    """Rebuild a machine from its ``to_dict`` form (as results files embed it; validated there)."""
    names = [t["tier"] for t in d["tiers"]]
    if len(set(names)) != len(names):
        raise UsageError(f"machine '{d['name']}': tier names {', '.join(names)} repeat")
    tiers = tuple((t["tier"], device_from_dict({k: v for k, v in t.items() if k != "tier"}, f"tier {t.get('tier')}"))
                  for t in d["tiers"])
    plain = {k.name: d[k.name] if k.in_results == "required" else d.get(k.name, k.default)
             for k in MACHINE_KEYS if k.name not in ("tiers", "source")}
    return _checked(Machine(**plain, tiers=tiers, source=d.get("source", {})), f"machine '{d['name']}'")
