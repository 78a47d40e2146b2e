"""What each op asks of the machine: compute, bytes per tier, slices and dependencies.

Two stages, so that a fit can redo the second alone:

1. ``op_demands``: per op, compute = recorded busy time - the time the recording host's DRAM
   (one stream: the runtime is single-threaded) needed for the op's traffic
   (simulator/recording.py: CPU time and the host's calibrated memory when the trace has them),
   and bytes per tier from the memory system (flat tiers under a placement, or a DRAM cache).
   Traffic is first filtered by the CPU's last-level cache: a tensor whose live footprint in the
   op fits in half the LLC costs one pass of memory traffic, however often the op touches it.
2. ``schedule``: a stack profile (simulator/stack.py) says how the software runs the ops:
   dataflow or one op at a time, the target's primitive cost relative to the recording's, ops
   that run on one thread, and the executor thread's serial part under its lock: destroying the
   host objects an op frees, which reads them (one stream) through the memory system. Each op is
   data-parallel over its output ciphertexts: with T threads it runs as min(T, parallelism)
   slices of whole outputs (an OpenMP static schedule).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hetier.simulator.memory_systems import MemorySystem
from hetier.simulator.recording_host import RecordingHost
from hetier.simulator.stack import StackProfile
from hetier.simulator.workload import Workload


@dataclass
class OpDemand:
    """Per-op inputs of the SimPy run (all bytes after the CPU cache)."""

    compute_ns: float
    read: dict[str, float]
    write: dict[str, float]
    slices: int
    latency_ns: float = 0.0  # waited on top of the transfers, shared by the slices (e.g. a cache's miss penalties)
    deps: list[int] = field(default_factory=list)
    serial_ns: float = 0.0  # CPU time on one thread, under the executor lock, after the slices
    items: int = 1  # independent output ciphertexts, dealt to the slices as whole items
    teardown_bytes: float = 0.0  # bytes of host objects the op frees (the executor thread destroys them)
    serial_read: dict[str, float] = field(default_factory=dict)  # bytes the serial part reads, one stream, per tier
    serial_latency_ns: float = 0.0  # the serial part's wait on top of its reads (its misses, in full: one thread)

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


def dependencies(workload: Workload) -> list[list[int]]:
    """For each op, the earlier ops it must wait for (read/write/free of a shared tensor)."""
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


def op_demands(workload: Workload, system: MemorySystem, recording: RecordingHost,
               stack: StackProfile = StackProfile("hetier")) -> tuple[list[OpDemand], int]:
    """Per op: recorded compute and per-tier traffic after the CPU cache and the memory system
    (whose ``place`` has run); no scheduling yet. Also how many ops recorded less busy time than
    their traffic needed on the recording host (their compute is taken as zero). Ops the stack
    accumulates output-stationary keep each output's running sum and product in the thread's
    cache: the tensors such an op allocates cost one pass."""
    machine = system.machine
    rec_dev = recording.memory_device()
    rec_r, rec_w = rec_dev.bandwidth(1), rec_dev.bandwidth(1, write=True)
    out, clamped = [], 0
    for op in workload.ops:
        rec_bytes = llc_filter(op.acc_bytes, op.acc_footprint, recording.llc_bytes)
        mem_ns = rec_bytes[~op.acc_write].sum() / rec_r + rec_bytes[op.acc_write].sum() / rec_w
        compute = recording.busy_ns(op) - mem_ns
        if compute < 0:
            clamped += 1
            compute = 0.0
        op, teardown = with_teardown_reads(op, workload)
        own = np.isin(op.acc_tensor, op.alloc_tensor) if op.kind in stack.output_stationary_kinds else None
        traffic = system.op_traffic(op, llc_filter(op.acc_bytes, op.acc_footprint, machine.llc_bytes, own))
        out.append(OpDemand(compute, traffic.read, traffic.write, 1, traffic.latency_ns, teardown_bytes=teardown,
                            serial_read=traffic.serial_read, serial_latency_ns=traffic.serial_latency_ns))
    return out, clamped


def with_teardown_reads(op, workload: Workload):
    """The op with one read of every host buffer it frees as its serial part's rows (``serial_rows``:
    after its own accesses, on the executor thread, before the frees; destroying a host object reads
    it: a destructor, the allocator's chunk header), and the bytes those reads move. Pool buffers
    (ciphertexts, plaintexts) go back to SEAL's pool without being touched."""
    host = np.array([workload.tensor_kind.get(t) == "host" for t in op.free_tensor.tolist()], bool)
    if not host.any():
        return op, 0.0
    t = op.free_tensor[host].astype(op.acc_tensor.dtype)
    count = op.free_count[host].astype(op.acc_count.dtype)
    nbytes = (np.array([workload.tensor_unit[x] for x in t.tolist()]) * count).astype(op.acc_bytes.dtype)
    ext = replace(op, acc_tensor=np.concatenate([op.acc_tensor, t]),
                  acc_write=np.concatenate([op.acc_write, np.zeros(len(t), bool)]),
                  acc_bytes=np.concatenate([op.acc_bytes, nbytes]),
                  acc_count=np.concatenate([op.acc_count, count]),
                  acc_footprint=np.concatenate([op.acc_footprint, nbytes.astype(op.acc_footprint.dtype)]),
                  serial_rows=len(t))
    return ext, float(nbytes.sum())


def schedule(demands: list[OpDemand], workload: Workload, stack: StackProfile, threads: int) -> list[OpDemand]:
    """Apply a stack profile to the op demands: op order, compute scale, serial parts, slices.
    One thread replays the recorded order; more threads let independent ops overlap unless the
    stack runs one op at a time."""
    seq = threads == 1 or stack.schedule == "sequential"
    deps = [[i - 1] if i else [] for i in range(len(workload.ops))] if seq else dependencies(workload)
    out = []
    for p, op in zip(demands, workload.ops):
        serial = stack.serial_ns_per_output * op.parallelism if op.kind in stack.serial_output_kinds else 0.0
        serial += stack.teardown_ns_per_host_byte * p.teardown_bytes
        slices = 1 if op.kind in stack.single_thread_kinds else max(1, min(threads, op.parallelism))
        out.append(replace(p, compute_ns=p.compute_ns * stack.compute_scale, serial_ns=serial, slices=slices,
                           items=op.parallelism, deps=deps[op.index]))
    return out
