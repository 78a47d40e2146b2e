"""Replay throughput: trace events replayed per second vs a bare SimPy loop, in one run.

Reads a ciphertext-granularity trace (by default it records one: cryptonets at batch 64,
1.3 M events, about 45 s), replays it on a flat machine and a Memory Mode machine, and runs a
bare SimPy loop doing one timeout per event for as many events. Prints events/s for each and
their ratio (target: at least 1 M trace events/s, above the bare loop).

    python benchmarks/replay_throughput.py [--trace FILE] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import simpy

from hetier.simulator.machines import load_machine
from hetier.simulator.replay import replay
from hetier.simulator.workload import load_workload


def bare_simpy(n: int) -> float:
    """Seconds for a SimPy process that yields one timeout per event."""
    env = simpy.Environment()

    def proc(env):
        for _ in range(n):
            yield env.timeout(1)

    env.process(proc(env))
    t = time.perf_counter()
    env.run()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = args.trace
        if path is None:
            from hetier.models.zoo import build
            from hetier.tracer.session import choose_params, trace_run

            g = build("cryptonets")
            path = str(Path(d) / "cryptonets.arrow")
            trace_run(g, choose_params(g, 64, None, None, 22), path, "ciphertext")
        rows = []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            w = load_workload(path)
            t1 = time.perf_counter()
            replay(w, load_machine("optane-appdirect"), "dram-first", threads=24)
            replay(w, load_machine("optane-memory-mode"), None, threads=24)
            t2 = time.perf_counter()
            bare = bare_simpy(w.events_read)
            n = w.events_read
            rows.append((n / (t2 - t0), n / bare, t1 - t0, t2 - t1))
            print(f"run {i + 1}: {n:,} events; load {t1 - t0:.2f} s + 2 replays {t2 - t1:.2f} s -> "
                  f"{rows[-1][0] / 1e6:.2f} M events/s; bare SimPy loop {rows[-1][1] / 1e6:.2f} M events/s", flush=True)
    ours = statistics.median(r[0] for r in rows)
    bare = statistics.median(r[1] for r in rows)
    print(f"median: hetier {ours / 1e6:.2f} M trace events/s (load + replay on 2 machines), "
          f"bare SimPy {bare / 1e6:.2f} M timeouts/s, ratio {ours / bare:.2f}")


if __name__ == "__main__":
    main()
