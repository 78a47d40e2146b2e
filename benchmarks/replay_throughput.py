"""Replay throughput, like with like: trace events per second through hetier's replay and
through a naive event-by-event SimPy replay of the same file, in one run.

Both sides start from the same ciphertext-granularity trace file and count the same thing, its
events (by default it records one: cryptonets at batch 64, 1.3 M events, about 45 s):

- hetier: ``load_workload`` (read and aggregate to ops) + ``replay`` on one machine, timed
  separately for a flat machine (optane-appdirect, dram-first, 24 threads) and Memory Mode;
- naive: read the trace's batches and yield one SimPy timeout per event (a read or write takes
  its bytes over one DRAM stream's bandwidth, other events no time): the simulator one would
  write without aggregating.

Prints events/s for each and hetier's ratio to the naive replay (target: at least 1 M trace
events/s, above the naive replay).

    python benchmarks/replay_throughput.py [--trace FILE] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import simpy

from hetier.formats.trace import EV, TraceReader
from hetier.simulator.devices import load_device
from hetier.simulator.machines import load_machine
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import load_workload


def naive_replay(path: str) -> tuple[int, float]:
    """(events, seconds) for one SimPy timeout per trace event, reading the file as it goes."""
    dram = load_device("ddr4-2666-6ch")
    read_bw, write_bw = dram.bandwidth(1), dram.bandwidth(1, write=True)
    env = simpy.Environment()
    seen = [0]

    def proc(env):
        with TraceReader(path) as r:
            for b in r.batches():
                for ev, nb in zip(b.event.tolist(), b.nbytes.tolist()):
                    seen[0] += 1
                    yield env.timeout(nb / read_bw if ev == EV["read"] else nb / write_bw if ev == EV["write"] else 0)

    env.process(proc(env))
    t = time.perf_counter()
    env.run()
    return seen[0], time.perf_counter() - t


def hetier_replay(path: str, machine: str, policy: str | None) -> tuple[int, float]:
    """(events, seconds) for loading the trace and replaying it on one machine."""
    t = time.perf_counter()
    w = load_workload(path)
    simulate(Scenario(w, load_machine(machine), policy, threads=24))
    return w.events_read, time.perf_counter() - t


def cryptonets_trace(directory: Path) -> str:
    """Record the benchmarks' default workload: CryptoNets, batch 64, ciphertext granularity."""
    from hetier.models.zoo import build
    from hetier.tracer.session import choose_params, trace_run

    g = build("cryptonets")
    path = str(directory / "cryptonets.arrow")
    trace_run(g, choose_params(g, 64, None, None, 22), path, "ciphertext")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = args.trace or cryptonets_trace(Path(d))
        rates: dict[str, list[float]] = {"flat": [], "memory mode": [], "naive": []}
        for i in range(args.repeats):
            runs = {"flat": hetier_replay(path, "optane-appdirect", "dram-first"),
                    "memory mode": hetier_replay(path, "optane-memory-mode", None),
                    "naive": naive_replay(path)}
            counts = {n for n, _ in runs.values()}
            assert len(counts) == 1, f"the sides read different event counts: {runs}"
            for k, (n, s) in runs.items():
                rates[k].append(n / s)
            print(f"run {i + 1}: {counts.pop():,} trace events; " + "; ".join(
                f"{k} {s:.2f} s = {n / s / 1e6:.2f} M events/s" for k, (n, s) in runs.items()), flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    print("median trace events/s: " + ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in med.items()) +
          f"; hetier / naive: flat {med['flat'] / med['naive']:.2f}, memory mode {med['memory mode'] / med['naive']:.2f}")


if __name__ == "__main__":
    main()
