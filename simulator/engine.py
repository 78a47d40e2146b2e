"""Replay a workload on a machine: SimPy workers, shared-bandwidth channels, per-op splits.

Each op (layer) is data-parallel over its output ciphertexts, as the reference stack's OpenMP
loops are: with T threads it runs as min(T, parallelism) slices of whole output ciphertexts (an
OpenMP static schedule: the largest slice holds ceil(n / T) of n), each with its share of the
compute and of every tier's traffic. An op's slices become ready when the ops it depends on
(read/write/free of a shared tensor) are done, so independent ops overlap when threads allow.
A slice reads (one transfer per tier), computes, then writes; transfers on one (tier,
direction) channel share its bandwidth by the device's concurrency curve. Transfers are
sequential streams: traces move whole ciphertexts (64 KiB and more), not granule-sized accesses.

Op compute = recorded busy time - the time the recording machine's DRAM (one stream: the runtime
is single-threaded) needed for the op's traffic (simulator/recording.py: CPU time and the host's
calibrated memory when the trace has them). Traffic is first filtered by the CPU's last-level
cache: a tensor whose live footprint in the op fits in half the LLC costs one pass of memory
traffic, however often the op touches it.

A stack profile (simulator/stack.py) then says how the software schedules the ops: dataflow or
one op at a time, the target's primitive cost relative to the recording's, ops that run on one
thread, and a serial part per output that runs on one thread under the executor's lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from hetier.simulator.devices import Device
from hetier.simulator.machines import Machine
from hetier.simulator.memory_mode import LINE, MemoryModeCache
from hetier.simulator.placement import Placement, place
from hetier.simulator.policies import Policy
from hetier.simulator.recording import Recording
from hetier.simulator.sharing import VirtualTimeShare
from hetier.simulator.stack import StackProfile
from hetier.simulator.workload import Workload


@dataclass
class OpPlan:
    """Per-op inputs of the SimPy run (all bytes after the CPU cache)."""

    compute_ns: float
    read: dict[str, float]
    write: dict[str, float]
    slices: int
    misses: int = 0  # Memory Mode: 64 B lines the op reads from the backing tier
    deps: list[int] = field(default_factory=list)
    serial_ns: float = 0.0  # runs on one thread, under the executor lock, before the slices
    items: int = 1  # independent output ciphertexts, dealt to the slices as whole items

    def share(self, s: int) -> float:
        """Part of the op's work in slice ``s``: its whole items over all items."""
        k, n = self.slices, max(self.items, self.slices)
        return (n // k + (s < n % k)) / n


def llc_filter(nbytes: np.ndarray, footprint: np.ndarray, llc_bytes: int,
               resident: np.ndarray | None = None) -> np.ndarray:
    """Memory traffic after the CPU cache: one pass for tensors that fit in half the LLC, and for
    ``resident`` rows (tensors a stack keeps in the threads' caches while it works on them)."""
    streams = footprint > llc_bytes // 2
    if resident is not None:
        streams &= ~resident
    return np.where(streams, nbytes, np.minimum(nbytes, footprint)).astype(np.float64)


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
             recording: Recording, stack: StackProfile = StackProfile("hetier"),
             seed: int = 0) -> tuple[list[OpPlan], Placement, dict]:
    """Compute, per-tier traffic and slicing of every op; Memory Mode cache statistics."""
    plans, pl, stats = memory_plans(workload, machine, policy, recording, seed, stack, threads)
    return schedule(plans, workload, stack, threads), pl, stats


