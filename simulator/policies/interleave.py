"""Page interleave across the first and last tier: `numactl --interleave` is 1:1; a ratio
``interleave:0.25`` puts a quarter of every buffer's pages in the first tier."""

from hetier.errors import UsageError
from hetier.simulator.policies.base import Policy, TensorInfo


class Interleave(Policy):
    name = "interleave"
    description = "pages round-robin over first and last tier; interleave:R puts share R in the first"
    deploy = "numactl --interleave=DRAM_NODE,SLOW_NODE (even split; other ratios need Linux 6.9's weighted interleave)"

    def __init__(self, tiers: list[str], arg: str | None = None):
        super().__init__(tiers)
        try:
            self.ratio = 0.5 if arg is None else float(arg)
        except ValueError:
            raise UsageError(f"policy interleave: ratio '{arg}' is not a number") from None
        if not 0.0 <= self.ratio <= 1.0:
            raise UsageError(f"policy interleave: ratio {self.ratio} must be between 0 and 1")
        if len(tiers) < 2:
            raise UsageError("policy interleave needs a machine with two tiers")

    @property
    def label(self) -> str:
        return f"interleave:{self.ratio:g}"

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        return {self.tiers[0]: self.ratio, self.tiers[-1]: 1.0 - self.ratio}
