"""RecordingHost host honesty: the same CryptoNets run traced on an idle and on a busy machine
(other processes keep every core busy), both replayed on the host's own calibrated preset.

With per-op CPU time and the host preset in the trace, the busy trace should predict within
10% of the idle one; with wall time (the fallback) it cannot. Prints both predictions side by
side, with the wall times and the ratio. Needs a host preset from hetier calibrate --memory.

    python benchmarks/busy_recording.py --host-preset host.toml [--model cryptonets --batch 64]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
from pathlib import Path

from hetier.host.host_preset import host_preset_meta
from hetier.models.zoo import build
from hetier.simulator.machines import load_machine
from hetier.simulator.recording_host import RecordingHost
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import load_workload
from hetier.tracer.session import choose_params, trace_run


def _spin() -> None:
    while True:
        pass


def predict(path: Path, machine) -> tuple[float, float, float]:
    """(wall s, predicted s with the trace's host and CPU times, predicted s assuming wall time)."""
    w = load_workload(str(path))
    honest = simulate(Scenario(w, machine, "all-dram")).makespan_ns / 1e9
    wall_only = simulate(Scenario(w, machine, "all-dram", recording=RecordingHost(machine.device("dram"), machine.llc_bytes))).makespan_ns / 1e9
    return sum(o.duration_ns for o in w.ops) / 1e9, honest, wall_only


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host-preset", required=True)
    ap.add_argument("--model", default="cryptonets")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hogs", type=int, default=os.cpu_count(), help="spinning processes during the busy run")
    args = ap.parse_args()
    graph = build(args.model)
    params = choose_params(graph, args.batch, None, None, 22)
    machine = load_machine(args.host_preset)
    trace_run(graph, params, None, "tensor", tracing=False)  # warm-up: the first run grows the heap
    rows = {}
    with tempfile.TemporaryDirectory() as d:
        for label in ("idle", "busy"):
            hogs = [mp.Process(target=_spin, daemon=True) for _ in range(args.hogs if label == "busy" else 0)]
            for h in hogs:
                h.start()
            try:
                out = Path(d) / f"{label}.arrow"
                trace_run(graph, params, out, "tensor", host_memory=host_preset_meta(args.host_preset))
            finally:
                for h in hogs:
                    h.terminate()
                    h.join()
            rows[label] = predict(out, machine)
    print(f"{args.model} batch {args.batch}, replayed on {machine.name} (all-dram, 1 thread); busy = {args.hogs} spinning processes")
    print(f"{'run':6} {'wall s':>8} {'predicted s (CPU time, host preset)':>36} {'predicted s (wall time)':>24}")
    for label, (wall, honest, wall_only) in rows.items():
        print(f"{label:6} {wall:8.2f} {honest:36.2f} {wall_only:24.2f}")
    (wi, hi, oi), (wb, hb, ob) = rows["idle"], rows["busy"]
    print(f"busy/idle: wall {wb / wi:.3f}, predicted with CPU time {hb / hi:.3f} (target within 10%: "
          f"{'met' if abs(hb / hi - 1) <= 0.10 else 'NOT met'}), predicted with wall time {ob / oi:.3f}")


if __name__ == "__main__":
    main()
