"""`hetier report` on a large ciphertext-granularity trace: time and peak memory, and the reuse
(stack) distance pass against the sequential Fenwick-tree pass it replaced.

Plans a trace (default: MobileNetV2 0.35 @ 32, batch 4, ciphertext granularity: ~30 M events,
~4.3 M buffers; ~35 s), then
1. solves the stack distances of its first --accesses accesses both ways, side by side, A B A B,
   checks the two histograms are equal, and prints each one's seconds and their ratio;
2. runs `hetier info` (one plain pass over the trace) and `hetier report` alternately, --repeat
   times each (before step 1, while this process is small: a child's peak resident memory counts
   what it forked from), and prints their median wall seconds, the ratio, and each one's peak
   resident memory (bytes per buffer beside it).

    python benchmarks/report_scale.py [--trace T.arrow] [--accesses 2000000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HETIER = [sys.executable, "-c", "import sys; from hetier.cli.main import main; sys.exit(main(sys.argv[1:]))"]


class SequentialStack:
    """The pass hetier used before (a Fenwick tree over access positions, one access at a time in
    Python), kept here as the baseline: same definition, same histogram."""

    def __init__(self, n: int):
        self.tree = [0] * (n + 1)
        self.w = [0] * (n + 1)
        self.last: dict[int, int] = {}
        self.n = 0

    def _add(self, i: int, v: int) -> None:
        self.w[i] += v
        tree, cap = self.tree, len(self.tree) - 1
        while i <= cap:
            tree[i] += v
            i += i & -i

    def _prefix(self, i: int) -> int:
        s, tree = 0, self.tree
        while i > 0:
            s += tree[i]
            i -= i & -i
        return s

    def access(self, b: int, f: int) -> int:
        prev = self.last.get(b)
        d = -1
        if prev is not None:
            d = self._prefix(self.n) - self._prefix(prev)
            self._add(prev, -self.w[prev])
        self.n += 1
        self.last[b] = self.n
        self._add(self.n, f)
        return d


def _accesses(trace: Path, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``n`` access rows: dense buffer, bytes, footprint (as hetier report feeds them)."""
    from hetier.analysis.buffer_metrics import BufferTable
    from hetier.analysis.reuse import StackDistance
    from hetier.formats.trace import TraceReader

    table, sd, got = BufferTable(), StackDistance(chunk=1 << 62), 0

    class _T:  # what BufferTable.start reads
        meta = TraceReader(trace).meta

    table.start(_T)
    for b in TraceReader(trace).batches():
        table.add(b)
        sd.rows(b.event, table.buf, b.nbytes, b.count)
        got = sum(len(p[0]) for p in sd._pending)
        if got >= n:
            break
    cb, cn, _, cf = (np.concatenate(c)[:n] for c in zip(*sd._pending))
    return cb, cn, cf


def _histogram(d: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    from hetier.analysis.reuse import N_BINS, distance_bins

    ok = d >= 0
    return np.bincount(distance_bins(d[ok]), weights=nbytes[ok], minlength=N_BINS)


def _run(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident bytes of a child."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status:
        raise SystemExit(f"{' '.join(cmd[3:])} failed: {p.stderr.read().decode().strip().splitlines()[-1:]}")
    return wall, usage.ru_maxrss * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", type=Path, help="a ciphertext-granularity trace (default: plan one)")
    ap.add_argument("--accesses", type=int, default=2_000_000, help="accesses solved both ways")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trace = args.trace
        if trace is None:
            trace = Path(tmp) / "mn.arrow"
            subprocess.run([*HETIER, "trace", "mobilenetv2", "--width", "0.35", "--resolution", "32", "--batch", "4",
                            "--mode", "plan", "--granularity", "ciphertext", "-o", str(trace)], check=True)
        from hetier.analysis.reuse import StackDistance
        from hetier.formats.trace import TraceReader

        runs: dict[str, list[tuple[float, int]]] = {"info": [], "report": []}
        for _ in range(args.repeat):  # first, while this process is small (a child's peak RSS counts its fork)
            runs["info"].append(_run([*HETIER, "info", str(trace)]))
            runs["report"].append(_run([*HETIER, "report", str(trace), "-o", str(Path(tmp) / "r.html"), "--force"]))
        from hetier.analysis.ids import IdMap

        ids, events = IdMap(), 0
        for b in TraceReader(trace).batches():
            ids.dense(b.buffer)
            events += len(b)
        buffers = len(ids)
        cb, cn, cf = _accesses(trace, args.accesses)
        times: dict[str, list[float]] = {"chunked wavelet": [], "sequential Fenwick": []}
        hists = {}
        for _ in range(2):
            t0 = time.perf_counter()
            d = StackDistance().advance(cb, cf)
            times["chunked wavelet"].append(time.perf_counter() - t0)
            hists["chunked wavelet"] = _histogram(d, cn)
            t0 = time.perf_counter()
            seq = SequentialStack(len(cb))
            d = np.fromiter((seq.access(b, f) for b, f in zip(cb.tolist(), cf.tolist())), dtype=np.int64, count=len(cb))
            times["sequential Fenwick"].append(time.perf_counter() - t0)
            hists["sequential Fenwick"] = _histogram(d, cn)
        same = np.array_equal(hists["chunked wavelet"], hists["sequential Fenwick"])
        print(f"stack distances of {len(cb):,} accesses (histograms equal: {same})")
        for k, v in times.items():
            print(f"  {k:<20} {statistics.median(v):8.2f} s")
        print(f"  ratio sequential / chunked: {statistics.median(times['sequential Fenwick']) / statistics.median(times['chunked wavelet']):.1f}x")
        print(f"{trace.name}: {events:,} events, {buffers:,} buffers")
        for k, v in runs.items():
            wall, rss = statistics.median(w for w, _ in v), max(r for _, r in v)
            print(f"  hetier {k:<7} {wall:8.1f} s wall   peak RSS {rss / 2**30:6.2f} GiB ({rss / buffers:,.0f} B per buffer)")
        print(f"  ratio report / info: {statistics.median(w for w, _ in runs['report']) / statistics.median(w for w, _ in runs['info']):.1f}x")


if __name__ == "__main__":
    main()