def schedule(plans: list[OpPlan], workload: Workload, stack: StackProfile, threads: int) -> list[OpPlan]:
    """Apply a stack profile to the memory plans: op order, compute scale, serial parts, slices.
    One thread replays the recorded order; more threads let independent ops overlap unless the
    stack runs one op at a time."""
    seq = threads == 1 or stack.schedule == "sequential"
    deps = [[i - 1] if i else [] for i in range(len(workload.ops))] if seq else _dependencies(workload)
    out = []
    for p, op in zip(plans, workload.ops):
        serial = stack.serial_ns_per_output * op.parallelism if op.kind in stack.serial_output_kinds else 0.0
        slices = 1 if op.kind in stack.single_thread_kinds else max(1, min(threads, op.parallelism))
        out.append(replace(p, compute_ns=p.compute_ns * stack.compute_scale, serial_ns=serial, slices=slices,
                           items=op.parallelism, deps=deps[op.index]))
    return out


def memory_plans(workload: Workload, machine: Machine, policy: Policy | None, recording: Recording,
                 seed: int = 0, stack: StackProfile = StackProfile("hetier"),
                 threads: int = 1) -> tuple[list[OpPlan], Placement, dict]:
    """Per op: recorded compute and per-tier traffic after the CPU cache and the placement (the
    policy may plan for ``threads``) or Memory Mode's cache (its page frames drawn with ``seed``);
    no scheduling yet. Ops the stack accumulates output-stationary keep each output's running sum
    and product in the thread's cache: the tensors such an op allocates cost one pass."""
    rec_dev = recording.memory_device()
    rec_r, rec_w = rec_dev.bandwidth(1), rec_dev.bandwidth(1, write=True)
    pl = place(workload, machine, policy, threads)
    tiers = machine.tier_names
    mm = MemoryModeCache(machine.device(tiers[0]).capacity_bytes, machine.cache_block_bytes, machine.page_bytes,
                         seed) if machine.mode == "memory" else None
    stats = {"compute_clamped_ops": 0, "hit_bytes": 0.0, "miss_bytes": 0.0, "writeback_bytes": 0.0,
             "pmem_load_bytes": [], "pmem_demand_load_bytes": []}
    plans = []
    for op in workload.ops:
        rec_bytes = llc_filter(op.acc_bytes, op.acc_footprint, recording.llc_bytes)
        mem_ns = rec_bytes[~op.acc_write].sum() / rec_r + rec_bytes[op.acc_write].sum() / rec_w
        compute = recording.busy_ns(op) - mem_ns
        if compute < 0:
            stats["compute_clamped_ops"] += 1
            compute = 0.0
        own = np.isin(op.acc_tensor, op.alloc_tensor) if op.kind in stack.output_stationary_kinds else None
        traffic = llc_filter(op.acc_bytes, op.acc_footprint, machine.llc_bytes, own)
        read = {t: 0.0 for t in tiers}
        write = {t: 0.0 for t in tiers}
        misses = 0
        if mm is not None:
            for t, c, u in zip(op.alloc_tensor.tolist(), op.alloc_count.tolist(), op.alloc_unit.tolist()):
                mm.alloc(t, c, u)
            # the op's streams run concurrently on its threads; stores read for ownership unless
            # the stack writes this kind's outputs with streaming stores
            k = 1 if op.kind in stack.single_thread_kinds else max(1, min(threads, op.parallelism))
            tr = mm.op_traffic(op.acc_tensor, op.acc_write, traffic, threads=k,
                               rfo=op.kind not in stack.streaming_store_kinds)
            for t, c in zip(op.free_tensor.tolist(), op.free_count.tolist()):
                mm.free(t, c)
            read[tiers[0]], write[tiers[0]] = tr.dram_read, tr.dram_write
            read[tiers[1]], write[tiers[1]] = tr.pmem_read, tr.pmem_write
            misses = tr.misses
            stats["hit_bytes"] += tr.hit_bytes
            stats["miss_bytes"] += tr.miss_bytes
            stats["writeback_bytes"] += tr.writeback_bytes
            stats["pmem_load_bytes"].append(tr.load_pmem_bytes)  # loads served by Optane, per op
            stats["pmem_demand_load_bytes"].append(tr.load_pmem_bytes * stack.load_visible.get(op.kind, 1.0))
        else:
            for t, w, b in zip(op.acc_tensor.tolist(), op.acc_write.tolist(), traffic.tolist()):
                for tier, share in pl.tier_shares(t, tiers[0], op.index).items():
                    (write if w else read)[tier] += b * share
            for tier, (r, w) in pl.copies.get(op.index, {}).items():  # moves at the op's start
                read[tier] += r
                write[tier] += w
        plans.append(OpPlan(compute, read, write, 1, misses))
    return plans, pl, stats


