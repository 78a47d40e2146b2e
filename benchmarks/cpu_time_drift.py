"""Why confirm's host-cost prediction moves with the load on a shared machine: the CPU time of
the same HE primitive drifts, and how much of it calibration sees. Four measurements, side by side:

1. one multiply-accumulate (N=4096, 4 primes, top level) in 30 interleaved rounds of 100 calls:
   thread CPU per call, its range and the medians of 5 consecutive rounds;
2. calibration of the demo's parameters, its rounds back to back per template (what calibrate
   did before) and interleaved (now), alternating --reps-times: the demo model planned with
   each cost set, and the spread of those plans;
3. with --trace and --cost-file: planned / measured CPU of a real trace per layer kind and by
   tenth of the run (the drift within one run);
4. with --rerun TRACE: the re-run's user and system CPU, page faults and threads (getrusage);
5. with --spells SECONDS: one multiply-accumulate timed in back-to-back rounds of 2,000 calls
   (about 0.3 s each) for that long: the spells of a slow and a fast core that a calibration
   window of a few seconds can sit in (range, mean, median, rounds over 1.5x the fastest).

    python benchmarks/cpu_time_drift.py [--repeats 5] [--trace demo.arrow --cost-file costs.json] [--rerun cn.arrow]
                                        [--spells 150]
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import statistics
import tempfile
import time

import numpy as np

from hetier.models.zoo import build
from hetier.tracer import costs as cost_model
from hetier.tracer.params import HEParams
from hetier.tracer.session import plan_run

DEMO = dict(width=0.35, resolution=32, classes=10)
PARAMS = HEParams(4096, (30, 22, 22, 30), 22, 16)  # the demo's (choose_params at batch 16)


def top_mac():
    """One multiply-accumulate at the demo's top level, operands in cache, as calibrate times it."""
    return cost_model.probe_mac(PARAMS)[0]


def mac_rounds() -> None:
    [t] = cost_model._rounds_ns([(top_mac(), 100)], 30)
    t = np.array(t) / 1e3
    print(f"1. MAC, 30 rounds of 100 calls (load {os.getloadavg()[0]:.1f}): median {np.median(t):.1f} us, mean "
          f"{t.mean():.1f}, range {t.min():.1f}-{t.max():.1f}; medians of 5 consecutive rounds "
          f"{[round(float(np.median(t[i:i + 5])), 1) for i in range(0, 30, 5)]}", flush=True)


def spells(seconds: float) -> None:
    mac = top_mac()
    load0 = os.getloadavg()[0]
    [t] = cost_model._rounds_ns([(mac, 2000)], 1, seconds)
    t = np.array(t) / 1e3
    slow = t > 1.5 * t.min()
    edges = np.flatnonzero(np.diff(np.r_[0, slow.astype(int), 0]))
    runs = edges[1::2] - edges[::2]  # lengths of the slow spells, in rounds
    print(f"5. MAC, {len(t)} back-to-back rounds of 2,000 calls over {seconds:g} s (load {load0:.1f} -> "
          f"{os.getloadavg()[0]:.1f}): range {t.min():.1f}-{t.max():.1f} us, mean {t.mean():.1f}, median "
          f"{np.median(t):.1f}; {slow.mean():.0%} of rounds over 1.5x the fastest, in {len(runs)} spells of "
          f"{int(runs.min()) if len(runs) else 0}-{int(runs.max()) if len(runs) else 0} rounds", flush=True)


