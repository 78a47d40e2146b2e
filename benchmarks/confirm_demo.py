"""The demo's MobileNetV2 0.35 @ 32 trace confirmed on this host: traced with the host's
calibrated preset embedded, re-run under numactl --membind (all-dram), predicted vs measured.

Target: predicted within 5% of measured, median of 3 runs. Each run takes ~4 minutes on 2
shared cores. Prints the records' numbers and the ratio.

    python benchmarks/confirm_demo.py --host-preset host.toml [--repeat 3] [--trace out/m.arrow] [--cost-file c.json]

With --cost-file (this host's `hetier calibrate --he` costs; measured now if the file does not
exist) the prediction is priced with them, and both predictions are printed against CPU time.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
from pathlib import Path

from hetier.cli.main import main as hetier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host-preset", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trace", help="the demo trace recorded with the host preset: reused if it exists, else written there")
    ap.add_argument("--cost-file", help="price the prediction with this host's HE costs (hetier confirm --cost-file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        trace = args.trace or str(Path(d) / "mobilenetv2-0.35-32.arrow")
        if not Path(trace).exists():
            assert hetier(["trace", "mobilenetv2", "--width", "0.35", "--resolution", "32", "--classes", "10",
                           "--batch", "16", "--granularity", "tensor", "--host-preset", args.host_preset,
                           "-o", trace]) == 0
        out = Path(d) / "runs.csv"
        costs = ["--cost-file", args.cost_file] if args.cost_file else []
        assert hetier(["confirm", trace, "--machine", args.host_preset, "--policy", "all-dram",
                       "--repeat", str(args.repeat), *costs, "-o", str(out)]) == 0
        rows = list(csv.DictReader(out.open()))
    measured = statistics.median(float(r["seconds"]) for r in rows)
    cpu = statistics.median(float(r["cpu_seconds"]) for r in rows)
    predicted = float(rows[0]["predicted_seconds"])
    for r in rows:
        print(f"run {r['repeat']}: measured {r['seconds']} s, predicted {r['predicted_seconds']} s, peak {r['peak_gb']} GB "
              f"(run's own {r['peak_above_start_gb']} GB, predicted {r['predicted_peak_gb']} GB), CPU {r['cpu_seconds']} s, "
              f"same events {r['events_match']}")
    print(f"median of {len(rows)}: measured {measured:.2f} s, predicted {predicted:.2f} s, "
          f"predicted/measured {predicted / measured:.3f} (target within 5%: "
          f"{'met' if abs(predicted / measured - 1) <= 0.05 else 'NOT met'}); predicted/CPU time {predicted / cpu:.3f} "
          f"(wall exceeds CPU time when other work shares the cores)")
    if args.cost_file:
        host, by_trace = float(rows[0]["predicted_seconds_host_costs"]), float(rows[0]["predicted_seconds_trace_costs"])
        print(f"priced with {rows[0]['predicted_with']}: predicted {host:.2f} s, predicted/CPU time {host / cpu:.3f} "
              f"(target within 10%: {'met' if abs(host / cpu - 1) <= 0.10 else 'NOT met'}); with the trace's recorded "
              f"op times {by_trace:.2f} s, predicted/CPU time {by_trace / cpu:.3f}")


if __name__ == "__main__":
    main()
