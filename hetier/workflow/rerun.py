"""The child process of `hetier confirm`: rebuild the trace's model and run it encrypted again
(traced, so the parent can check that the events are the trace's), under whatever NUMA binding
the parent started it with. Protocol on stdout: ``READY`` (model built, nothing encrypted yet;
waits for a line on stdin so the parent can sample the resident memory before the run), then
``RESULT {json}``. With ``speed_probe`` in the spec it also times calibrate's top-level
multiply-accumulate before the first op and after every op (outside the ops' CPU time): how fast
the core ran through the run, against the cost file's speed.

    python -m hetier.workflow.rerun SPEC_JSON
"""

from __future__ import annotations

import json
import sys
import time


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
    probes: list[float] = []
    probe_wall = 0.0  # the probes' wall seconds inside the run (taken off its time)
    after_op = on_layer
    if spec.get("speed_probe"):
        from hetier.tracer.costs import probe_mac, probe_ns

        mac, _ = probe_mac(params)
        placed = on_layer

        def after_op(j: int, name: str) -> None:
            nonlocal probe_wall
            if placed is not None:
                placed(j, name)
            t0 = time.perf_counter()
            probes.append(probe_ns(mac))
            probe_wall += time.perf_counter() - t0
    print("READY", flush=True)
    sys.stdin.readline()
    if spec.get("speed_probe"):
        probes.append(probe_ns(mac))
    res = trace_run(graph, params, spec["trace_out"], spec["granularity"], seed=spec["seed"],
                    bias_copy=spec["bias_copy"], on_layer=after_op)
    out = {"seconds": res.seconds, "recorder_seconds": res.recorder_seconds, "events": res.events,
           "max_abs_error": res.max_abs_error}
    if on_layer is not None:
        out["placement_checks"] = on_layer.__self__.checks
    if probes:
        out["speed_probe_ns"] = probes
        out["probe_seconds"] = probe_wall
    return out


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1]))), flush=True)
