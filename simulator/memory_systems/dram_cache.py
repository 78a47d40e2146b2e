"""Memory Mode: the first tier is a direct-mapped cache of the second, run by the memory controller.

Every byte lives in the backing tier (its capacity decides fit); the cache model
(simulator/memory_mode.py) turns an op's accesses, its streams interleaved over the op's threads,
into DRAM and backing-tier traffic: tag checks, fills, read-for-ownership of stores (unless the
stack streams that op's stores) and dirty write-backs. Each missed line costs the machine's miss
penalty, overlapped with the thread's other misses in flight (``miss_penalty_per_line``).
"""

from __future__ import annotations

import numpy as np

from hetier.errors import UsageError
from hetier.simulator.memory_mode import LINE, MemoryModeCache, MMTraffic
from hetier.simulator.memory_systems.base import MemorySystem, OpTraffic
from hetier.simulator.placement import Placement, place
from hetier.simulator.policies import get_policy

MAX_SETS = 1 << 27  # the simulated cache keeps 4 bytes per set (8 once its blocks outgrow int32): at most ~1.1 GB of state


class DramCache(MemorySystem):
    mode = "memory"
    takes_policy = False
    run_label = "memory-mode"
    cache_tier = True
    title = "Memory Mode"
    description = "Optane Memory Mode: DRAM as a direct-mapped cache in front of PMem, the hardware decides"
    deploy = {"kernel": "any", "settings": "none", "bios": "Memory Mode (2LM) on (Optane PMem 100/200)", "code": "none"}

    def __init__(self, machine, policy: str | None = None, seed: int = 0, stack=None, threads: int = 1):
        super().__init__(machine, policy, seed, stack, threads)
        self.check_policy(machine, policy)
        self.cache = line_cache(machine, seed)
        self.per_line_ns = miss_penalty_per_line(machine)
        self.hit = self.miss = self.writeback = 0.0
        # what the study's PEBS counters count, per op: loads served by Optane, and the share retired loads see
        # and loads the DRAM cache served (MEM_LOAD_L3_MISS_RETIRED.LOCAL_DRAM's share of LLC-miss loads)
        # (and, of the Optane-served demand loads, those of the op's serial part: outside its op timer)
        self.per_op: dict[str, list[float]] = {"pmem_load_bytes": [], "pmem_demand_load_bytes": [],
                                               "serial_pmem_demand_load_bytes": [], "dram_cache_load_bytes": []}

    @classmethod
    def check_machine(cls, machine, where: str) -> None:
        if len(machine.tiers) != 2:
            raise UsageError(f"{where}: Memory Mode needs exactly two tiers (DRAM cache, then PMem)")
        cache = machine.tiers[0][1].capacity_bytes
        sets = cache // machine.cache_block_bytes
        if sets < 1:
            raise UsageError(f"{where}: a Memory Mode cache of {cache:,} bytes is smaller than one "
                             f"{machine.cache_block_bytes:,}-byte cache block")
        if sets > MAX_SETS:
            raise UsageError(f"{where}: a Memory Mode cache of {cache / 1e9:,.0f} GB in "
                             f"{machine.cache_block_bytes}-byte blocks has {sets:,} sets, over the simulator's "
                             f"{MAX_SETS:,}; raise cache_block_bytes")

    def place(self, workload, threads: int, scale: float = 1.0) -> Placement:
        """Every allocation in the backing tier: the cache holds copies, not capacity."""
        return place(workload, self.machine, get_policy("all-pmem", self.tiers), threads, scale)

    def op_traffic(self, op, traffic: np.ndarray) -> OpTraffic:
        own, serial = cache_op(self.cache, op, traffic, self.stack, self.threads)
        tr = whole(own, serial)
        st = self.stack
        self.hit += tr.hit_bytes
        self.miss += tr.miss_bytes
        self.writeback += tr.writeback_bytes
        cache, backing = self.tiers
        visible = st.load_visible.get(op.kind, 1.0) if st is not None else 1.0
        self.per_op["pmem_load_bytes"].append(tr.load_pmem_bytes)
        self.per_op["pmem_demand_load_bytes"].append(tr.load_pmem_bytes * visible)
        self.per_op["serial_pmem_demand_load_bytes"].append(serial.load_pmem_bytes * visible)
        self.per_op["dram_cache_load_bytes"].append(tr.load_bytes - tr.load_pmem_bytes)
        return parted(own, serial, self.tiers, {cache: tr.dram_write, backing: tr.pmem_write}, self.per_line_ns)

    def layer_columns(self) -> dict[str, list[float]]:
        """Per op: bytes of loads served by Optane, of those the retired loads see (load_visible) and
        the part of those in the op's serial part, and of loads the DRAM cache served."""
        return self.per_op

    def statistics(self) -> dict:
        total = self.hit + self.miss
        return {"mm_hit_ratio": self.hit / total if total else 1.0, "mm_writeback_bytes": self.writeback}


