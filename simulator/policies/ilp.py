"""``ilp``: the static placement of least modelled memory time, by the integer program AutoTM
solved for DNN tensors on DRAM + Optane. It is optimal in that model, not in the simulated time
(named for what it optimises: another static placement can replay faster, see below).

Objective (the model of ``simulator/memory_time.py``): minimise the modelled memory time
    sum over tensors t, tiers X of  x[t,X] * (read_t / read_bw_X(T) + write_t * wa_X / write_bw_X(T))
with read_t, write_t the tensor's bytes after the CPU cache, bandwidths at the replay's thread
count T and wa the tier's write amplification; each tensor in exactly one tier (sum_X x[t,X] = 1,
x binary) for its whole life, and for every tier and every op whose allocations change the live
set, the live bytes placed there at that op's peak at most the tier's capacity. Compute time
and overlap are not in the model: the engine's makespan can rank two placements differently
when their traffic overlaps differently.
``ilp:site`` decides per allocation site (allocating layer and kind) instead of per tensor,
which the policy also does on its own past SITE_THRESHOLD tensors. Solved by HiGHS through
``scipy.optimize.milp`` to a relative gap of 1e-9.
"""

from __future__ import annotations

import time

import numpy as np

from hetier.errors import HetierError, UsageError
from hetier.simulator.memory_time import cost_matrix
from hetier.simulator.policies.base import ScheduledPolicy
from hetier.simulator.tensor_lifetimes import TensorLifetimes, tensor_lifetimes

SITE_THRESHOLD = 20_000  # tensors; beyond this the program has one variable per site and tier


class Ilp(ScheduledPolicy):
    name = "ilp"
    description = "static placement minimising modelled memory time under capacity (MILP, HiGHS); ilp:site per site"

    def __init__(self, tiers, arg=None):
        super().__init__(tiers)
        if arg not in (None, "site", "tensor"):
            raise UsageError(f"policy ilp: granularity '{arg}' unknown (known: tensor, site)")
        self.granularity = arg
        self.objective_ns: float | None = None
        self.solve_seconds: float | None = None
        self.sites: dict[str, str] = {}

    @property
    def label(self) -> str:
        return self.name if self.granularity is None else f"{self.name}:{self.granularity}"

    def schedule(self, workload, machine, threads):
        t0 = time.perf_counter()
        start, self.sites, self.objective_ns = ilp_start(tensor_lifetimes(workload, machine.llc_bytes), machine,
                                                             threads, self.granularity)
        self.solve_seconds = time.perf_counter() - t0
        return start, {}


def ilp_start(profile: TensorLifetimes, machine, threads: int, granularity: str | None = None
                  ) -> tuple[dict[int, str], dict[str, str], float]:
    """Tier per tensor, tier per site (when deciding by site) and the modelled memory time in ns."""
    by_site = granularity == "site" or (granularity is None and len(profile.tensors) > SITE_THRESHOLD)
    groups = [s.site if by_site else s.tensor for s in profile.tensors]
    choice, objective = solve_static(profile, machine, threads, groups)
    sites = {g: tier for g, tier in zip(groups, choice)} if by_site else {}
    return {s.tensor: tier for s, tier in zip(profile.tensors, choice)}, sites, objective


def solve_static(profile: TensorLifetimes, machine, threads: int, groups: list) -> tuple[list[str], float]:
    """Best tier per tensor (tensors of one group share it) and the modelled memory time in ns."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    tiers = machine.tier_names
    keys = list(dict.fromkeys(groups))
    if not keys:
        return [], 0.0
    gi = _index(groups, keys)
    n, m = len(keys), len(tiers)
    cost_t = cost_matrix(profile, machine, threads)
    cost = np.zeros((n, m))
    np.add.at(cost, gi, cost_t)
    size = np.zeros(n)
    np.add.at(size, gi, [s.nbytes for s in profile.tensors])
    scale = max(float(np.abs(cost).max()), 1.0)
    # live bytes per (instant, group): one instant per op that allocates
    rows, cols, vals = [], [], []
    for s, g in zip(profile.tensors, gi):
        nz = np.flatnonzero(s.live)
        rows += (nz + s.first_op).tolist()
        cols += [g] * len(nz)
        vals += s.live[nz].tolist()
    live = coo_matrix((np.array(vals, dtype=np.float64), (rows, cols)), shape=(profile.n_ops, n)).tocsr()
    live.sum_duplicates()
    constraints = [LinearConstraint(coo_matrix((np.ones(n * m), (np.repeat(np.arange(n), m), np.arange(n * m))),
                                               shape=(n, n * m)), 1, 1)]
    total = np.asarray(live.sum(axis=1)).ravel()
    for j, tier in enumerate(tiers):
        cap = machine.device(tier).capacity_bytes
        binding = np.flatnonzero(total > cap)  # instants where this tier could overflow
        if len(binding):
            sub = live[binding].tocoo()
            a = coo_matrix((sub.data / 1e9, (sub.row, sub.col * m + j)), shape=(len(binding), n * m))
            constraints.append(LinearConstraint(a, -np.inf, cap / 1e9))
    upper = np.ones(n * m)
    upper[np.repeat(size == 0, m) & (np.tile(np.arange(m), n) != 0)] = 0  # empty groups stay where the engine puts unplaced tensors
    res = milp(cost.ravel() / scale, integrality=np.ones(n * m), bounds=Bounds(0, upper), constraints=constraints,
               options={"mip_rel_gap": 1e-9})
    if res.status == 2:
        peak = int(profile.peak_live.max()) if profile.n_ops else 0
        caps = sum(machine.device(t).capacity_bytes for t in tiers)
        raise HetierError(f"policy ilp: no static placement fits on '{machine.name}' "
                          f"(peak live {peak / 1e9:.2f} GB, tiers hold {caps / 1e9:.2f} GB in all)")
    if res.x is None:
        raise HetierError(f"policy ilp: the solver stopped without a placement ({res.message})")
    x = np.round(res.x).reshape(n, m)
    pick = x.argmax(axis=1)
    return [tiers[pick[g]] for g in gi], float(cost[np.arange(n), pick].sum())


def _index(groups: list, keys: list) -> np.ndarray:
    pos = {k: i for i, k in enumerate(keys)}
    return np.array([pos[g] for g in groups], dtype=np.int64)
