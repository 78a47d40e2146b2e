"""Flat tiers (App Direct, NUMA nodes, CXL expanders): a placement policy decides where each
allocation lives, and an op's traffic goes to the tiers its tensors occupy."""

from __future__ import annotations

import numpy as np

from hetier.simulator.memory_systems.base import MemorySystem, OpTraffic
from hetier.simulator.placement import Placement, place
from hetier.simulator.policies import get_policy


class FlatTiers(MemorySystem):
    mode = "flat"
    title = "flat tiers"
    description = "every tier is addressable memory; a placement policy puts each allocation in one or more tiers"
    deploy = {"kernel": "any with NUMA (libnuma)", "settings": "none",
              "bios": "slow memory as a CPU-less NUMA node (App Direct / KMEM DAX, or CXL)",
              "code": "the program places its tensors (a placement file through libnuma, or numactl for whole-run rules)"}

    @classmethod
    def check_policy(cls, machine, policy: str | None) -> None:
        get_policy(policy or "all-dram", machine.tier_names)

    def __init__(self, machine, policy: str | None = None, seed: int = 0, stack=None, threads: int = 1):
        super().__init__(machine, policy, seed, stack, threads)
        self.policy = get_policy(policy or "all-dram", self.tiers)
        self.placement: Placement | None = None

    @property
    def label(self) -> str:
        return self.policy.label

    def place(self, workload, threads: int, scale: float = 1.0) -> Placement:
        self.placement = place(workload, self.machine, self.policy, threads, scale)
        return self.placement

    def op_traffic(self, op, traffic: np.ndarray) -> OpTraffic:
        pl, tiers = self.placement, self.tiers
        read = {t: 0.0 for t in tiers}
        write = {t: 0.0 for t in tiers}
        serial = {t: 0.0 for t in tiers}
        first_serial = len(traffic) - op.serial_rows
        for r, (t, w, b) in enumerate(zip(op.acc_tensor.tolist(), op.acc_write.tolist(), traffic.tolist())):
            for tier, share in pl.tier_shares(t, tiers[0], op.index).items():
                (serial if r >= first_serial else write if w else read)[tier] += b * share
        for tier, (r, w) in pl.copies.get(op.index, {}).items():  # moves at the op's start
            read[tier] += r
            write[tier] += w
        return OpTraffic(read, write, serial_read={t: b for t, b in serial.items() if b > 0})
