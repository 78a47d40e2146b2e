"""This host's calibrated memory preset, checked to belong to this host: traces embed it (the
replay then knows the recording host) and `hetier confirm` predicts on it."""

from __future__ import annotations

import os
from pathlib import Path

from hetier.errors import UsageError
from hetier.host.memory_preset import HEADER, default_host_preset
from hetier.tracer.host import host_info

SOURCE_KEYS = ("command", "tool", "date", "cpu", "hostname")


def preset_source(path: str | os.PathLike) -> dict:
    """The ``[source]`` of a machine preset (name or path); {} for presets without one."""
    from hetier.simulator.devices import load_toml, resolve_preset

    return load_toml(resolve_preset("machines", str(path))).get("source", {})


def check_this_host(name: str, source: dict) -> None:
    """A preset measured elsewhere (or not measured at all) is refused in one line."""
    h = host_info()
    if "hostname" not in source or "cpu" not in source:
        raise UsageError(f"machine '{name}' is not a measurement of this host ({h['hostname']}, {h['cpu']}): "
                         f"run hetier calibrate --memory and use the preset it writes")
    if (source["hostname"], source["cpu"]) != (h["hostname"], h["cpu"]):
        raise UsageError(f"machine '{name}' was measured on {source['hostname']} ({source['cpu']}), not on this host "
                         f"({h['hostname']}, {h['cpu']}): run hetier calibrate --memory here")


def host_preset_meta(path: str | os.PathLike) -> dict:
    """What a trace embeds about its host's memory: the preset's name, file, source and the
    resolved machine (so the trace stands alone)."""
    from hetier.simulator.machines import load_machine

    src = preset_source(path)
    machine = load_machine(str(path))
    check_this_host(str(path), src)
    return {"name": machine.name, "file": os.path.basename(path), "generated_by": HEADER,
            "source": {k: src.get(k) for k in SOURCE_KEYS}, "machine": machine.to_dict()}


def find_host_preset(path: str | os.PathLike | None) -> Path | None:
    """The preset to embed: ``path`` if given, else the default one if calibrate wrote it."""
    if path is not None:
        return Path(path)
    p = default_host_preset()
    return p if p.exists() else None
