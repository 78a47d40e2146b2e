"""A machine as the simulator sees it: tiers in placement order, a memory mode, cores and LLC.

Plain data (``simulator/machines.py`` loads presets and files into it); ``mode`` names the
memory system that organises the tiers (``simulator/memory_systems``). Each field is a key
declared once in ``hetier.validation.MACHINE_KEYS`` (rule, unit, meaning, default); the fields'
defaults, ``to_dict``, loading and the docs' table (``keys_table``) derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from hetier.simulator.devices import Device
from hetier.validation import MACHINE_KEYS

KEYS = {k.name: k for k in MACHINE_KEYS}  # by Machine field (llc_bytes for the file's llc_mb)


def _declared(name: str):
    """The dataclass field of the declared key ``name``, with its declaration as metadata."""
    k = KEYS[name]
    if k.required or (k.default is None and k.type is not dict):
        return field(metadata={"key": k})
    if k.type is dict:
        return field(default_factory=dict, compare=False, hash=False, metadata={"key": k})
    return field(default=k.default, metadata={"key": k})


@dataclass(frozen=True, kw_only=True)
class Machine:
    """Tiers in placement order (fastest first). Memory Mode: tiers = (cache, backing)."""

    name: str = _declared("name")
    mode: str = _declared("mode")
    tiers: tuple[tuple[str, Device], ...] = _declared("tiers")
    cores: int = _declared("cores")
    llc_bytes: int = _declared("llc_bytes")
    mm_miss_penalty_ns: float = _declared("mm_miss_penalty_ns")
    cache_block_bytes: int = _declared("cache_block_bytes")
    page_bytes: int = _declared("page_bytes")
    description: str = _declared("description")
    source: dict = _declared("source")

    @property
    def tier_names(self) -> list[str]:
        return [n for n, _ in self.tiers]

    def device(self, tier: str) -> Device:
        return dict(self.tiers)[tier]

    def to_dict(self) -> dict:
        """The resolved machine as results embed it (``machine_from_dict`` reads it back)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**d, "source": dict(self.source), "tiers": [{"tier": n, **dev.to_dict()} for n, dev in self.tiers]}


def keys_table() -> str:
    """The machine keys as a Markdown table (what docs/simulator.md shows), from the declarations."""
    rows = ["| key | unit | meaning | rule | default | how to measure | `--set machine.KEY` |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for k in MACHINE_KEYS:
        default = "required" if k.required else "-" if k.default is None else f"`{k.default}`" if k.default != "" else '`""`'
        rows.append(f"| `{k.key}` | {k.unit or '-'} | {k.meaning} | {k.rule.describe()} | {default} | "
                    f"{k.measure or '-'} | {'yes' if k.settable else 'no'} |")
    return "\n".join(rows) + "\n"
