"""Memory measurements of one NUMA node with numpy: streaming bandwidth with pinned worker
processes, and idle latency by pointer chasing. ``python -m hetier.host.membench SPEC`` runs
them (under numactl, so that the arrays come from the node measured) and prints JSON.

Bandwidth: each of T processes, pinned to one CPU, sums (read) or fills (write, ordinary
stores) its own 1/T of the working set; bandwidth = bytes moved / (last end - first start).
Latency: a Python loop follows a chain of 64-byte lines (``i = chain[i]``); the same loop over
an L1-resident chain gives the interpreter's cost, which is subtracted. Sequential chains visit
lines in address order (prefetchers help, as in sequential latency tests); random chains visit
them in a seeded random order.
"""

from __future__ import annotations

import json
import mmap
import multiprocessing as mp
import os
import queue
import signal
import sys
import time

import numpy as np

LINE = 64
_BASELINE_BYTES = 4096  # an L1-resident chain: the loop's own cost


def small_page_array(nbytes: int) -> np.ndarray:
    """A zeroed float64 array on 4 KiB pages: numpy asks for transparent huge pages on large
    arrays, SEAL's allocations (malloc -> mmap) do not get them, nor do likwid-bench's."""
    m = mmap.mmap(-1, nbytes)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        m.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(m, dtype=np.float64)


def _bandwidth_worker(cpu: int, nbytes: int, write: bool, passes: int, barrier, out) -> None:
    os.sched_setaffinity(0, {cpu})
    a = small_page_array(nbytes)
    a.fill(1.0)  # first touch: pages come from this process's memory policy
    barrier.wait()
    t0 = time.perf_counter()
    for _ in range(passes):
        if write:
            a.fill(2.0)
        else:
            a.sum()
    out.put((t0, time.perf_counter()))


def bandwidth_gbs(cpus: list[int], threads: int, total_bytes: int, write: bool, passes: int = 3) -> float:
    """GB/s of ``threads`` pinned processes streaming ``total_bytes`` (split evenly) ``passes`` times."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(threads)
    out = ctx.Queue()
    per = total_bytes // threads // 8 * 8
    procs = [ctx.Process(target=_bandwidth_worker, args=(cpus[k % len(cpus)], per, write, passes, barrier, out))
             for k in range(threads)]
    try:
        for p in procs:
            p.start()
        times = _results(procs, out)
    except BaseException:
        for p in procs:  # after a death the others wait at the barrier: end them
            if p.pid is not None and p.exitcode is None:
                p.kill()
        raise
    finally:
        for p in procs:
            if p.pid is not None:
                p.join()
    span = max(t1 for _, t1 in times) - min(t0 for t0, _ in times)
    return per * threads * passes / span / 1e9


class WorkerDied(RuntimeError):
    """A bandwidth worker ended without its result (killed, out of memory, an exception)."""


def how_it_ended(exitcode: int) -> str:
    """'killed by signal 9 (SIGKILL)' or 'exit code 1', from a Process exitcode / Popen returncode."""
    if exitcode < 0:
        try:
            return f"killed by signal {-exitcode} ({signal.Signals(-exitcode).name})"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _results(procs: list, out, poll_s: float = 0.1) -> list:
    """One result per worker; a worker that ends without one fails the measurement instead of
    leaving the parent waiting on the queue forever."""
    results: list = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=poll_s))
            continue
        except queue.Empty:
            pass
        dead = [(k, p.exitcode) for k, p in enumerate(procs) if p.exitcode not in (None, 0)]
        if dead:
            k, code = dead[0]
            raise WorkerDied(f"bandwidth worker {k} of {len(procs)} ended without a result ({how_it_ended(code)})")
        if all(p.exitcode == 0 for p in procs):  # all ended cleanly: whatever they sent is in the pipe now
            try:
                while len(results) < len(procs):
                    results.append(out.get(timeout=poll_s))
            except queue.Empty:
                raise WorkerDied(f"{len(procs) - len(results)} of {len(procs)} bandwidth workers ended without "
                                 "a result") from None
    return results


def _chain(nbytes: int, random: bool, seed: int) -> memoryview:
    lines = max(2, nbytes // LINE)
    order = np.random.default_rng(seed).permutation(lines) if random else np.arange(lines)
    step = LINE // 8
    chain = small_page_array(lines * LINE).view(np.int64)
    chain[order * step] = np.roll(order, -1) * step
    return memoryview(chain)


def _chase_ns(chain: memoryview, steps: int, chunks: int = 10) -> float:
    """ns per step, the fastest of ``chunks`` equal parts (a part the scheduler interrupted is
    slower, never faster)."""
    i = 0
    best = float("inf")
    n = max(1, steps // chunks)
    for _ in range(chunks):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            i = chain[i]
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def latency_ns(cpu: int, nbytes: int, random: bool, steps: int = 1_000_000, seed: int = 0) -> float:
    """Load-to-use latency of a chain over ``nbytes``, minus the loop's cost on an L1-resident chain."""
    os.sched_setaffinity(0, {cpu})
    big, small = _chain(nbytes, random, seed), _chain(_BASELINE_BYTES, random, seed)
    _chase_ns(big, steps // 10)  # warm: page faults and TLB
    _chase_ns(small, steps // 10)
    return _chase_ns(big, steps) - _chase_ns(small, steps)


def measure_node(spec: dict) -> dict:
    """Run the measurements ``spec`` asks for (cpus, threads list, bytes, repeat) on this process's
    memory policy; every point keeps all its repeats."""
    cpus, nbytes, repeat = spec["cpus"], spec["bytes"], spec["repeat"]
    out: dict = {"read": {}, "write": {}, "latency_seq_ns": [], "latency_rand_ns": []}
    for _ in range(repeat):
        for t in spec["threads"]:
            for kind in ("read", "write"):
                out[kind].setdefault(str(t), []).append(bandwidth_gbs(cpus, t, nbytes, kind == "write"))
        out["latency_seq_ns"].append(latency_ns(cpus[0], spec["latency_bytes"], False, spec["steps"]))
        out["latency_rand_ns"].append(latency_ns(cpus[0], spec["latency_bytes"], True, spec["steps"]))
    return out


if __name__ == "__main__":
    try:
        result = measure_node(json.loads(sys.argv[1]))
    except (WorkerDied, MemoryError, OSError) as e:  # one line for the parent's error message
        print(f"{type(e).__name__}: {e}" if not isinstance(e, WorkerDied) else str(e), file=sys.stderr)
        sys.exit(1)
    json.dump(result, sys.stdout)
