"""Placement advisor on the reference platform: MILP solve time and memory, and each policy's
predicted time beside Memory Mode's with the same 32 GB of DRAM, printed side by side.

Traces MobileNetV2 1.0 @ 96 px planned at batch 2048 (tensor granularity; seconds), then on
ref-app-direct (32 GB DRAM + 6 TB Optane, flat) solves the ilp static placement in a fresh
process (wall time and peak resident memory added by the solve; targets: under 30 s, under
2 GB) and replays every policy; ref-memory-mode is the same hardware in Memory Mode.

Then (``--resnet50``) times the whole `hetier advise` command on ResNet-50 @ 224 (batch 2048,
planned) for a 64 GB DRAM + 1 TB CXL box (ddr5-cxl with --dram-gb 64 --set cxl.capacity_gb=1024),
as a user runs it, and prints its wall and CPU seconds (target: under 2 minutes on 2 cores).

    python benchmarks/advise.py [--threads 48] [--trace FILE] [--resnet50]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

TRACE_ARGS = ["mobilenetv2", "--width", "1.0", "--resolution", "96", "--batch", "2048", "--mode", "plan",
              "--poly-modulus", "4096", "--primes", "30,22,22,30", "--granularity", "tensor"]
POLICIES = ["ilp", "ilp:site", "hot-cold", "lifetime", "migrate", "dram-first", "kind-aware",
            "interleave", "all-pmem"]


def _solve(path: str, threads: int, granularity: str, q) -> None:
    """In a fresh process: load, then solve; report solve seconds and resident-memory growth."""
    from hetier.simulator.machines import load_machine
    from hetier.simulator.policies import get_policy
    from hetier.simulator.workload import load_workload

    w = load_workload(path)
    m = load_machine("ref-app-direct")
    pol = get_policy(f"ilp:{granularity}", m.tier_names)
    t0 = time.perf_counter()
    import scipy.optimize  # noqa: F401  (imported on first use; timed apart from the solve)
    imported = time.perf_counter() - t0
    before = _rss_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from here
    t0 = time.perf_counter()
    pol.prepare(w, m, threads)
    wall = time.perf_counter() - t0
    peak = _rss_kib("VmHWM")
    n = len(pol.sites) if pol.sites else len(pol.start)
    q.put((wall, pol.solve_seconds, (peak - before) * 1024, peak * 1024, n, pol.objective_ns, imported))


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=48, help="simulated threads (the reference machine has 48 cores)")
    ap.add_argument("--trace", help="an existing trace of the same command (skips tracing)")
    ap.add_argument("--resnet50", action="store_true", help="only time `hetier advise` on ResNet-50 @ 224 on a CXL box")
    args = ap.parse_args()
    if args.resnet50:
        return time_resnet50_advise()
    from hetier.cli.main import main as hetier
    from hetier.simulator.machines import load_machine
    from hetier.simulator.scenario import Scenario, simulate
    from hetier.simulator.tensor_lifetimes import peak_live_bytes
    from hetier.simulator.workload import load_workload

    with tempfile.TemporaryDirectory() as d:
        path = args.trace or str(Path(d) / "mnv2.arrow")
        if not args.trace:
            t0 = time.perf_counter()
            assert hetier(["trace", *TRACE_ARGS, "-o", path]) == 0
            print(f"traced in {time.perf_counter() - t0:.1f} s: hetier trace {' '.join(TRACE_ARGS)}")
        ctx = mp.get_context("spawn")
        for gran in ("tensor", "site"):
            q = ctx.Queue()
            p = ctx.Process(target=_solve, args=(path, args.threads, gran, q))
            p.start()
            wall, solve, grew, rss, n, obj, imported = q.get()
            p.join()
            print(f"MILP ({gran} granularity, {n} {gran}s): prepare {wall:.3f} s (profile + solve {solve:.3f} s; "
                  f"importing scipy.optimize before took {imported:.2f} s), "
                  f"peak resident memory during it +{grew / 2**20:.0f} MiB over the loaded trace ({rss / 2**20:.0f} MiB); "
                  f"modelled memory time {obj / 1e9:.1f} s")
        w = load_workload(path)
        ad, mm = load_machine("ref-app-direct"), load_machine("ref-memory-mode")
        t0 = time.perf_counter()
        mm_r = simulate(Scenario(w, mm, None, threads=args.threads))
        print(f"\n{'configuration':34s} {'predicted':>12s} {'vs Memory Mode':>15s} {'dram peak':>10s} {'migrated':>10s}")
        print(f"{'ref-memory-mode (hardware cache)':34s} {mm_r.makespan_ns / 1e9:10.1f} s {1:14.3f}x "
              f"{'-':>10s} {'-':>10s}   hit ratio {mm_r.mm_hit_ratio:.3f}")
        big = load_machine("ref-app-direct", [f"dram.capacity_gb={peak_live_bytes(w) / 1e9 + 1:.3f}"])
        ref = simulate(Scenario(w, big, "all-dram", threads=args.threads))
        print(f"{'all-DRAM (DRAM as large as needed)':34s} {ref.makespan_ns / 1e9:10.1f} s "
              f"{ref.makespan_ns / mm_r.makespan_ns:14.3f}x {ref.peak_bytes['dram'] / 1e9:8.2f} GB {'-':>10s}")
        for pol in POLICIES:
            r = simulate(Scenario(w, ad, pol, threads=args.threads))
            if not r.fits:
                print(f"ref-app-direct {pol:19s} {r.headline()}")
                continue
            print(f"ref-app-direct {pol:19s} {r.makespan_ns / 1e9:10.1f} s {r.makespan_ns / mm_r.makespan_ns:14.3f}x "
                  f"{r.peak_bytes['dram'] / 1e9:8.2f} GB {r.notes['migrated_bytes'] / 1e9:7.2f} GB")
        print(f"(replays took {time.perf_counter() - t0:.1f} s; {args.threads} simulated threads)")


def time_resnet50_advise() -> None:
    """`hetier advise` on the planned ResNet-50 as a separate process: wall and CPU seconds."""
    import resource
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as d:
        trace = str(Path(d) / "r50.arrow")
        hetier = [str(Path(sys.executable).parent / "hetier")]  # the command a user runs
        subprocess.run([*hetier, "trace", "resnet50", "--resolution", "224", "--batch", "2048", "--mode", "plan",
                        "-o", trace], check=True, capture_output=True)
        cmd = ["advise", trace, "--machine", "ddr5-cxl", "--dram-gb", "64", "--set", "cxl.capacity_gb=1024",
               "-o", str(Path(d) / "p.json")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run([*hetier, *cmd], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"hetier {' '.join(cmd[2:])} (ResNet-50 @ 224, batch 2048, planned): exit {done.returncode}, "
              f"{wall:.1f} s wall, {cpu:.1f} s CPU")
        print("\n".join(line for line in done.stderr.splitlines() if line.startswith(("recommended", "best", "fastest"))))


if __name__ == "__main__":
    main()
