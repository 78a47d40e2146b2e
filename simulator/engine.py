"""One SimPy run of op demands: workers, shared-bandwidth channels, per-op time splits.

Each op's slices (simulator/demands.py) become ready when the ops it depends on are done, so
independent ops overlap when threads allow. A slice reads (one transfer per tier), waits its
op's latency, computes, then writes; transfers on one (tier, direction) channel share its
bandwidth by the device's concurrency curve. An op's latency (a cache's exposed miss penalty) is
waited by its slices in proportion to their share of its work. Transfers are sequential streams: traces move whole
ciphertexts (64 KiB and more), not granule-sized accesses. An op's serial part (the executor
thread's own work, with its reads as one stream) runs after its slices, on one thread, under the
executor lock; the op is done when it ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from hetier.simulator.demands import OpDemand
from hetier.simulator.devices import Device
from hetier.simulator.machine import Machine
from hetier.simulator.sharing import VirtualTimeShare


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
    # wall time of each op's serial part (its executor work: CPU and reads), which a stack's op timer
    # may leave out (HE-Transformer stops an op's timer before the executor frees its dead tensors)
    serial_ns: np.ndarray | None = None
    # threads each op's parallel part ran on (its slices; its serial part runs on one)
    threads: np.ndarray | None = None


def transfer_ns(dev: Device, nbytes: float, write: bool, k: int) -> float:
    """One of k equal concurrent transfers of ``nbytes`` on a device alone: its share of the
    bandwidth at k streams, then the device's idle latency (what ``run``'s channels give)."""
    return dev.media_bytes(nbytes, write) / dev.bandwidth(k, write=write) + dev.latency_ns(write)


def run_in_order(demands: list[OpDemand], machine: Machine) -> RunStats:
    """The closed form of ``run`` for demands that run one op at a time (each depends on the one
    before): an op's k equal slices in lockstep, then its serial part, each transfer sharing its
    channel with the other k - 1. Used where many replays of the same demands are needed (fits);
    tests hold it to ``run``."""
    tiers = machine.tier_names
    devs: dict[str, Device] = dict(machine.tiers)
    n = len(demands)
    compute, start, end, serial = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    stall = {t: np.zeros(n) for t in tiers}
    now = 0.0
    for i, p in enumerate(demands):
        if p.deps and p.deps != [i - 1]:
            raise ValueError(f"op {i} does not run after op {i - 1} alone; use run()")
        start[i] = now
        k = p.slices
        if p.items % k:  # unequal slices fall out of lockstep: simulate this op alone
            alone = run([replace(p, deps=[])], machine, k)
            compute[i], end[i], serial[i] = alone.compute_ns[0], now + alone.makespan_ns, alone.serial_ns[0]
            for t in tiers:
                stall[t][i] = alone.stall_ns[t][0]
            now = end[i]
            continue
        # the serial part: its reads (one stream, each tier in turn, and its misses' wait) under its CPU work
        reads = {t: transfer_ns(devs[t], b, False, 1) for t, b in p.serial_read.items() if b > 0}
        reads[tiers[-1]] = reads.get(tiers[-1], 0.0) + p.serial_latency_ns
        mem = sum(reads.values())
        alone_ns = max(0.0, mem - p.serial_ns)
        for t, dt in reads.items():
            stall[t][i] += dt * alone_ns / mem if mem > 0 else 0.0
        # k equal transfers share a channel's bandwidth(k): each takes total / bandwidth(k)
        lockstep = [(t, w, (p.write if w else p.read)[t]) for w in (False, True) for t in tiers]
        stream = {(t, w): transfer_ns(devs[t], b, w, k) for t, w, b in lockstep if b > 0}
        for (t, _), dt in stream.items():
            stall[t][i] += dt * k
        stall[tiers[-1]][i] += p.latency_ns  # each of the k equal slices waits its share
        now += p.serial_ns + alone_ns + sum(stream.values()) + p.latency_ns / k + p.compute_ns / k
        compute[i] = p.compute_ns + p.serial_ns
        serial[i] = p.serial_ns + alone_ns
        end[i] = now
    return RunStats(float(end.max()) if n else 0.0, compute, stall, start, end, serial,
                    np.array([p.slices for p in demands], dtype=np.int64))


class Replay:
    """One SimPy run of op demands: the workers, the shared channels and what they measured.

    State a reader may want lives here, not in closures: ``ready`` holds the slices that may
    start ((op, slice); slice -1 is an op's serial part), ``waiting`` how many dependencies each
    op still has, ``left`` how many of its slices are still running."""

    def __init__(self, demands: list[OpDemand], machine: Machine, threads: int,
                 on_op: Callable[[int], None] | None = None):
        import simpy

        self.env = env = simpy.Environment()
        self.demands, self.machine, self.threads, self.on_op = demands, machine, threads, on_op
        self.tiers = machine.tier_names
        self.devices: dict[str, Device] = dict(machine.tiers)
        self.channels = {(t, w): Channel(env, (lambda n, d=self.devices[t], w=w: d.bandwidth(n, write=w)))
                         for t in self.tiers for w in (False, True)}
        n = len(demands)
        self.compute = np.zeros(n)
        self.stall = {t: np.zeros(n) for t in self.tiers}
        self.start = np.full(n, np.nan)
        self.end = np.zeros(n)
        self.serial_wall = np.zeros(n)
        self.left = [p.slices for p in demands]
        self.waiting = [len(p.deps) for p in demands]
        self.dependents: list[list[int]] = [[] for _ in demands]
        for i, p in enumerate(demands):
            for d in p.deps:
                self.dependents[d].append(i)
        self.ready = simpy.Store(env)
        self.executor_lock = simpy.Resource(env, capacity=1)  # serial parts run one at a time
        self.done = 0

    def release(self, i: int) -> None:
        """Op ``i`` may start: its slices; its serial part, if it has one, follows the last of them."""
        for s in range(self.demands[i].slices):
            self.ready.put((i, s))

    def stream(self, i: int, tier: str, write: bool, nbytes: float):
        """A slice's transfer on one (tier, direction) channel, then the device's idle latency."""
        dev, t0 = self.devices[tier], self.env.now
        yield self.channels[(tier, write)].transfer(dev.media_bytes(nbytes, write))
        yield self.env.timeout(dev.latency_ns(write))
        self.stall[tier][i] += self.env.now - t0

    def serial(self, i: int):
        """The op's serial part, after its slices, under the executor lock: its CPU time with its reads
        (one stream) and the wait for their misses running under it, so it takes the longer of the
        two: a walk over objects in address order, which the prefetcher runs ahead of; then the op
        is done (HE-Transformer's executor frees an op's dead tensors after the op's parallel kernel
        and before the next op)."""
        p = self.demands[i]
        with self.executor_lock.request() as req:
            yield req
            t0 = self.env.now
            before = {t: self.stall[t][i] for t in self.tiers}
            for t in self.tiers:
                if p.serial_read.get(t, 0) > 0:
                    yield from self.stream(i, t, False, p.serial_read[t])
            if p.serial_latency_ns:
                yield self.env.timeout(p.serial_latency_ns)
                self.stall[self.tiers[-1]][i] += p.serial_latency_ns
            mem = self.env.now - t0
            if mem < p.serial_ns:  # the reads ran under the CPU work: the part waits for that alone
                yield self.env.timeout(p.serial_ns - mem)
            if mem > 0:  # a wait only where the reads outlast the CPU work
                for t in self.tiers:
                    self.stall[t][i] = before[t] + (self.stall[t][i] - before[t]) * max(0.0, mem - p.serial_ns) / mem
            self.serial_wall[i] = self.env.now - t0
        self.compute[i] += p.serial_ns
        self.finish(i)

    def slice(self, i: int, s: int):
        """Slice ``s`` of op ``i``: read (tier by tier), compute, write."""
        p, f = self.demands[i], self.demands[i].share(s)
        for t in self.tiers:
            if p.read[t] > 0:
                yield from self.stream(i, t, False, p.read[t] * f)
        if p.latency_ns:  # the slice's share of the op's exposed latency
            yield self.env.timeout(p.latency_ns * f)
            self.stall[self.tiers[-1]][i] += p.latency_ns * f
        yield self.env.timeout(p.compute_ns * f)
        self.compute[i] += p.compute_ns * f
        for t in self.tiers:
            if p.write[t] > 0:
                yield from self.stream(i, t, True, p.write[t] * f)
        self.left[i] -= 1
        if self.left[i] == 0:
            if p.serial_ns > 0 or p.serial_read or p.serial_latency_ns:
                self.ready.put((i, -1))
            else:
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
        if self.done == len(self.demands):
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
        for i in range(len(self.demands)):
            if self.waiting[i] == 0:
                self.release(i)
        for _ in range(self.threads):
            self.env.process(self.worker())
        self.env.run()
        # env.now may lie past the last op: superseded channel timeouts still fire, doing nothing
        n = len(self.demands)
        return RunStats(float(self.end.max()) if n else 0.0, self.compute, self.stall,
                        np.nan_to_num(self.start), self.end, self.serial_wall,
                        np.array([p.slices for p in self.demands], dtype=np.int64))


def run(demands: list[OpDemand], machine: Machine, threads: int,
        on_op: Callable[[int], None] | None = None) -> RunStats:
    """Execute the op demands with ``threads`` SimPy workers; returns per-op times."""
    return Replay(demands, machine, threads, on_op).run()
