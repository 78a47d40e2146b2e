"""The replay's Memory Mode model against the exact line-level reference, trace by trace: how many
random small traces miss the issue's bar (hit ratio within 1 point, Optane read and write bytes
within 3%), and by how much.

The traces are tests/unit/test_memory_mode_oracle.py's ``random_ops`` (rows of up to 6 passes
beside others, 4 KiB blocks), seeds 0..N-1, each at 1, 2, 4 and 8 threads through 64 sets (even
seeds) or 128 (odd), both models summed over 3 page-frame seeds as the tests do. The reference
is plain Python: about 0.3 s per trace (its 3 frame seeds) here, 45 s for the default 40 seeds.

    python benchmarks/memory_mode_oracle_bar.py [--seeds 40] [--detail]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
from test_memory_mode_oracle import PAGE, hit_ratio, random_ops  # noqa: E402

from hetier.simulator.cache_oracle import ReferenceCache  # noqa: E402
from hetier.simulator.memory_mode import MemoryModeCache, MMTraffic  # noqa: E402


def per_op(model, ops, threads: int) -> list[MMTraffic]:
    out = []
    for allocs, rows, frees in ops:
        for t, c, u in allocs:
            model.alloc(t, c, u)
        out.append(model.op_traffic(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                                    np.array([float(r[2]) for r in rows]), threads=threads) if rows else MMTraffic())
        for t, c in frees:
            model.free(t, c)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--detail", action="store_true", help="per op of a trace that misses: hit blocks fast - exact")
    args = ap.parse_args()
    missed, worst = 0, [0.0, 0.0, 0.0]
    for seed in range(args.seeds):
        ops, sets = random_ops(seed), 64 << (seed % 2)
        for threads in (1, 2, 4, 8):
            fast, exact = MMTraffic(), MMTraffic()
            by_op = []
            for f in range(3):
                a = per_op(MemoryModeCache(sets * PAGE, PAGE, PAGE, 1000 * f + seed), ops, threads)
                b = per_op(ReferenceCache(sets * PAGE, PAGE, 1000 * f + seed, align=PAGE), ops, threads)
                for x, y in zip(a, b):
                    fast.add(x)
                    exact.add(y)
                by_op.append((a, b))
            d = [100 * (hit_ratio(fast) - hit_ratio(exact)),
                 100 * (fast.pmem_read / exact.pmem_read - 1) if exact.pmem_read else 0.0,
                 100 * (fast.pmem_write / exact.pmem_write - 1) if exact.pmem_write else 0.0]
            worst = [max(w, abs(x)) for w, x in zip(worst, d)]
            if abs(d[0]) >= 1 or abs(d[1]) >= 3 or abs(d[2]) >= 3:
                missed += 1
                print(f"seed {seed}, {threads} threads, {sets} sets: hit ratio {d[0]:+.2f} points, "
                      f"Optane reads {d[1]:+.1f}%, writes {d[2]:+.1f}%", flush=True)
                if args.detail:
                    for k, (_, rows, _) in enumerate(ops):
                        dh = sum(a[k].hit_bytes - b[k].hit_bytes for a, b in by_op) / PAGE
                        print(f"    op {k}: {len(rows)} rows, hits fast - exact {dh:+.1f} blocks")
    n = 4 * args.seeds
    print(f"{missed} of {n} traces miss the bar; worst: hit ratio {worst[0]:.2f} points, "
          f"Optane reads {worst[1]:.1f}%, writes {worst[2]:.1f}%")


if __name__ == "__main__":
    main()
