"""Everything in one tier: the fastest (all-dram) or the slowest (all-pmem)."""

from hetier.simulator.policies.base import Policy, TensorInfo


class AllDram(Policy):
    name = "all-dram"
    description = "every buffer in the first (fastest) tier; does not fit if it is too small"

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        return {self.tiers[0]: 1.0}


class AllPmem(Policy):
    name = "all-pmem"
    description = "every buffer in the last (slowest, largest) tier"

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        return {self.tiers[-1]: 1.0}
