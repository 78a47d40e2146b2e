"""Intel Flat Memory Mode (Xeon 6): DRAM and CXL memory at 1:1 capacity as one flat address space;
the memory controller keeps each line in exactly one of the two and swaps a line into DRAM when it
is accessed, its DRAM partner going back to CXL.

Public (Intel support article 000102525, "Intel Flat Memory Mode on Intel Xeon 6 Processors"): the
1:1 ratio of near (DRAM) to far (CXL) memory, the whole capacity visible to the OS as one region,
no replication (a line is in DRAM or in CXL), hot data moved into DRAM by the hardware, enabled
in platform firmware (BIOS). Assumptions here: the set mapping (direct-mapped, one DRAM
slot per set, as Optane Memory Mode) with the OS's frames at random (simulator/memory_mode.py's
``MemoryModeCache``, reused through its public API), a swap on every access to a line in CXL
(no prefetch or hotness filter), whole lines written by a write need no read of their CXL copy,
and the miss penalty (``mm_miss_penalty_ns``, an estimate in the machine preset).

Traffic of one op from the cache model's ``MMTraffic``: hits read and write DRAM; a miss reads the
line from CXL and writes it into DRAM; the line it displaces (a set's DRAM slot always holds one:
the space is exclusive, so every miss is a swap, clean or dirty) is written to CXL, read by the
same DRAM access that checks the set. Store fills (RFO) are charged as in Memory Mode.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from hetier.errors import UsageError
from hetier.simulator.memory_systems.base import MemorySystem, OpTraffic
from hetier.simulator.memory_systems.dram_cache import (  # as Memory Mode
    MAX_SETS, cache_op, line_cache, miss_penalty_per_line, parted, whole)
from hetier.simulator.placement import Placement, place
from hetier.simulator.policies import get_policy

RATIO_TOLERANCE = 0.01  # "1:1" within 1%: module sizes are not exact


class FlatMemoryMode(MemorySystem):
    mode = "flat-memory-mode"
    takes_policy = False
    run_label = "flat-memory-mode"
    title = "Flat Memory Mode"
    description = "Intel Xeon 6 Flat Memory Mode: DRAM + CXL at 1:1 as one space, a line swapped into DRAM on access"
    deploy: ClassVar[dict[str, str]] = {
        "kernel": "any (the OS sees one node of DRAM + CXL capacity)",
        "settings": "none",
        "bios": "Flat Memory Mode on (Intel Xeon 6 with CXL Type-3 memory at 1:1 DRAM:CXL capacity)",
        "code": "none",
    }

    def __init__(self, machine, policy: str | None = None, seed: int = 0, stack=None, threads: int = 1):
        super().__init__(machine, policy, seed, stack, threads)
        self.check_policy(machine, policy)
        self.cache = line_cache(machine, seed)
        self.per_line_ns = miss_penalty_per_line(machine)
        self.hit = self.miss = self.evicted = 0.0
        self.per_op: dict[str, list[float]] = {"promoted_bytes": [], "demoted_bytes": []}  # swapped in, out

    @classmethod
    def check_machine(cls, machine, where: str) -> None:
        if len(machine.tiers) != 2:
            raise UsageError(f"{where}: Flat Memory Mode needs exactly two tiers (DRAM, then CXL)")
        dram, cxl = (d.capacity_bytes for _, d in machine.tiers)
        if abs(cxl - dram) > RATIO_TOLERANCE * dram:
            raise UsageError(f"{where}: Flat Memory Mode needs DRAM and CXL at 1:1 capacity "
                             f"(got {dram / 1e9:,.1f} GB and {cxl / 1e9:,.1f} GB)")
        sets = dram // machine.cache_block_bytes
        if sets > MAX_SETS:
            raise UsageError(f"{where}: {dram / 1e9:,.0f} GB of DRAM in {machine.cache_block_bytes}-byte blocks has "
                             f"{sets:,} sets, over the simulator's {MAX_SETS:,}; raise cache_block_bytes")

    def place(self, workload, threads: int, scale: float = 1.0) -> Placement:
        """The whole DRAM + CXL capacity is one space: fit is against their sum (reported on the
        CXL tier, as the hardware, not a placement, decides which tier a line is in)."""
        (fast, fd), (slow, sd) = self.machine.tiers
        whole = dataclasses.replace(self.machine, tiers=((fast, fd), (slow, dataclasses.replace(
            sd, capacity_bytes=fd.capacity_bytes + sd.capacity_bytes))))
        return place(workload, whole, get_policy("all-pmem", self.tiers), threads, scale)

    def op_traffic(self, op, traffic: np.ndarray) -> OpTraffic:
        own, serial = cache_op(self.cache, op, traffic, self.stack, self.threads)  # as Memory Mode does
        tr = whole(own, serial)
        evicted = tr.miss_bytes  # a set's DRAM slot always holds a line: every line swapped in swaps one out
        self.hit += tr.hit_bytes
        self.miss += tr.miss_bytes
        self.evicted += evicted
        self.per_op["promoted_bytes"].append(float(tr.miss_bytes))
        self.per_op["demoted_bytes"].append(float(evicted))
        dram, cxl = self.tiers
        # every touch reads its set's DRAM line (tag and data: dram_read), which is also the line a swap
        # sends out; the swap's CXL write covers the cache model's dirty write-backs (a subset of it)
        return parted(own, serial, self.tiers, {dram: tr.dram_write, cxl: evicted}, self.per_line_ns)

    def layer_columns(self) -> dict[str, list[float]]:
        """Bytes swapped into DRAM and out of it at each op."""
        return self.per_op

    def statistics(self) -> dict:
        total = self.hit + self.miss
        return {"mm_hit_ratio": self.hit / total if total else 1.0, "mm_writeback_bytes": self.evicted,
                "flat_memory_mode": {"swapped_in_bytes": self.miss, "swapped_out_bytes": self.evicted}}
