"""Sweep throughput: 100 configurations run serially, on a 2-process pool and on a 2-worker
local Dask cluster, in one run; configurations/s, speedups over serial, peak memory per worker.

The workload is a planned MobileNetV2 1.0 at 96 px, batch 2048 (planned here in about a second
unless --trace is given); the configurations are DRAM size (10) x policy (5) x threads (2) on
the App Direct machine. Each mode writes its own sweep directory; the script checks that all
three datasets are byte-identical. Pool start-up is inside the pool's time; the Dask cluster is
started before its clock (it stands for an existing cluster).

    python benchmarks/sweep.py [--trace FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

from hetier.cli.main import main as hetier

AXES = ["--machine", "optane-appdirect", "--policy", "all-dram,all-pmem,dram-first,interleave,kind-aware",
        "--threads", "1,24", "--vary", "dram.capacity_gb=8:80:8"]
TRACE_ARGS = ["mobilenetv2", "--width", "1.0", "--resolution", "96", "--batch", "2048", "--mode", "plan",
              "--poly-modulus", "4096", "--primes", "30,22,22,30"]


def timed_sweep(trace: str, out: Path, extra: list[str]) -> tuple[float, dict]:
    """Seconds for one whole sweep (run + final write) and its JSON summary."""
    buf = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        code = hetier(["sweep", trace, *AXES, "-o", str(out), "--json", *extra])
    elapsed = time.perf_counter() - t
    if code != 0:
        raise SystemExit(f"sweep {extra} failed with exit code {code}")
    return elapsed, json.loads(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace")
    args = ap.parse_args()
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        trace = args.trace or str(root / "mnv2.arrow")
        if args.trace is None:
            with contextlib.redirect_stdout(io.StringIO()):
                assert hetier(["trace", *TRACE_ARGS, "-o", trace]) == 0
        load_before = os.getloadavg()[0]
        results = {}
        results["serial"] = timed_sweep(trace, root / "serial", ["--workers", "1"])
        results["2-process pool"] = timed_sweep(trace, root / "pool", ["--workers", "2"])
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            results["2-worker Dask"] = timed_sweep(trace, root / "dask", ["--scheduler", cluster.scheduler_address])
        same = all((root / m / f).read_bytes() == (root / "serial" / f).read_bytes()
                   for m in ("pool", "dask") for f in ("configs.parquet", "layers.parquet"))
        base = results["serial"][0]
        n = results["serial"][1]["configurations"]
        print(f"{n} configurations of {Path(trace).name} (DRAM 8..80 GB x 5 policies x threads 1, 24)")
        print(f"{'mode':16} {'seconds':>8} {'configs/s':>10} {'speedup':>8}  peak RSS per worker")
        for mode, (sec, summary) in results.items():
            rss = ", ".join(f"{v / 2 ** 20:.0f} MiB" for _, v in sorted(summary["peak_rss_bytes_by_worker"].items()))
            print(f"{mode:16} {sec:8.2f} {n / sec:10.1f} {base / sec:7.2f}x  {rss}")
        print(f"datasets byte-identical across modes: {same}")
        print(f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores: "
              f"a load above the core count means other processes took CPU from the parallel modes")


if __name__ == "__main__":
    main()
