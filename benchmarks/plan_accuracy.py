"""Plan accuracy: planned vs measured total time of the same small models, side by side.

For each model, one real encrypted run and one plan (same parameters, tensor granularity, cost
file given or shipped) are traced; the totals of their op durations are compared (target:
planned/measured within 10%). An untraced warm-up run comes first: the first encrypted run in a
process pays one-time set-up that later runs do not.

    python benchmarks/plan_accuracy.py [--models mlp,cryptonets,mobilenetv2] [--cost-file FILE]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from hetier.analysis.trace_stats import trace_stats
from hetier.models.zoo import build
from hetier.tracer.session import choose_params, plan_run, trace_run

MODELS = {
    "mlp": ("mlp", 8, dict(activation="relu")),
    "cryptonets": ("cryptonets", 64, {}),
    "mobilenetv2": ("mobilenetv2", 16, dict(width=0.35, resolution=32, classes=10)),
    "resnet18": ("resnet18", 16, dict(width=0.125, resolution=32, classes=10)),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mlp,cryptonets,resnet18,mobilenetv2")
    ap.add_argument("--cost-file")
    args = ap.parse_args()
    warm = build("mlp", activation="relu")  # the first encrypted run in a process pays one-time set-up
    trace_run(warm, choose_params(warm, 8, None, None, 22), None, tracing=False)
    with tempfile.TemporaryDirectory() as d:
        for key in args.models.split(","):
            name, batch, kw = MODELS[key]
            g = build(name, **kw)
            p = choose_params(g, batch, None, None, 22)
            real = trace_run(g, p, Path(d) / "real.arrow", "tensor")
            plan = plan_run(g, p, Path(d) / "plan.arrow", "tensor", args.cost_file)
            measured = sum(trace_stats(real.path).layer_ns.values())
            planned = sum(trace_stats(plan.path).layer_ns.values())
            print(f"{key:12s} N={p.poly_modulus} batch {batch}: measured {measured / 1e9:8.2f} s, "
                  f"planned {planned / 1e9:8.2f} s, planned/measured {planned / measured:.3f}", flush=True)


if __name__ == "__main__":
    main()
