"""DRAM first, spilling to the next tier when full: what `numactl --preferred` gives."""

from hetier.simulator.policies.base import Policy, TensorInfo


class DramFirst(Policy):
    name = "dram-first"
    spills = True
    description = "first tier while it has room, then the next (numactl --preferred)"
    deploy = "numactl --preferred=DRAM_NODE"

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        return {self.tiers[0]: 1.0}
