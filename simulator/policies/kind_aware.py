"""Keys and plaintexts (small, read often) in DRAM; ciphertexts and temporaries in PMem."""

from hetier.simulator.policies.base import Policy, TensorInfo


class KindAware(Policy):
    name = "kind-aware"
    spills = True
    description = "keys and plaintexts in the first tier (spilling), ciphertexts in the last"

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        if tensor.kind in ("key", "plaintext"):
            return {self.tiers[0]: 1.0}
        return {self.tiers[-1]: 1.0}
