"""Memory Mode replay speed, side by side in one run: the cache model against a flat replay of the
same trace, and the reference study planned and replayed.

1. CryptoNets (batch 64, ciphertext granularity, 1.34 M events; recorded here in about 3 minutes
   unless --trace is given): load + replay on `optane-memory-mode` and on `optane-appdirect`
   (dram-first), 24 threads, alternating after one uncounted run of each; trace events/s of each
   and their ratio, each side twice: warm (in this process, after the others) and fresh (a new
   process per replay, as `hetier replay` runs: it also pays the first touches of new memory).
   Target (issue 19): Memory Mode no slower than before its line-level cache model, 1.4-1.5 M
   events/s.
2. The study (--study, about 2 minutes): MobileNetV2 0.35@96, 0.5@128, 1.0@96 (the three published
   rows) and 0.75@96 (the op profile), batch 2048, N=4096, primes [30,22,22,30], the reference
   runtime profile; each planned, then replayed on `ref-dram-only` (all-dram) and
   `ref-memory-mode` (seed 0) with the `he-transformer` stack at 48 threads. Prints per row the
   seconds to plan, and for each machine the memory stage (for Memory Mode: the cache model) and
   the time stage (the engine); the total against the target, under 5 minutes on 2 cores.

Seconds are CPU seconds of this process (time.process_time) beside wall seconds: on a shared
machine the wall clock measures the neighbours too.

    python benchmarks/memory_mode_speed.py [--trace FILE] [--repeats 3] [--study] [--rows 4]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hetier.formats.measured import MeasuredRun
from hetier.simulator.machines import load_machine
from hetier.simulator.scenario import Scenario, memory_stage, time_stage
from hetier.simulator.stack import load_stack
from replay_throughput import cryptonets_trace  # benchmarks/ is the script's folder: on sys.path
from hetier.simulator.workload import load_workload
from hetier.workflow.planned import plan_config

STUDY_ROWS = [(0.35, 96), (0.5, 128), (1.0, 96), (0.75, 96)]
THREADS = 48


class Clock:
    """Wall and CPU seconds since start."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def replay_once(path: str, machine: str, policy: str | None) -> tuple[int, float, float]:
    """(events, wall s, cpu s) to load the trace and replay it on one machine at 24 threads."""
    c = Clock()
    w = load_workload(path)
    s = Scenario(w, load_machine(machine), policy, threads=24)
    time_stage(s, memory_stage(s))
    return (w.events_read, *c.read())


def replay_fresh(path: str, machine: str, policy: str | None) -> tuple[int, float, float]:
    """``replay_once`` in a new process (imports before its clock starts), as one `hetier replay` runs."""
    out = subprocess.run([sys.executable, __file__, "--one", path, machine, policy or ""], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def cryptonets(path: str, repeats: int) -> None:
    sides = {"memory mode": ("optane-memory-mode", None), "flat": ("optane-appdirect", "dram-first")}
    ways = {"warm": replay_once, "fresh": replay_fresh}
    rate: dict[tuple[str, str], list[float]] = {(k, h): [] for k in sides for h in ways}
    for m, pol in sides.values():  # a warm-up of each side, not counted: the first run also pays imports and first calls
        replay_once(path, m, pol)
    for i in range(repeats):
        line = []
        for k, (m, pol) in sides.items():
            for h, replay in ways.items():
                n, wall, cpu = replay(path, m, pol)
                rate[(k, h)].append(n / cpu)
                line.append(f"{k} {h} {wall:.2f} s wall, {cpu:.2f} s cpu = {n / cpu / 1e6:.2f} M events/cpu-s")
        print(f"run {i + 1}: {n:,} trace events; " + "; ".join(line), flush=True)
    med = {k: statistics.median(v) for k, v in rate.items()}
    for h in ways:
        mm, flat = med[("memory mode", h)], med[("flat", h)]
        print(f"median, {h}: memory mode {mm / 1e6:.2f} M events/cpu-s, flat {flat / 1e6:.2f} M; "
              f"memory mode / flat {mm / flat:.2f} (target: memory mode >= 1.4 M)")


def study(rows: int) -> None:
    stack = load_stack("he-transformer")
    machines = {"DRAM-only": (load_machine("ref-dram-only"), "all-dram"), "Memory Mode": (load_machine("ref-memory-mode"), None)}
    total = Clock()
    with tempfile.TemporaryDirectory() as d:
        for width, res in STUDY_ROWS[:rows]:
            run = MeasuredRun("mobilenetv2", (("resolution", float(res)), ("width", width)), 2048, 4096,
                              (30, 22, 22, 30), "", "", THREADS, 1.0, 1.0)
            c = Clock()
            w = load_workload(plan_config(run, stack.runtime_profile, Path(d) / f"{width}-{res}.arrow"))
            wall, cpu = c.read()
            parts = [f"plan+load {cpu:.1f} ({wall:.1f} wall)"]
            for name, (m, pol) in machines.items():
                s = Scenario(w, m, pol, threads=THREADS, stack=stack, seed=0)
                c = Clock()
                mem = memory_stage(s)
                mem_cpu = c.read()[1]
                r = time_stage(s, mem)
                parts.append(f"{name} memory {mem_cpu:.1f} + time {c.read()[1] - mem_cpu:.1f} "
                             f"({r.makespan_ns / 1e9:.3f} s predicted)")
            print(f"MobileNetV2 {width}@{res}: cpu s: " + "; ".join(parts), flush=True)
    wall, cpu = total.read()
    print(f"study ({rows} rows): {wall:.1f} s wall, {cpu:.1f} s cpu (target: under 300 s on 2 cores)")


def main() -> None:
    if sys.argv[1:2] == ["--one"]:  # replay_fresh's child: one replay, its counts on stdout
        n, wall, cpu = replay_once(sys.argv[2], sys.argv[3], sys.argv[4] or None)
        print(n, wall, cpu)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", help="a CryptoNets recording (default: record one, batch 64)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--study", action="store_true", help="also plan and replay the study's MobileNetV2 rows")
    ap.add_argument("--rows", type=int, default=len(STUDY_ROWS), choices=range(1, len(STUDY_ROWS) + 1))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cryptonets(args.trace or cryptonets_trace(Path(d)), args.repeats)
    if args.study:
        study(args.rows)


if __name__ == "__main__":
    main()