def planned_seconds(ns: dict, workdir: str, tag: str) -> float:
    """The demo planned with ``ns`` (the shipped entry's memory costs kept), in modelled seconds."""
    from hetier.formats.trace import TraceReader

    doc = json.loads(cost_model.DEFAULT_COST_FILE.read_text())
    entry = copy.deepcopy(next(e for e in doc["entries"] if e["poly_modulus"] == PARAMS.poly_modulus
                               and e["primes"] == list(PARAMS.primes) and e["batch"] == PARAMS.batch))
    entry["ns"] = {t: {str(lvl): v for lvl, v in per.items()} for t, per in ns.items()}
    doc["entries"] = [entry]
    path = os.path.join(workdir, f"{tag}.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    planned = plan_run(build("mobilenetv2", **DEMO), PARAMS, os.path.join(workdir, f"{tag}.arrow"), "tensor", path)
    with TraceReader(planned.path) as r:
        b = list(r.batches())
    return (max(int(x.ts_ns.max()) for x in b) - min(int(x.ts_ns.min()) for x in b)) / 1e9


def calibration_spread(repeats: int, reps: int) -> None:
    got: dict[str, list[float]] = {"back to back": [], "interleaved": []}
    with tempfile.TemporaryDirectory() as d:
        for i in range(repeats):
            for style, interleave in (("back to back", False), ("interleaved", True)):
                ns = cost_model.measure(PARAMS, reps, interleave=interleave)
                s = planned_seconds(ns, d, f"{i}-{interleave}")
                got[style].append(s)
                print(f"2. {time.strftime('%H:%M:%S')} repeat {i} {style:12}: demo planned {s:.1f} s, MAC at the top "
                      f"level {ns['MAC'][PARAMS.levels + 1] / 1e3:.1f} us (load {os.getloadavg()[0]:.1f})", flush=True)
    for style, v in got.items():
        print(f"2. {style}: {len(v)} calibrations, demo planned {min(v):.1f}-{max(v):.1f} s, stdev "
              f"{statistics.stdev(v) / statistics.mean(v):.1%} of the mean {statistics.mean(v):.1f} s")


def drift(trace: str, costs: str) -> None:
    from hetier.formats.trace import EV, TraceReader

    with TraceReader(trace) as r:
        meta = r.meta
        list(r.batches())
        cpu = [t for t, _ in r.op_cpu_ns]
    he = meta["he"]
    params = HEParams(he["poly_modulus"], tuple(he["primes"]), he["scale_bits"], he["batch"])
    with tempfile.TemporaryDirectory() as d:
        planned = plan_run(build(meta["model"]["name"], **meta["model"]["config"]), params, os.path.join(d, "p.arrow"),
                           "tensor", costs, meta["runtime"].get("bias_copy", True)).path
        with TraceReader(planned) as r:
            b = list(r.batches())
    ev, ts, lay = (np.concatenate([getattr(x, c) for x in b]) for c in ("event", "ts_ns", "layer"))
    begin = dict(zip(lay[ev == EV["op_begin"]].tolist(), ts[ev == EV["op_begin"]].tolist()))
    end = dict(zip(lay[ev == EV["op_end"]].tolist(), ts[ev == EV["op_end"]].tolist()))
    order = sorted(begin)
    pd = [(end[op] - begin[op]) / 1e9 for op in order]
    kinds = {layer["index"]: layer["kind"] for layer in meta["layers"]}
    by = collections.defaultdict(lambda: [0.0, 0.0])
    for op, p, c in zip(order, pd, cpu):
        by[kinds[op]][0] += p
        by[kinds[op]][1] += c / 1e9
    print(f"3. {os.path.basename(trace)} against {os.path.basename(costs)}: planned {sum(pd):.1f} s, measured CPU "
          f"{sum(cpu) / 1e9:.1f} s, planned/measured {sum(pd) / (sum(cpu) / 1e9):.3f}; by layer kind: " + ", ".join(
              f"{k} {a / m:.2f} ({m / (sum(cpu) / 1e9):.0%} of CPU)" for k, (a, m) in
              sorted(by.items(), key=lambda kv: -kv[1][1]) if m > 0.01 * sum(cpu) / 1e9))
    tenths = np.array_split(np.arange(len(order)), 10)
    print("3. planned/measured by tenth of the run: " + " ".join(
        f"{sum(pd[i] for i in c) / max(sum(cpu[i] for i in c) / 1e9, 1e-9):.2f}" for c in tenths))


def rusage(trace: str) -> None:
    import resource
    import subprocess
    import sys

    from hetier.formats.trace import TraceReader
    from hetier.workflow.confirm import rerun_spec

    with TraceReader(trace) as r:
        meta = r.meta
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rerun.arrow")
        spec = {**rerun_spec(meta, trace), "trace_out": out, "placement": None}
        p = subprocess.Popen([sys.executable, "-m", "hetier.workflow.rerun", json.dumps(spec)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "READY"
        p.stdin.write("go\n")
        p.stdin.flush()
        p.communicate()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        with TraceReader(out) as r:
            list(r.batches())
            thread, process = (sum(x[i] for x in r.op_cpu_ns) / 1e9 for i in (0, 1))
    print(f"4. re-run of {os.path.basename(trace)} (whole child): user {ru.ru_utime:.1f} s, system {ru.ru_stime:.1f} s "
          f"({ru.ru_stime / (ru.ru_utime + ru.ru_stime):.1%}), {ru.ru_minflt:,} minor page faults; ops: thread CPU "
          f"{thread:.1f} s, process CPU {process:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="calibrations of each kind, alternating")
    ap.add_argument("--reps", type=int, default=100, help="calls per timing round")
    ap.add_argument("--trace", help="a real trace recorded here (3.)")
    ap.add_argument("--cost-file", help="a calibrate --he cost file of this host for the trace's parameters (3.)")
    ap.add_argument("--rerun", help="a real trace to re-run under getrusage (4.)")
    ap.add_argument("--spells", type=float, default=0.0, help="seconds of back-to-back MAC rounds (5.)")
    args = ap.parse_args()
    mac_rounds()
    if args.repeats:
        calibration_spread(args.repeats, args.reps)
    if args.trace and args.cost_file:
        drift(args.trace, args.cost_file)
    if args.rerun:
        rusage(args.rerun)
    if args.spells:
        spells(args.spells)


if __name__ == "__main__":
    main()
