"""The modelled memory time that whole-workload policies minimise, and its twin over engine plans.

Model: a tensor in tier X costs (bytes read / X's read bandwidth) + (bytes written x X's write
amplification / X's write bandwidth), bandwidths taken at the replay's thread count (the device
curve at T streams), bytes after the CPU cache. Summed over tensors this is linear in the
placement, so it can be an integer program's objective; ``plan_memory_ns`` applies the same
formula to the engine's per-op traffic, which is how tests check a policy against it.
"""

from __future__ import annotations

import numpy as np

from hetier.simulator.machine import Machine
from hetier.simulator.tensor_lifetimes import TensorSummary, TensorLifetimes


def ns_per_byte(machine: Machine, threads: int) -> dict[str, tuple[float, float]]:
    """Per tier: (ns per byte read, ns per byte written) at ``threads`` streams."""
    out = {}
    for name, dev in machine.tiers:
        out[name] = (1.0 / dev.bandwidth(threads), dev.write_amplification / dev.bandwidth(threads, write=True))
    return out


def tensor_cost_ns(s: TensorSummary, tier: str, rates: dict[str, tuple[float, float]], op: int | None = None) -> float:
    """Modelled memory time of tensor ``s`` in ``tier`` (over the run, or in one op)."""
    r, w = rates[tier]
    if op is None:
        return s.read_bytes * r + s.write_bytes * w
    return s.reads.get(op, 0.0) * r + s.writes.get(op, 0.0) * w


def cost_matrix(profile: TensorLifetimes, machine: Machine, threads: int) -> np.ndarray:
    """[tensor, tier] modelled memory time in ns, tensors in profile order, tiers in machine order."""
    rates = ns_per_byte(machine, threads)
    return np.array([[tensor_cost_ns(s, t, rates) for t in machine.tier_names] for s in profile.tensors],
                    dtype=np.float64).reshape(len(profile.tensors), len(machine.tiers))


def copy_ns(nbytes: float, src: str, dst: str, rates: dict[str, tuple[float, float]]) -> float:
    """Modelled time to copy ``nbytes`` from tier ``src`` to tier ``dst`` (read, then write)."""
    return nbytes * (rates[src][0] + rates[dst][1])


def plan_memory_ns(plans, machine: Machine, threads: int) -> float:
    """The same model over engine op plans (``demands.schedule``): all traffic, copies included."""
    rates = ns_per_byte(machine, threads)
    return float(sum(p.read[t] * rates[t][0] + p.write[t] * rates[t][1] for p in plans for t in machine.tier_names))
