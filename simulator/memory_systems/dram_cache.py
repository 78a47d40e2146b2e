"""Memory Mode: the first tier is a direct-mapped cache of the second, run by the memory controller.

Every byte lives in the backing tier (its capacity decides fit); the cache model
(simulator/memory_mode.py) turns an op's accesses into DRAM and backing-tier traffic, and each
slice of an op that misses waits the miss penalty once.
"""

from __future__ import annotations

import numpy as np

from hetier.errors import UsageError
from hetier.simulator.memory_mode import MemoryModeCache
from hetier.simulator.memory_systems.base import MemorySystem, OpTraffic
from hetier.simulator.placement import Placement, place
from hetier.simulator.policies import get_policy

MAX_SETS = 1 << 27  # the simulated cache keeps 9 bytes per set: at most ~1.2 GB of state


class DramCache(MemorySystem):
    mode = "memory"
    takes_policy = False
    run_label = "memory-mode"
    cache_tier = True
    title = "Memory Mode"
    description = "Optane Memory Mode: DRAM as a direct-mapped cache in front of PMem, the hardware decides"
    deploy = {"kernel": "any", "settings": "none", "bios": "Memory Mode (2LM) on (Optane PMem 100/200)", "code": "none"}

    def __init__(self, machine, policy: str | None = None, seed: int = 0):
        super().__init__(machine, policy, seed)
        self.check_policy(machine, policy)
        self.cache = MemoryModeCache(machine.device(self.tiers[0]).capacity_bytes, machine.cache_block_bytes,
                                     machine.page_bytes, seed)
        self.penalty_ns = machine.mm_miss_penalty_ns
        self.hit = self.miss = self.writeback = 0.0

    @classmethod
    def check_machine(cls, machine, where: str) -> None:
        if len(machine.tiers) != 2:
            raise UsageError(f"{where}: Memory Mode needs exactly two tiers (DRAM cache, then PMem)")
        cache = machine.tiers[0][1].capacity_bytes
        sets = cache // machine.cache_block_bytes
        if sets > MAX_SETS:
            raise UsageError(f"{where}: a Memory Mode cache of {cache / 1e9:,.0f} GB in "
                             f"{machine.cache_block_bytes}-byte blocks has {sets:,} sets, over the simulator's "
                             f"{MAX_SETS:,}; raise cache_block_bytes")

    def place(self, workload, threads: int) -> Placement:
        """Every allocation in the backing tier: the cache holds copies, not capacity."""
        return place(workload, self.machine, get_policy("all-pmem", self.tiers), threads)

    def op_traffic(self, op, traffic: np.ndarray) -> OpTraffic:
        for t, c, u in zip(op.alloc_tensor.tolist(), op.alloc_count.tolist(), op.alloc_unit.tolist()):
            self.cache.alloc(t, c, u)
        tr = self.cache.op_traffic(op.acc_tensor, op.acc_write, traffic)
        for t, c in zip(op.free_tensor.tolist(), op.free_count.tolist()):
            self.cache.free(t, c)
        self.hit += tr.hit_bytes
        self.miss += tr.miss_bytes
        self.writeback += tr.writeback_bytes
        cache, backing = self.tiers
        return OpTraffic({cache: tr.dram_read, backing: tr.pmem_read}, {cache: tr.dram_write, backing: tr.pmem_write},
                         self.penalty_ns if tr.misses else 0.0)

    def statistics(self) -> dict:
        total = self.hit + self.miss
        return {"mm_hit_ratio": self.hit / total if total else 1.0, "mm_writeback_bytes": self.writeback}
