"""A machine as the simulator sees it: tiers in placement order, a memory mode, cores and LLC.

Plain data (``simulator/machines.py`` loads presets and files into it); ``mode`` names the
memory system that organises the tiers (``simulator/memory_systems``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hetier.simulator.devices import Device


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
