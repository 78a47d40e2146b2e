"""Memory Mode replay speed, side by side in one run: the cache model against a flat replay of the
same trace, and the reference study planned and replayed.

1. CryptoNets (batch 64, ciphertext granularity, 1.34 M events; recorded here in about 3 minutes
   unless --trace is given): load + replay on `optane-memory-mode` and on `optane-appdirect`
   (dram-first), 24 threads, alternating after one uncounted run of each; trace events/s of each
   and their ratio, each side three ways: warm (in this process, after the others, as a library
   user's long-running process: glibc's heap thresholds as they are), fresh (a new process per
   replay set up as `hetier replay` sets itself up, hetier/heap_thresholds.py: it also pays the
   first touches of new memory) and fresh with glibc's default thresholds (the same without that
   set-up; the ratio of the two is that set-up's gain, with the minor page faults of each).
   Target (issue 19): Memory Mode no slower than before its line-level cache model, 1.4-1.5 M
   events/s.
2. The whole study (--study, about 3 minutes on 2 cores): every configuration docs/reference-platform.md
   predicts (benchmarks/reference_fidelity.py's STUDY: MobileNetV2 at eight width x resolution
   pairs and at 1.3 and 1.4 @ 224, ResNet-50 @ 224), batch 2048, N=4096, primes [30,22,22,30], the
   reference runtime profile; each planned, then replayed on `ref-dram-only` (all-dram, where it
   fits) and `ref-memory-mode` (seed 0) with the `he-transformer` stack at 48 threads. The
   configurations run on a pool of --jobs processes (default 2, the target's cores), largest
   first. Prints per configuration the CPU seconds to plan and each machine's memory stage (for
   Memory Mode: the cache model) and time stage (the engine); then the wall seconds of the whole
   and the CPU seconds summed over the configurations (what one process alone would take) against
   the target, under 5 minutes on 2 cores.

Seconds are CPU seconds (time.process_time) beside wall seconds: on a shared machine the wall
clock measures the neighbours too.

    python benchmarks/memory_mode_speed.py [--trace FILE] [--repeats 3] [--study] [--jobs 2] [--configs 11]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hetier.heap_thresholds import malloc_setting, reuse_freed_arrays
from hetier.simulator.machines import load_machine
from hetier.simulator.scenario import Scenario, memory_stage, time_stage
from hetier.simulator.stack import load_stack
from reference_fidelity import STUDY, THREADS, study_run  # benchmarks/ is the script's folder: on sys.path
from replay_throughput import cryptonets_trace
from hetier.simulator.workload import load_workload
from hetier.workflow.planned import plan_config


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


def replay_fresh(path: str, machine: str, policy: str | None, cli_heap: bool = True) -> tuple[int, float, float, int]:
    """``replay_once`` in a new process (imports before its clock starts), as one `hetier replay` runs:
    with the CLI's heap set-up unless ``cli_heap`` is False; (events, wall s, cpu s, minor page faults)."""
    env = {k: v for k, v in os.environ.items() if not malloc_setting(k, v)}
    out = subprocess.run([sys.executable, __file__, "--one", path, machine, policy or "", str(int(cli_heap))],
                         check=True, capture_output=True, text=True, env=env).stdout.split()
    return int(out[0]), float(out[1]), float(out[2]), int(out[3])


def replay_fresh_default_heap(path: str, machine: str, policy: str | None) -> tuple[int, float, float, int]:
    """``replay_fresh`` with glibc's default heap thresholds."""
    return replay_fresh(path, machine, policy, cli_heap=False)


