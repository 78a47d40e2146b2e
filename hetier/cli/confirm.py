"""Re-run a trace's model for real under a placement policy's NUMA binding; compare with the simulator.

Examples: hetier confirm m.arrow --machine ~/.config/hetier/host-memory.toml --policy all-dram --repeat 3 -o runs.csv
          hetier confirm m.arrow --machine host.toml --policy all-dram --placement phases.toml -o runs.json
"""

from __future__ import annotations

import argparse

from hetier.cli.options import add_scenario_arguments, stack_of
from hetier.workflow.calibration import DEFAULT_SECONDS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="a real trace (hetier trace): its model, configuration, seed and HE parameters are re-run")
    p.add_argument("--machine", required=True, help="this host's preset from hetier calibrate --memory")
    p.add_argument("--policy", default="all-dram",
                   help="all-dram (numactl --membind DRAM), all-pmem (memory-only nodes), dram-first (--preferred), "
                        "interleave (--interleave); linux-tiering (the kernel's tiering, if this host has it on); "
                        "memory-mode on a Memory Mode machine")
    p.add_argument("--placement", help="per-phase placement (TOML: layer -> tier), applied between layers with set_mempolicy")
    p.add_argument("--repeat", type=int, default=1, help="re-runs (one record each)")
    p.add_argument("--cost-file", help="price the prediction with this host's HE primitive costs: a cost file from "
                   "hetier calibrate --he on this machine (reused), or a new path (measured now for the trace's "
                   "parameters and written there); the record keeps the trace-cost prediction too, and how fast the core ran "
                   "through the re-run against calibration (its multiply-accumulate timed between ops) with the "
                   "prediction scaled by that")
    p.add_argument("--cost-reps", type=int, default=100, help="calls per timing round when --cost-file is measured now")
    p.add_argument("--cost-seconds", type=float, default=DEFAULT_SECONDS,
                   help=f"wall seconds of timing rounds when --cost-file is measured now (hetier calibrate --seconds; "
                        f"default {DEFAULT_SECONDS:g})")
    add_scenario_arguments(p)
    p.add_argument("-o", "--output", help="record file: .csv (measured-runs columns) or .json")
    p.add_argument("--append", action="store_true", help="add the records to an existing record file")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    from statistics import median

    from rich.console import Console
    from rich.table import Table

    from hetier.terminal import table_console
    from hetier.workflow.confirm import confirm_records

    console = Console(stderr=True, soft_wrap=True)
    records, out = confirm_records(args.trace, args.machine, args.policy, args.repeat, output=args.output,
                                   append=args.append, force=args.force, cost_reps=args.cost_reps,
                                   cost_seconds=args.cost_seconds,
                                   placement_path=args.placement, progress=lambda s: console.print(s, markup=False),
                                   stack=stack_of(args), allow_runtime_mismatch=args.allow_runtime_mismatch,
                                   fit_by=args.fit_by, cost_file=args.cost_file)
    if out:
        console.print(f"wrote {len(records)} record(s) to {out}")
    host_priced = records[0]["predicted_seconds_host_costs"] != ""
    t = Table(title=f"{records[0]['model']} on {records[0]['machine']}, {args.policy} ({records[0]['binding']})")
    cols = ["run", "measured s", "CPU s", "predicted s", "error", "vs CPU"]
    probed = host_priced and records[0]["run_speed"] != ""
    if host_priced:
        cols.append("with trace's times s")
    if probed:
        cols += ["at run's speed s", "vs CPU"]
    for c in (*cols, "peak GB by node", "run's own peak GB", "predicted GB", "error", "same events"):
        t.add_column(c, justify="right")
    for r in records:
        extra = [_fmt(r["predicted_seconds_trace_costs"], ".3f")] if host_priced else []
        if probed:
            extra += [_fmt(r["predicted_seconds_run_speed"], ".3f"), _fmt(r["cpu_seconds_error_run_speed"], "+.1%")]
        t.add_row(str(r["repeat"]), f"{r['seconds']:.3f}", f"{r['cpu_seconds']:.3f}", _fmt(r["predicted_seconds"], ".3f"),
                  _fmt(r["seconds_error"], "+.1%"), _fmt(r["cpu_seconds_error"], "+.1%"), *extra, r["peak_gb_by_node"],
                  f"{r['peak_above_start_gb']:.3f}", _fmt(r["predicted_peak_gb"], ".3f"), _fmt(r["peak_error"], "+.1%"),
                  "yes" if r["events_match"] else "NO")
    out_console = table_console()
    out_console.print(t)
    for r in records:
        if "vmstat_delta" in r:
            console.print(f"run {r['repeat']} kernel counted (machine-wide): "
                          + ", ".join(f"{k} {v:,}" for k, v in r["vmstat_delta"].items())
                          + "; predicted: " + ", ".join(f"{k} {v:,}" for k, v in r["predicted_vmstat"].items()))
    if records[0]["placement"]:
        ok = all(r["placement_verified"] for r in records)
        console.print(f"per-phase placement: policy read back after every layer {'as set' if ok else 'DIFFERENT from what was set'}"
                      + ("" if records[0]["predicted_seconds"] != "" else "; not predicted (the simulator has no per-phase policy)"))
    if records[0]["predicted_with"]:
        console.print(f"predicted with {records[0]['predicted_with']}", markup=False)
    for r in records if probed else []:
        console.print(f"run {r['repeat']}: the core ran at {1 / r['run_speed']:.3f}x its speed during calibration "
                      f"(the cost file's top-level multiply-accumulate timed before and after every op: "
                      f"{r['run_speed']:.3f}x its cost, slowest/fastest probe {r['run_speed_spread']:.2f}); "
                      f"'at run's speed' is the prediction scaled by that", markup=False)
    if len(records) > 1 and records[0]["predicted_seconds"] != "":
        m = median(r["seconds"] for r in records)
        console.print(f"median of {len(records)}: measured {m:.3f} s, predicted {records[0]['predicted_seconds']:.3f} s "
                      f"({records[0]['predicted_seconds'] / m - 1:+.1%})")
    return 0


def _fmt(v, spec: str) -> str:
    return "-" if v == "" else format(v, spec)
