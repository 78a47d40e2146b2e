"""The child process of `hetier confirm`: rebuild the trace's model and run it encrypted again
(traced, so the parent can check that the events are the trace's), under whatever NUMA binding
the parent started it with. Protocol on stdout: ``READY`` (model built, nothing encrypted yet;
waits for a line on stdin so the parent can sample the resident memory before the run), then
``RESULT {json}``.

    python -m hetier.workflow.rerun SPEC_JSON
"""

from __future__ import annotations

import json
import sys


def main(spec: dict) -> dict:
    import tenseal.sealapi  # noqa: F401  (loaded before READY: its pages are not the run's)

    from hetier.models.zoo import build
    from hetier.tracer.params import HEParams
    from hetier.tracer.session import trace_run

    graph = build(spec["model"], **spec["config"])
    he = spec["he"]
    params = HEParams(he["poly_modulus"], tuple(he["primes"]), he["scale_bits"], he["batch"])
    on_layer = None
    if spec.get("placement"):
        from hetier.host.phase_policy import PhasePlacement

        on_layer = PhasePlacement.from_spec(spec["placement"]).before_layer
        on_layer(-1, "input")  # layer 0 (keys, input) starts before the first callback
    print("READY", flush=True)
    sys.stdin.readline()
    res = trace_run(graph, params, spec["trace_out"], spec["granularity"], seed=spec["seed"],
                    bias_copy=spec["bias_copy"], on_layer=on_layer)
    out = {"seconds": res.seconds, "recorder_seconds": res.recorder_seconds, "events": res.events,
           "max_abs_error": res.max_abs_error}
    if on_layer is not None:
        out["placement_checks"] = on_layer.__self__.checks
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1]))), flush=True)
