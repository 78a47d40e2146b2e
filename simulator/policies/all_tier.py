"""Everything in one tier: the fastest (all-dram) or the slowest (all-pmem)."""

from hetier.simulator.policies.base import Policy, TensorInfo


class AllDram(Policy):
    name = "all-dram"
    description = "every buffer in the first (fastest) tier; does not fit if it is too small"
    deploy = "numactl --membind=DRAM_NODE"

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        return {self.tiers[0]: 1.0}


class AllPmem(Policy):
    name = "all-pmem"
    aliases = ("all-cxl",)  # reports name it by the slow tier's device kind
    description = "every buffer in the last (slowest, largest) tier"
    deploy = "numactl --membind=SLOW_NODE (PMem in KMEM-DAX or a CXL expander: a memory-only NUMA node)"

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        return {self.tiers[-1]: 1.0}
