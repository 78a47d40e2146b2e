"""Tracing overhead: the same real encrypted inference traced vs untraced, run alternately.

Prints the median of traced/untraced wall-time ratios (target: at most 1.03), after one
untraced warm-up run (the first run in a process pays for growing the heap). "untraced" runs
the kernels with logging switched off (no primitive log, no events, no file); "traced" logs
every primitive, expands them into events and writes the zstd Arrow trace.

    python benchmarks/tracer_overhead.py [--model cryptonets] [--repeats 3] [--granularity ciphertext]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from hetier.models.zoo import build
from hetier.tracer.session import choose_params, trace_run


def log_cost_ns(n: int = 1_000_000) -> float:
    """Cost of one hot-path log call (tuple + timestamp + append) minus an empty loop, in ns."""
    log, now = [].append, time.perf_counter_ns
    t0 = time.perf_counter_ns()
    for i in range(n):
        log((7, 3, i, i, i, i, now()))
    t1 = time.perf_counter_ns()
    for i in range(n):
        pass
    t2 = time.perf_counter_ns()
    return ((t1 - t0) - (t2 - t1)) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="cryptonets")
    ap.add_argument("--width", type=float)
    ap.add_argument("--resolution", type=int)
    ap.add_argument("--classes", type=int)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--granularity", default="ciphertext")
    args = ap.parse_args()
    opts = {k: getattr(args, k) for k in ("width", "resolution", "classes") if getattr(args, k) is not None}
    graph = build(args.model, **opts)
    params = choose_params(graph, args.batch, None, None, 22)
    ratios, on_t, off_t = [], [], []
    # warm-up: the first run in a process pays for growing the heap (page faults); not measured
    trace_run(graph, params, None, args.granularity, tracing=False)
    with tempfile.TemporaryDirectory() as d:
        for i in range(args.repeats):
            order = [True, False] if i % 2 == 0 else [False, True]
            t = {}
            for traced in order:
                out = Path(d) / f"t{i}.arrow" if traced else None
                res = trace_run(graph, params, out, args.granularity, tracing=traced)
                t[traced] = res.seconds
                if traced:
                    events, prims, rec_s = res.events, res.primitives, res.recorder_seconds
            on_t.append(t[True])
            off_t.append(t[False])
            ratios.append(t[True] / t[False])
            print(f"run {i + 1}: traced {t[True]:.2f} s ({events:,} events), untraced {t[False]:.2f} s, "
                  f"ratio {ratios[-1]:.4f}; recorder flush {rec_s:.2f} s", flush=True)
    print(f"{args.model} {opts} batch {args.batch} granularity {args.granularity}: "
          f"median traced/untraced = {statistics.median(ratios):.4f} over {args.repeats} pairs "
          f"(median traced {statistics.median(on_t):.2f} s, untraced {statistics.median(off_t):.2f} s)")
    per = log_cost_ns()
    direct = rec_s + prims * per * 1e-9
    print(f"direct estimate: recorder flush {rec_s:.2f} s + {prims:,} primitive logs x {per:.0f} ns = "
          f"{direct:.2f} s, i.e. ratio {1 + direct / statistics.median(off_t):.4f}")


if __name__ == "__main__":
    main()
