"""Lifetime-aware: short-lived temporaries and accumulators in the fast tier, long-lived data slow.

Optimises fast-tier turnover: a byte of DRAM held by a tensor that dies after an op or two
serves many tensors over the run, while the input, keys and tensors kept for residual adds
would pin it. Tensors living more than K ops (``lifetime:K``, default 3) go to the slow tier;
the rest fill the fast tier shortest-lived first (then by access density), each where it fits
at every instant of its life.
"""

from hetier.simulator.capacity_timeline import fill_in_order
from hetier.simulator.policies.base import ScheduledPolicy
from hetier.simulator.tensor_lifetimes import tensor_lifetimes

DEFAULT_MAX_OPS = 3  # producer op, consumer op and a bias/activation op in between


class Lifetime(ScheduledPolicy):
    name = "lifetime"
    description = "tensors living at most K ops (lifetime:K, default 3) in the fast tier, shortest first"

    def __init__(self, tiers, arg=None):
        super().__init__(tiers)
        self.max_ops = self.number_arg(arg, DEFAULT_MAX_OPS, int, 1, "lifetime in ops")

    @property
    def label(self) -> str:
        return self.name if self.max_ops == DEFAULT_MAX_OPS else f"{self.name}:{self.max_ops}"

    def schedule(self, workload, machine, threads):
        profile = tensor_lifetimes(workload, machine.llc_bytes)
        order = sorted(profile.tensors, key=lambda s: (s.lifetime_ops, -s.density, s.tensor))
        return fill_in_order(profile, machine, order, lambda s: s.lifetime_ops <= self.max_ops)[0], {}