def miss_penalty_per_line(machine: Machine) -> float:
    """Memory Mode: the time a thread waits per 64 B line it misses in the DRAM cache. Each miss
    adds ``mm_miss_penalty_ns``, overlapped with the thread's other misses in flight: by Little's
    law, one stream's bandwidth times the backing device's latency, in lines."""
    if machine.mode != "memory" or not machine.mm_miss_penalty_ns:
        return 0.0
    backing = machine.tiers[-1][1]
    in_flight = max(1.0, backing.bandwidth(1) * backing.read_latency_seq_ns / LINE)
    return machine.mm_miss_penalty_ns / in_flight


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


def run_in_order(plans: list[OpPlan], machine: Machine) -> RunStats:
    """The closed form of ``run`` for plans that run one op at a time (each depends on the one
    before): an op's serial part, then its k equal slices in lockstep, each transfer sharing its
    channel with the other k - 1. Used where many replays of the same plans are needed (fits);
    tests hold it to ``run``."""
    tiers = machine.tier_names
    devs: dict[str, Device] = dict(machine.tiers)
    penalty = miss_penalty_per_line(machine)
    n = len(plans)
    compute, start, end = np.zeros(n), np.zeros(n), np.zeros(n)
    stall = {t: np.zeros(n) for t in tiers}
    now = 0.0
    for i, p in enumerate(plans):
        if p.deps and p.deps != [i - 1]:
            raise ValueError(f"op {i} does not run after op {i - 1} alone; use run()")
        start[i] = now
        k = p.slices
        if p.items % k:  # unequal slices fall out of lockstep: simulate this op alone
            alone = run([replace(p, deps=[])], machine, k)
            compute[i], end[i] = alone.compute_ns[0], now + alone.makespan_ns
            for t in tiers:
                stall[t][i] = alone.stall_ns[t][0]
            now = end[i]
            continue
        # k equal transfers share a channel's bandwidth(k): each takes total / bandwidth(k)
        lockstep = [(t, w, (p.write if w else p.read)[t]) for w in (False, True) for t in tiers]
        stream = {(t, w): devs[t].media_bytes(b, w) / devs[t].bandwidth(k, write=w) + devs[t].latency_ns(w)
                  for t, w, b in lockstep if b > 0}
        for (t, _), dt in stream.items():
            stall[t][i] += dt * k
        exposed = penalty * p.misses / k  # each of the k slices waits for its share of the misses
        stall[tiers[-1]][i] += exposed * k
        now += p.serial_ns + sum(stream.values()) + exposed + p.compute_ns / k
        compute[i] = p.compute_ns + p.serial_ns
        end[i] = now
    return RunStats(float(end.max()) if n else 0.0, compute, stall, start, end)