def line_cache(machine, seed: int) -> MemoryModeCache:
    """The line-level cache model of a machine whose first tier caches (Memory Mode) or swaps with
    (Flat Memory Mode) the second: the first tier's capacity, the machine's block and page sizes."""
    return MemoryModeCache(machine.device(machine.tier_names[0]).capacity_bytes, machine.cache_block_bytes,
                           machine.page_bytes, seed)


def miss_penalty_per_line(machine) -> float:
    """The time a thread waits per 64 B line it misses in the DRAM cache: ``mm_miss_penalty_ns``,
    overlapped with the thread's other misses in flight. By Little's law those are one stream's
    bandwidth times the backing device's latency, in lines (no new constant)."""
    if not machine.mm_miss_penalty_ns:
        return 0.0
    backing = machine.tiers[-1][1]
    in_flight = max(1.0, backing.bandwidth(1) * backing.read_latency_seq_ns / LINE)
    return machine.mm_miss_penalty_ns / in_flight


def whole(own: MMTraffic, serial: MMTraffic) -> MMTraffic:
    """An op's traffic through the cache: its parallel part's and its serial part's together."""
    tr = MMTraffic()
    tr.add(own)
    tr.add(serial)
    return tr


def parted(own: MMTraffic, serial: MMTraffic, tiers: list[str], write: dict[str, float],
           per_line_ns: float) -> OpTraffic:
    """OpTraffic of an op through a DRAM cache: its threads' reads and misses' wait; apart, its serial
    part's (one thread, after the op's threads: every miss waited in full); ``write`` for both
    (what the serial part's misses fill and write back goes with the op's writes)."""
    fast, slow = tiers
    return OpTraffic({fast: own.dram_read, slow: own.pmem_read}, write, per_line_ns * own.misses,
                     {t: b for t, b in ((fast, serial.dram_read), (slow, serial.pmem_read)) if b > 0},
                     per_line_ns * serial.misses)


def cache_op(cache: MemoryModeCache, op, traffic: np.ndarray, stack, threads: int) -> tuple[MMTraffic, MMTraffic]:
    """One op through a line-level DRAM cache model (Memory Mode's, or Flat Memory Mode's): its
    allocations placed, its streams run concurrently on its threads (one for the stack's
    single-thread kinds), stores read for ownership unless the stack streams that kind's stores;
    then its serial part's rows (the last ``op.serial_rows``) on one thread; then its frees.
    Returns the cache's MMTraffic of the parallel part and of the serial part."""
    for t, c, u in zip(op.alloc_tensor.tolist(), op.alloc_count.tolist(), op.alloc_unit.tolist()):
        cache.alloc(t, c, u)
    single = stack is not None and op.kind in stack.single_thread_kinds
    k = 1 if single else max(1, min(threads, op.parallelism))
    rfo = stack is None or op.kind not in stack.streaming_store_kinds
    own = len(traffic) - op.serial_rows
    tr = cache.op_traffic(op.acc_tensor[:own], op.acc_write[:own], traffic[:own], threads=k, rfo=rfo)
    serial = (cache.op_traffic(op.acc_tensor[own:], op.acc_write[own:], traffic[own:], threads=1, rfo=rfo)
              if op.serial_rows else MMTraffic())
    for t, c in zip(op.free_tensor.tolist(), op.free_count.tolist()):
        cache.free(t, c)
    return tr, serial
