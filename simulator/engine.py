"""Replay a workload on a machine: SimPy workers, shared-bandwidth channels, per-op splits.

Each op (layer) is data-parallel over its output ciphertexts, as the reference stack's OpenMP
loops are: with T threads it runs as min(T, parallelism) slices, each with its share of the
compute and of every tier's traffic. An op's slices become ready when the ops it depends on
(read/write/free of a shared tensor) are done, so independent ops overlap when threads allow.
A slice reads (one transfer per tier), computes, then writes; transfers on one (tier,
direction) channel share its bandwidth by the device's concurrency curve.

Op compute = recorded busy time - the time the recording machine's DRAM (one stream: the runtime
is single-threaded) needed for the op's traffic (simulator/recording.py: CPU time and the host's
calibrated memory when the trace has them). Traffic is first filtered by the CPU's last-level
cache: a tensor whose live footprint in the op fits in half the LLC costs one pass of memory
traffic, however often the op touches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hetier.simulator.devices import Device
from hetier.simulator.machines import Machine
from hetier.simulator.memory_mode import MemoryModeCache
from hetier.simulator.placement import Placement, place
from hetier.simulator.policies import Policy
from hetier.simulator.recording import Recording
from hetier.simulator.sharing import VirtualTimeShare
from hetier.simulator.workload import Workload


@dataclass
class OpPlan:
    """Per-op inputs of the SimPy run (all bytes after the CPU cache)."""

    compute_ns: float
    read: dict[str, float]
    write: dict[str, float]
    slices: int
    misses: int = 0
    deps: list[int] = field(default_factory=list)
    access_bytes: float | None = None  # random accesses of this size; None: sequential streams


def llc_filter(nbytes: np.ndarray, footprint: np.ndarray, llc_bytes: int) -> np.ndarray:
    """Memory traffic after the CPU cache: one pass for tensors that fit in half the LLC."""
    return np.where(footprint > llc_bytes // 2, nbytes, np.minimum(nbytes, footprint)).astype(np.float64)


def _dependencies(workload: Workload) -> list[list[int]]:
    last_writer: dict[int, int] = {}
    readers: dict[int, list[int]] = {}
    deps = []
    for op in workload.ops:
        d: set[int] = set()
        reads = op.acc_tensor[~op.acc_write].tolist()
        writes = set(op.acc_tensor[op.acc_write].tolist()) | set(op.alloc_tensor.tolist()) | set(op.free_tensor.tolist())
        for t in reads:
            if t in last_writer:
                d.add(last_writer[t])
        for t in writes:
            if t in last_writer:
                d.add(last_writer[t])
            d.update(readers.get(t, []))
        for t in reads:
            readers.setdefault(t, []).append(op.index)
        for t in writes:
            last_writer[t] = op.index
            readers[t] = []
        d.discard(op.index)
        deps.append(sorted(d))
    return deps


def plan_ops(workload: Workload, machine: Machine, policy: Policy | None, threads: int,
             recording: Recording) -> tuple[list[OpPlan], Placement, dict]:
    """Compute, per-tier traffic and slicing of every op; Memory Mode cache statistics."""
    rec_dev = recording.memory_device()
    rec_r, rec_w = rec_dev.bandwidth(1), rec_dev.bandwidth(1, write=True)
    pl = place(workload, machine, policy)
    tiers = machine.tier_names
    mm = MemoryModeCache(machine.device(tiers[0]).capacity_bytes, machine.cache_block_bytes) \
        if machine.mode == "memory" else None
    stats = {"compute_clamped_ops": 0, "hit_bytes": 0.0, "miss_bytes": 0.0, "writeback_bytes": 0.0}
    # one thread replays the recorded order; more threads let independent ops overlap
    deps = _dependencies(workload) if threads > 1 else [[i - 1] if i else [] for i in range(len(workload.ops))]
    plans = []
    for op in workload.ops:
        rec_bytes = llc_filter(op.acc_bytes, op.acc_footprint, recording.llc_bytes)
        mem_ns = rec_bytes[~op.acc_write].sum() / rec_r + rec_bytes[op.acc_write].sum() / rec_w
        compute = recording.busy_ns(op) - mem_ns
        if compute < 0:
            stats["compute_clamped_ops"] += 1
            compute = 0.0
        traffic = llc_filter(op.acc_bytes, op.acc_footprint, machine.llc_bytes)
        read = {t: 0.0 for t in tiers}
        write = {t: 0.0 for t in tiers}
        misses = 0
        if mm is not None:
            for t, c, u in zip(op.alloc_tensor.tolist(), op.alloc_count.tolist(), op.alloc_unit.tolist()):
                mm.alloc(t, c, u)
            tr = mm.op_traffic(op.acc_tensor, op.acc_write, traffic)
            for t, c in zip(op.free_tensor.tolist(), op.free_count.tolist()):
                mm.free(t, c)
            read[tiers[0]], write[tiers[0]] = tr.dram_read, tr.dram_write
            read[tiers[1]], write[tiers[1]] = tr.pmem_read, tr.pmem_write
            misses = tr.misses
            stats["hit_bytes"] += tr.hit_bytes
            stats["miss_bytes"] += tr.miss_bytes
            stats["writeback_bytes"] += tr.writeback_bytes
        else:
            for t, w, b in zip(op.acc_tensor.tolist(), op.acc_write.tolist(), traffic.tolist()):
                for tier, share in pl.tier_shares(t, tiers[0]).items():
                    (write if w else read)[tier] += b * share
        plans.append(OpPlan(compute, read, write, max(1, min(threads, op.parallelism)), misses, deps[op.index]))
    return plans, pl, stats


class Channel:
    """One (tier, direction): transfers share its bandwidth (virtual-time processor sharing)."""

    def __init__(self, env, rate: Callable[[int], float]):
        self.env = env
        self.share = VirtualTimeShare(rate)
        self.waiters: dict[int, object] = {}
        self.seq = 0
        self.gen = 0

    def transfer(self, nbytes: float):
        ev = self.env.event()
        k = self.seq
        self.seq += 1
        self.share.insert(self.env.now, k, nbytes)
        self.waiters[k] = ev
        self._arm()
        return ev

    def _arm(self) -> None:
        self.gen += 1
        t = self.share.next_finish(self.env.now)
        if t != math.inf:
            g = self.gen
            self.env.timeout(max(t - self.env.now, 0.0)).callbacks.append(lambda _e: self._fire(g))

    def _fire(self, g: int) -> None:
        if g != self.gen:
            return
        for k in self.share.pop_finished(self.env.now):
            self.waiters.pop(k).succeed()
        self._arm()


@dataclass
class RunStats:
    """What the SimPy run measured, per op."""

    makespan_ns: float
    compute_ns: np.ndarray
    stall_ns: dict[str, np.ndarray]
    start_ns: np.ndarray
    end_ns: np.ndarray


def run(plans: list[OpPlan], machine: Machine, threads: int,
        on_op: Callable[[int], None] | None = None) -> RunStats:
    """Execute the op plans with ``threads`` SimPy workers; returns per-op times."""
    import simpy

    env = simpy.Environment()
    tiers = machine.tier_names
    devs: dict[str, Device] = dict(machine.tiers)
    chan = {(t, w): Channel(env, (lambda n, d=devs[t], w=w: d.bandwidth(n, write=w))) for t in tiers for w in (False, True)}
    n = len(plans)
    compute = np.zeros(n)
    stall = {t: np.zeros(n) for t in tiers}
    start = np.full(n, np.nan)
    end = np.zeros(n)
    left_slices = [p.slices for p in plans]
    waiting = [len(p.deps) for p in plans]
    dependents: list[list[int]] = [[] for _ in plans]
    for i, p in enumerate(plans):
        for d in p.deps:
            dependents[d].append(i)
    ready = simpy.Store(env)
    done = [0]
    penalty = machine.mm_miss_penalty_ns if machine.mode == "memory" else 0.0

    def release(i: int) -> None:
        for s in range(plans[i].slices):
            ready.put((i, s))

    def worker(env):
        while True:
            item = yield ready.get()
            if item is None:
                return
            i, _ = item
            p = plans[i]
            if np.isnan(start[i]):
                start[i] = env.now
            k = p.slices
            for t in tiers:
                if p.read[t] > 0:
                    t0 = env.now
                    media = p.read[t] / k
                    if p.access_bytes:
                        media /= devs[t].access_efficiency(p.access_bytes, write=False)
                    yield chan[(t, False)].transfer(media)
                    yield env.timeout(devs[t].read_latency_seq_ns)
                    stall[t][i] += env.now - t0
            if penalty and p.misses:
                yield env.timeout(penalty)
                stall[tiers[-1]][i] += penalty
            yield env.timeout(p.compute_ns / k)
            compute[i] += p.compute_ns / k
            for t in tiers:
                if p.write[t] > 0:
                    t0 = env.now
                    media = p.write[t] * devs[t].write_amplification / k
                    if p.access_bytes:
                        media /= devs[t].access_efficiency(p.access_bytes, write=True)
                    yield chan[(t, True)].transfer(media)
                    yield env.timeout(devs[t].write_latency_ns)
                    stall[t][i] += env.now - t0
            left_slices[i] -= 1
            if left_slices[i] == 0:
                end[i] = env.now
                done[0] += 1
                if on_op:
                    on_op(i)
                for j in dependents[i]:
                    waiting[j] -= 1
                    if waiting[j] == 0:
                        release(j)
                if done[0] == n:
                    for _ in range(threads):
                        ready.put(None)

    for i in range(n):
        if waiting[i] == 0:
            release(i)
    for _ in range(threads):
        env.process(worker(env))
    env.run()
    # env.now may lie past the last op: superseded channel timeouts still fire, doing nothing
    return RunStats(float(end.max()) if n else 0.0, compute, stall, np.nan_to_num(start), end)