class Replay:
    """One SimPy run of op plans: the workers, the shared channels and what they measured.

    State a reader may want lives here, not in closures: ``ready`` holds the slices that may
    start ((op, slice); slice -1 is an op's serial part), ``waiting`` how many dependencies each
    op still has, ``left`` how many of its slices are still running."""

    def __init__(self, plans: list[OpPlan], machine: Machine, threads: int,
                 on_op: Callable[[int], None] | None = None):
        import simpy

        self.env = env = simpy.Environment()
        self.plans, self.machine, self.threads, self.on_op = plans, machine, threads, on_op
        self.tiers = machine.tier_names
        self.devices: dict[str, Device] = dict(machine.tiers)
        self.channels = {(t, w): Channel(env, (lambda n, d=self.devices[t], w=w: d.bandwidth(n, write=w)))
                         for t in self.tiers for w in (False, True)}
        n = len(plans)
        self.compute = np.zeros(n)
        self.stall = {t: np.zeros(n) for t in self.tiers}
        self.start = np.full(n, np.nan)
        self.end = np.zeros(n)
        self.left = [p.slices for p in plans]
        self.waiting = [len(p.deps) for p in plans]
        self.dependents: list[list[int]] = [[] for _ in plans]
        for i, p in enumerate(plans):
            for d in p.deps:
                self.dependents[d].append(i)
        self.ready = simpy.Store(env)
        self.executor_lock = simpy.Resource(env, capacity=1)  # serial parts run one at a time
        self.done = 0
        self.penalty = miss_penalty_per_line(machine)

    def release(self, i: int) -> None:
        """Op ``i`` may start: its serial part first, if it has one, else its slices."""
        if self.plans[i].serial_ns > 0:
            self.ready.put((i, -1))
        else:
            self.slices_ready(i)

    def slices_ready(self, i: int) -> None:
        for s in range(self.plans[i].slices):
            self.ready.put((i, s))

    def stream(self, i: int, tier: str, write: bool, nbytes: float):
        """A slice's transfer on one (tier, direction) channel, then the device's idle latency."""
        dev, t0 = self.devices[tier], self.env.now
        yield self.channels[(tier, write)].transfer(dev.media_bytes(nbytes, write))
        yield self.env.timeout(dev.latency_ns(write))
        self.stall[tier][i] += self.env.now - t0

    def serial(self, i: int):
        """The op's serial part, under the executor lock; then its slices become ready."""
        p = self.plans[i]
        with self.executor_lock.request() as req:
            yield req
            yield self.env.timeout(p.serial_ns)
        self.compute[i] += p.serial_ns
        self.slices_ready(i)

    def slice(self, i: int, s: int):
        """Slice ``s`` of op ``i``: read (tier by tier), compute, write."""
        p, f = self.plans[i], self.plans[i].share(s)
        for t in self.tiers:
            if p.read[t] > 0:
                yield from self.stream(i, t, False, p.read[t] * f)
        if self.penalty and p.misses:
            exposed = self.penalty * p.misses * f
            yield self.env.timeout(exposed)
            self.stall[self.tiers[-1]][i] += exposed
        yield self.env.timeout(p.compute_ns * f)
        self.compute[i] += p.compute_ns * f
        for t in self.tiers:
            if p.write[t] > 0:
                yield from self.stream(i, t, True, p.write[t] * f)
        self.left[i] -= 1
        if self.left[i] == 0:
            self.finish(i)

    def finish(self, i: int) -> None:
        self.end[i] = self.env.now
        self.done += 1
        if self.on_op:
            self.on_op(i)
        for j in self.dependents[i]:
            self.waiting[j] -= 1
            if self.waiting[j] == 0:
                self.release(j)
        if self.done == len(self.plans):
            for _ in range(self.threads):
                self.ready.put(None)

    def worker(self):
        """A thread: takes ready slices until the run ends."""
        while True:
            item = yield self.ready.get()
            if item is None:
                return
            i, s = item
            if np.isnan(self.start[i]):
                self.start[i] = self.env.now
            yield from (self.serial(i) if s < 0 else self.slice(i, s))

    def run(self) -> RunStats:
        for i in range(len(self.plans)):
            if self.waiting[i] == 0:
                self.release(i)
        for _ in range(self.threads):
            self.env.process(self.worker())
        self.env.run()
        # env.now may lie past the last op: superseded channel timeouts still fire, doing nothing
        n = len(self.plans)
        return RunStats(float(self.end.max()) if n else 0.0, self.compute, self.stall,
                        np.nan_to_num(self.start), self.end)


def run(plans: list[OpPlan], machine: Machine, threads: int,
        on_op: Callable[[int], None] | None = None) -> RunStats:
    """Execute the op plans with ``threads`` SimPy workers; returns per-op times."""
    return Replay(plans, machine, threads, on_op).run()
