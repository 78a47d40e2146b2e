"""confirm priced with this host's HE costs: `hetier calibrate --he` and `hetier confirm
--cost-file` run back to back, several times alternating, on the demo model (MobileNetV2 0.35 @
32, batch 16, a real trace recorded here). Each pair gives predicted / measured CPU time of the
re-run (its ops' thread CPU seconds); the median over the pairs is the number to read, against
the target of predicted within 10% of measured. The re-run times the cost file's top-level
multiply-accumulate between ops, so each pair also gives the prediction at the speed the core
had during the re-run (the model's error with the machine's drift taken out). With several pairs, each re-run is also priced
bracketed: the mean of the predictions with the costs measured just before and just after it.
The load average beside each pair shows what else the machine was doing (2 shared cores:
calibration and re-run see different neighbours).

    python benchmarks/confirm_host_costs.py --host-preset host.toml --trace demo.arrow [--pairs 3] [--reps 100] [--seconds 60]

The host preset comes from `hetier calibrate --memory`; the trace is recorded with it
(`hetier trace mobilenetv2 --width 0.35 --resolution 32 --classes 10 --batch 16 --granularity
tensor --host-preset host.toml -o demo.arrow`) if the file does not exist. Each pair takes a few
minutes on 2 shared cores (the re-run is a real encrypted inference).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from hetier.cli.main import main as hetier
from hetier.workflow.calibration import DEFAULT_SECONDS

TARGET = 0.10


def params_of(trace: str) -> str:
    """The trace's HE parameters as calibrate's N:PRIMES:BATCH."""
    from hetier.formats.trace import TraceReader

    with TraceReader(trace) as r:
        he = r.meta["he"]
    return f"{he['poly_modulus']}:{','.join(map(str, he['primes']))}:{he['batch']}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host-preset", required=True, help="this host's preset (hetier calibrate --memory)")
    ap.add_argument("--trace", required=True, help="the demo trace recorded here: reused if it exists, else recorded")
    ap.add_argument("--pairs", type=int, default=3, help="calibrate + confirm pairs, run alternating")
    ap.add_argument("--reps", type=int, default=100, help="calibrate --he: calls per timing round")
    ap.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="calibrate --he: wall seconds of timing rounds")
    ap.add_argument("--keep", help="folder to keep the cost files and records in (default: a temporary one)")
    args = ap.parse_args()
    if not Path(args.trace).exists():
        assert hetier(["trace", "mobilenetv2", "--width", "0.35", "--resolution", "32", "--classes", "10",
                       "--batch", "16", "--granularity", "tensor", "--host-preset", args.host_preset,
                       "-o", args.trace]) == 0
    params = params_of(args.trace)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(args.keep or tmp)
        d.mkdir(parents=True, exist_ok=True)
        for k in range(1, args.pairs + 1):
            costs, runs = d / f"costs-{k}.json", d / f"runs-{k}.csv"
            load0, t0 = os.getloadavg()[0], time.monotonic()
            assert hetier(["calibrate", "--he", "--params", params, "--reps", str(args.reps), "--seconds",
                           str(args.seconds), "-o", str(costs), "--force"]) == 0
            load1, t1 = os.getloadavg()[0], time.monotonic()
            assert hetier(["confirm", args.trace, "--machine", args.host_preset, "--policy", "all-dram",
                           "--cost-file", str(costs), "-o", str(runs), "--force"]) == 0
            load2, t2 = os.getloadavg()[0], time.monotonic()
            [rec] = list(csv.DictReader(runs.open()))
            entry = json.loads(costs.read_text())["entries"][0]
            top = str(len(entry["primes"]) - 1)
            row = {"pair": k, "predicted_s": float(rec["predicted_seconds_host_costs"]),
                   "trace_costs_s": float(rec["predicted_seconds_trace_costs"]), "cpu_s": float(rec["cpu_seconds"]),
                   "wall_s": float(rec["seconds"]), "mac_top_us": entry["ns"]["MAC"][top] / 1e3,
                   "cache_mb": entry["memory"]["cache_bytes"] / 2 ** 20, "rounds": entry["timing"]["rounds"],
                   "mac_spread": entry["timing"]["mac_spread"], "calibrate_s": t1 - t0, "confirm_s": t2 - t1,
                   "load": (load0, load1, load2)}
            row["ratio"] = row["predicted_s"] / row["cpu_s"]
            row["run_speed"], row["run_speed_spread"] = float(rec["run_speed"]), float(rec["run_speed_spread"])
            row["ratio_run_speed"] = float(rec["predicted_seconds_run_speed"]) / row["cpu_s"]
            rows.append(row)
            print(f"pair {k}: calibrate {row['calibrate_s']:.0f} s (load {load0:.1f} -> {load1:.1f}; MAC at the top "
                  f"level {row['mac_top_us']:.1f} us, mean of {row['rounds']} rounds, slowest/fastest round "
                  f"{row['mac_spread']}, cache {row['cache_mb']:.0f} MiB), confirm {row['confirm_s']:.0f} s "
                  f"(load -> {load2:.1f}): predicted {row['predicted_s']:.2f} s with this host's costs, measured CPU "
                  f"{row['cpu_s']:.2f} s (wall {row['wall_s']:.2f} s): predicted/CPU {row['ratio']:.3f}; with the "
                  f"trace's times {row['trace_costs_s'] / row['cpu_s']:.3f}; the core ran at {1 / row['run_speed']:.3f}x "
                  f"its calibration speed (probes' slowest/fastest {row['run_speed_spread']:.2f}): at the run's speed "
                  f"predicted/CPU {row['ratio_run_speed']:.3f}", flush=True)
    ratios = [r["ratio"] for r in rows]
    med = statistics.median(ratios)
    print(f"median of {len(rows)} pairs: predicted/measured CPU {med:.3f} (range {min(ratios):.3f}-{max(ratios):.3f}); "
          f"target within {TARGET:.0%}: {'met' if abs(med - 1) <= TARGET else 'NOT met'}")
    at_speed = [r["ratio_run_speed"] for r in rows]
    med_speed = statistics.median(at_speed)
    print(f"at the re-run's speed (the model's error with the machine's drift taken out): median "
          f"{med_speed:.3f} (range {min(at_speed):.3f}-{max(at_speed):.3f}); target within {TARGET:.0%}: "
          f"{'met' if abs(med_speed - 1) <= TARGET else 'NOT met'}")
    # The calibrations before and after a re-run bracket it: the machine's drift over the re-run
    # lies between them (a prediction is linear in the primitive costs, the cold rule aside)
    if len(rows) > 1:
        bracketed = [(a["predicted_s"] + b["predicted_s"]) / 2 / a["cpu_s"] for a, b in zip(rows, rows[1:])]
        print("bracketed (mean of the predictions with the costs measured before and after each re-run): "
              + ", ".join(f"re-run {k} {r:.3f}" for k, r in enumerate(bracketed, 1))
              + f"; median {statistics.median(bracketed):.3f}")


if __name__ == "__main__":
    main()
