"""The HE-on-PMem reference study, predicted: every configuration planned and replayed with the
fitted reference stack, beside the published numbers; fit residuals and leave-one-out errors.

Plans each model of the study (N=4096, primes [30,22,22,30], batch 2048, the reference runtime
profile, tensor granularity), replays it at 48 threads on `ref-dram-only` and `ref-memory-mode`
with the `he-transformer` stack profile, refits that profile's free parameters to the published
runs shipped in simulator/data (with leave-one-out), and writes docs/reference-platform.md from
what it measured (nothing in that file is typed by hand).

    python benchmarks/reference_fidelity.py [--out docs/reference-platform.md] [--seeds 3]
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from hetier.analysis.trace_stats import trace_stats
from hetier.atomic import write_bytes_atomic
from hetier.planned import cases_of, plan_config
from hetier.simulator.fit import fit, reference_runs_path, rms
from hetier.simulator.machines import load_machine
from hetier.formats.measured import MeasuredRun, load_measured
from hetier.simulator.replay import replay
from hetier.simulator.stack import load_stack
from hetier.simulator.workload import load_workload

STUDY = ([("mobilenetv2", w, r) for w in (0.35, 0.5, 0.75, 1.0) for r in (96, 128)]
         + [("mobilenetv2", w, 224) for w in (1.3, 1.4)] + [("resnet50", None, 224)])
THREADS = 48  # the reference platform: 2 x 24 cores
# hetier layer kinds -> the nGraph ops of the published profile (HE-Transformer names)
NGRAPH_OP = {"conv2d": "Convolution", "dwconv2d": "Convolution", "dense": "Convolution", "relu6": "BoundedRelu",
             "relu": "Relu", "bias": "Add", "add": "Add", "avgpool": "AvgPool", "gavgpool": "AvgPool",
             "maxpool": "MaxPool"}


def _run(model: str, width: float | None, res: int) -> MeasuredRun:
    opts = (("resolution", float(res)),) + ((("width", width),) if width is not None else ())
    return MeasuredRun(model, tuple(sorted(opts)), 2048, 4096, (30, 22, 22, 30), "", "", THREADS, 1.0, 1.0)


def op_shares(result) -> dict[str, tuple[float, float]]:
    """Per nGraph op: share of time and of Optane-served demand-load bytes in one Memory Mode replay
    (what the study's PEBS counters count: loads, not store fills)."""
    lay = result.layers
    t = np.array(lay["end_ns"]) - np.array(lay["start_ns"])
    pm = np.array(lay["pmem_demand_load_bytes"])
    out: dict[str, list[float]] = {}
    for kind, dt, b in zip(lay["kind"], t, pm):
        acc = out.setdefault(NGRAPH_OP.get(kind, "other"), [0.0, 0.0])
        acc[0] += dt
        acc[1] += b
    return {k: (v[0] / t.sum(), v[1] / pm.sum()) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "reference-platform.md"))
    ap.add_argument("--seeds", type=int, default=2, help="Memory Mode page-frame seeds per configuration")
    args = ap.parse_args()
    t_start = time.perf_counter()
    stack = load_stack("he-transformer")
    do, mm = load_machine("ref-dram-only"), load_machine("ref-memory-mode")
    published = {(r.config, r.machine): r for r in load_measured(reference_runs_path())}
    profile_path = reference_runs_path().with_name("he-pmem-tc2021-op-profile.csv")
    pub_ops = {row["op"]: row for row in csv.DictReader(l for l in profile_path.read_text().splitlines()
                                                         if not l.startswith("#"))}
    rows, shares, sweep, placed = [], None, [], []
    with tempfile.TemporaryDirectory() as d:
        for i, (model, width, res) in enumerate(STUDY):
            run = _run(model, width, res)
            t0 = time.perf_counter()
            path = plan_config(run, stack.runtime_profile, Path(d) / f"{i}.arrow")
            st = trace_stats(path)
            w = load_workload(path)
            a = replay(w, do, "all-dram", THREADS, stack=stack)
            bs = [replay(w, mm, None, THREADS, stack=stack, seed=s) for s in range(args.seeds)]
            rows.append((run, st, a, bs, time.perf_counter() - t0))
            if (model, width, res) == ("mobilenetv2", 0.75, 96):
                shares = op_shares(bs[0])
                for gb in (16, 24, 32, 40, 48):
                    m = load_machine("ref-memory-mode", [f"dram.capacity_gb={gb}"])
                    r = replay(w, m, None, THREADS, stack=stack)
                    sweep.append((gb, r.mm_hit_ratio, r.makespan_ns / 1e9))
            if (model, width, res) == ("mobilenetv2", 1.0, 96):
                app = load_machine("ref-app-direct")
                for pol in ("optimal", "hot-cold", "lifetime", "dram-first", "all-pmem"):
                    r = replay(w, app, pol, THREADS, stack=stack)
                    placed.append((pol, r.makespan_ns / 1e9 if r.fits else None, r.headline()))
                placed.append(("memory-mode", bs[0].makespan_ns / 1e9, bs[0].headline()))
            b0 = bs[0]
            print(f"{run.config_label}: resident {st.resident_peak_bytes / 1e9:.1f} GB; DRAM-only {a.headline()}; "
                  f"Memory Mode {b0.headline()} (hit {100 * b0.mm_hit_ratio:.1f}%); {rows[-1][4]:.1f} s", flush=True)
        t_predict = time.perf_counter() - t_start
        runs = load_measured(reference_runs_path())
        cases, _ = cases_of(runs, stack, Path(d))
        t0 = time.perf_counter()
        res = fit(cases, stack, ["compute_scale", "serial_ns_per_output"])
        t_fit = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    measured = [r.seconds for r in runs]
    fit_err, loo_err = res.errors(measured), res.errors(measured, "loo")

    def pub(run, machine):
        return published.get((run.config, machine))

    lines = [
        "# The reference study, predicted",
        "",
        "Generated by `python benchmarks/reference_fidelity.py`; do not edit by hand. Every model of the",
        "HE-on-PMem study (Lloret-Talavera et al., IEEE TC 2021) is planned at N=4096, primes",
        "[30,22,22,30], batch 2048 with the reference runtime profile (`--runtime-profile reference`:",
        "whole op outputs, the bias Add as an op of its own with copies, HE-Transformer's rescale rule),",
        f"then replayed with {THREADS} threads and the fitted `he-transformer` stack profile on",
        "`ref-dram-only` (192 GB DDR4) and `ref-memory-mode` (32 GB DDR4 caching 6 TB Optane).",
        "Published numbers are those shipped in `simulator/data/he-pmem-tc2021-runs.csv` (a training",
        "subset of the study); other cells are predictions only. Memory is the resident peak under",
        "SEAL's size-class pool (what a process's peak RSS shows); live is the peak of live bytes.",
        "",
        f"Stack `he-transformer`: compute_scale = {stack.compute_scale:.3f}, serial_ns_per_output = "
        f"{stack.serial_ns_per_output / 1e6:.3f} ms (fitted by `hetier fit`).",
        "",
        "| model | live GB | memory GB (published) | DRAM-only s (published) | Memory Mode s (published) "
        "| MM / DO (published) | MM hit ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run, st, a, bs, _ in rows:
        pd, pm = pub(run, "ref-dram-only"), pub(run, "ref-memory-mode")
        mem = st.resident_peak_bytes / 1e9
        times = [b.makespan_ns / 1e9 for b in bs]
        hits = [100 * b.mm_hit_ratio for b in bs]
        mm_cell = f"{np.mean(times):.0f} ({min(times):.0f}-{max(times):.0f})" if len(bs) > 1 else f"{times[0]:.0f}"
        do_cell = f"{a.makespan_ns / 1e9:.0f}" if a.fits else f"does not fit ({a.missing_bytes['dram'] / 1e9:.0f} GB short)"
        ratio = f"{np.mean(times) / (a.makespan_ns / 1e9):.3f}" if a.fits else "-"
        lines.append(
            f"| {run.config_label} | {st.peak_live_bytes / 1e9:.1f} | {mem:.1f}"
            + (f" ({pd.peak_gb:g}, {mem / pd.peak_gb - 1:+.0%})" if pd else "")
            + f" | {do_cell}" + (f" ({pd.seconds:g}, {a.makespan_ns / 1e9 / pd.seconds - 1:+.1%})" if pd else "")
            + f" | {mm_cell}" + (f" ({pm.seconds:g}, {np.mean(times) / pm.seconds - 1:+.1%})" if pm else "")
            + f" | {ratio}" + (f" ({pm.seconds / pd.seconds:.3f})" if pd and pm else "")
            + f" | {np.mean(hits):.1f}% ({min(hits):.1f}-{max(hits):.1f}) |")
    lines += ["", f"Memory Mode cells: mean (min-max) over {args.seeds} page-frame seeds.", "",
              "## Fit and leave-one-out", "",
              "`hetier fit` (the same code, run here) fits `compute_scale` and `serial_ns_per_output` to the six",
              "published runs; leave-one-out refits on two configurations and predicts the third.", "",
              "| run | published s | fitted s | error | leave-one-out s | error |", "|---|---:|---:|---:|---:|---:|"]
    for r, p, lo, e, le in zip(runs, res.predicted, res.loo, fit_err, loo_err):
        lines.append(f"| {r.label} | {r.seconds:g} | {p:.0f} | {e:+.1%} | {lo:.0f} | {le:+.1%} |")
    lines += ["", f"RMS error: fit {rms(fit_err):.1%}, leave-one-out {rms(loo_err):.1%}; fitted values "
              + ", ".join(f"{k} = {v:.4g}" for k, v in res.values.items()) + ".", ""]
    by = {(r.config, r.machine): (r, p, lo) for r, p, lo in zip(runs, res.predicted, res.loo)}
    lines += ["MM / DO from the leave-one-out predictions: " + "; ".join(
        f"{r.config_label} {by[(r.config, 'ref-memory-mode')][2] / by[(r.config, 'ref-dram-only')][2]:.3f} "
        f"(published {by[(r.config, 'ref-memory-mode')][0].seconds / r.seconds:.3f})"
        for r in runs if r.machine == "ref-dram-only"), ""]
    lines += ["## Per-op shares, MobileNetV2 0.75 @ 96, Memory Mode", "",
              "Time and Optane load shares per nGraph op; hetier counts the bytes of loads the DRAM cache",
              "misses (store fills aside) times the stack's load-visible share, the study counts retired",
              "loads served by Optane (PEBS).", "",
              "| op | time % (published) | Optane loads % (published) |", "|---|---:|---:|"]
    for op in sorted(set(shares) | set(pub_ops), key=lambda o: -shares.get(o, (0, 0))[0]):
        ours = shares.get(op)
        p = pub_ops.get(op)
        lines.append(f"| {op} | " + (f"{100 * ours[0]:.1f}" if ours else "-") + (f" ({p['time_pct']})" if p else "")
                     + " | " + (f"{100 * ours[1]:.1f}" if ours else "-") + (f" ({p['optane_loads_pct']})" if p else "")
                     + " |")
    lines += ["", "## Memory Mode against DRAM cache size (MobileNetV2 0.75 @ 96, seed 0)", "",
              "| DRAM cache GB | hit ratio | time s |", "|---:|---:|---:|"]
    lines += [f"| {gb} | {100 * h:.1f}% | {t:.0f} |" for gb, h, t in sweep]
    mm_s = placed[-1][1] if placed else None
    lines += ["", "## Object placement against Memory Mode, same 32 GB of DRAM (MobileNetV2 1.0 @ 96)", "",
              "`ref-app-direct` (the Memory Mode machine's DRAM and Optane as two flat tiers) with the",
              "placement policies of `hetier advise`, beside `ref-memory-mode`, both with the fitted stack.", "",
              "| placement | time s | vs Memory Mode |", "|---|---:|---:|"]
    lines += [f"| {pol} | {hl if t is None else f'{t:.0f}'} | {'-' if t is None else f'{t / mm_s:.3f}x'} |"
              for pol, t, hl in placed]
    lines += ["", "## What the model does not explain", "",
              "- Memory: the planned resident peak is below the published one (see the first table); the",
              "  reference runtime profile mirrors what HE-Transformer's sources show (whole outputs, bias",
              "  copies, capacity kept after rescale, SEAL's size-class pool) and no parameter absorbs the rest.",
              "- Memory Mode's cost: predicted MM / DO is below the published ratio on every training",
              "  row (first table); the part of the slowdown the model misses is not in its memory",
              "  traffic, which is small beside the fitted serial and compute time.",
              "- Which ops load from Optane: the published profile puts most Optane loads on",
              "  BoundedRelu (the decrypt-encrypt refresh); hetier puts them on the convolutions'",
              "  repeated passes over their inputs, which conflict in the direct-mapped cache. The",
              "  refresh reads a tensor its bias Add has just written, so the model finds it cached.",
              "- The serial part per output ciphertext of the linear ops is fitted, not derived: its",
              "  mechanism in HE-Transformer (output materialisation, allocator or page-fault contention) is",
              "  not identified; `hetier confirm` timings of one convolution at 1 and T threads would measure it.",
              "- Reshape, Slice, Constant, Concat and Multiply of the published profile have no hetier",
              "  counterpart (flatten and depthwise slices share ciphertexts; batch-norm is folded).",
              "- Caveats of the presets: the two sockets are one tier (no NUMA), and the 4-channel DRAM",
              "  cache curve is the FAST'20 6-channel curve scaled by 4/6; Memory Mode is simulated in",
              "  64 KiB blocks placed at random as single frames.", "",
              f"Planning and replaying the study took {t_predict:.0f} s, the fit with leave-one-out {t_fit:.0f} s "
              f"({res.evaluations} replays of the six runs); peak resident memory {rss:.2f} GB.", ""]
    write_bytes_atomic(args.out, "\n".join(lines).encode())
    print(f"wrote {args.out} (predictions {t_predict:.0f} s, fit {t_fit:.0f} s)")


if __name__ == "__main__":
    main()
