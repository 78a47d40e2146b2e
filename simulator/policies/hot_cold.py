"""Hot/cold: the fast tier holds the tensors with the most traffic per byte of footprint.

Optimises memory traffic served by the fast tier per byte of it, greedily: tensors in
decreasing access density (bytes read and written per byte of peak footprint; ecoHMEM's
criterion), each to the fastest tier where it fits at every instant of its life.
"""

from hetier.simulator.capacity_timeline import fill_in_order
from hetier.simulator.policies.base import ScheduledPolicy
from hetier.simulator.tensor_lifetimes import tensor_lifetimes


class HotCold(ScheduledPolicy):
    name = "hot-cold"
    description = "fast tier filled by access density (traffic per byte), fits at every moment"

    def schedule(self, workload, machine, threads):
        return hot_cold_start(tensor_lifetimes(workload, machine.llc_bytes), machine), {}


def hot_cold_start(profile, machine) -> dict[int, str]:
    order = sorted(profile.tensors, key=lambda s: (-s.density, s.tensor))
    return fill_in_order(profile, machine, order)[0]