def cryptonets(path: str, repeats: int) -> None:
    sides = {"memory mode": ("optane-memory-mode", None), "flat": ("optane-appdirect", "dram-first")}
    ways = {"warm": replay_once, "fresh": replay_fresh, "fresh, glibc default heap": replay_fresh_default_heap}
    rate: dict[tuple[str, str], list[float]] = {(k, h): [] for k in sides for h in ways}
    faults: dict[tuple[str, str], list[int]] = {(k, h): [] for k in sides for h in ways}
    for m, pol in sides.values():  # a warm-up of each side, not counted: the first run also pays imports and first calls
        replay_once(path, m, pol)
    for i in range(repeats):
        line = []
        for k, (m, pol) in sides.items():
            for h, replay in ways.items():
                n, wall, cpu, *flt = replay(path, m, pol)
                rate[(k, h)].append(n / cpu)
                faults[(k, h)] += flt
                line.append(f"{k} {h} {wall:.2f} s wall, {cpu:.2f} s cpu = {n / cpu / 1e6:.2f} M events/cpu-s"
                            + (f", {flt[0]:,} page faults" if flt else ""))
        print(f"run {i + 1}: {n:,} trace events; " + "; ".join(line), flush=True)
    med = {k: statistics.median(v) for k, v in rate.items()}
    for h in ways:
        mm, flat = med[("memory mode", h)], med[("flat", h)]
        print(f"median, {h}: memory mode {mm / 1e6:.2f} M events/cpu-s, flat {flat / 1e6:.2f} M; "
              f"memory mode / flat {mm / flat:.2f} (target: memory mode >= 1.4 M)")
    for k in sides:
        a, b = ("fresh", "fresh, glibc default heap")
        print(f"median, {k}, fresh with the CLI's heap set-up / with glibc's defaults: events/cpu-s "
              f"{med[(k, a)] / med[(k, b)]:.2f}, minor page faults {statistics.median(faults[(k, a)]):,.0f} / "
              f"{statistics.median(faults[(k, b)]):,.0f}")


def study_config(config: tuple, directory: str) -> tuple[str, float]:
    """Plan one configuration of the study and replay it on both reference machines; returns its
    line and the CPU seconds it took (in the pool's worker process)."""
    model, width, res = config
    stack = load_stack("he-transformer")
    start = time.process_time()
    w = load_workload(plan_config(study_run(model, width, res), stack.runtime_profile,
                                  Path(directory) / f"{model}-{width}-{res}.arrow"))
    parts = [f"plan+load {time.process_time() - start:.1f}"]
    for name, machine, pol in (("DRAM-only", "ref-dram-only", "all-dram"), ("Memory Mode", "ref-memory-mode", None)):
        s = Scenario(w, load_machine(machine), pol, threads=THREADS, stack=stack, seed=0)
        c = time.process_time()
        mem = memory_stage(s)
        mem_cpu = time.process_time() - c
        if not mem.placement.fits:
            parts.append(f"{name} memory {mem_cpu:.1f} (does not fit)")
            continue
        r = time_stage(s, mem)
        parts.append(f"{name} memory {mem_cpu:.1f} + time {time.process_time() - c - mem_cpu:.1f} "
                     f"({r.makespan_ns / 1e9:.0f} s predicted)")
    label = f"{model}" + (f" {width}" if width is not None else "") + f" @ {res}"
    return f"{label}: cpu s: " + "; ".join(parts), time.process_time() - start


def study(configs: int, jobs: int) -> None:
    """The study's configurations, largest first, on ``jobs`` processes."""
    todo = sorted(STUDY[:configs], key=lambda c: (c[0] != "resnet50", -(c[2] or 0), -(c[1] or 0)))
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory() as d, ProcessPoolExecutor(jobs) as pool:
        done = [pool.submit(study_config, c, d) for c in todo]
        cpu = 0.0
        for f in done:
            line, c = f.result()
            cpu += c
            print(line, flush=True)
    what = "whole study" if len(todo) == len(STUDY) else f"study, {len(todo)} of its {len(STUDY)}"
    print(f"{what} ({len(todo)} configurations, {jobs} processes): {time.perf_counter() - wall:.1f} s wall, "
          f"{cpu:.1f} s cpu summed (target: under 300 s on 2 cores)")


def main() -> None:
    if sys.argv[1:2] == ["--one"]:  # replay_fresh's child: one replay, its counts on stdout
        if sys.argv[5] == "1":
            reuse_freed_arrays()  # as hetier's CLI does before a verb runs
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        n, wall, cpu = replay_once(sys.argv[2], sys.argv[3], sys.argv[4] or None)
        print(n, wall, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", help="a CryptoNets recording (default: record one, batch 64)")
    ap.add_argument("--repeats", type=int, default=3, help="CryptoNets rounds (0: skip them)")
    ap.add_argument("--study", action="store_true", help="also plan and replay every configuration of the study")
    ap.add_argument("--jobs", type=int, default=2, help="processes for --study (default 2: the target's cores)")
    ap.add_argument("--configs", type=int, default=len(STUDY), choices=range(1, len(STUDY) + 1),
                    help="--study: only the first K configurations of the study's list")
    args = ap.parse_args()
    if args.repeats > 0:  # --repeats 0: the study alone
        with tempfile.TemporaryDirectory() as d:
            cryptonets(args.trace or cryptonets_trace(Path(d)), args.repeats)
    if args.study:
        study(args.configs, args.jobs)


if __name__ == "__main__":
    main()
