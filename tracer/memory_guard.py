"""Before a real encrypted run: estimate its peak memory from plan mode and refuse a run that
cannot fit this machine, rather than dying in SEAL's allocator (std::bad_alloc) halfway."""

from __future__ import annotations

from hetier.available_memory import available_memory_bytes
from hetier.errors import UsageError
from hetier.formats.seal_pool import ResidentPeak
from hetier.models.ir import Graph
from hetier.models.reference import run_peak_bytes
from hetier.tracer.params import HEParams

RUNTIME_BYTES = 512 << 20  # Python, numpy, TenSEAL and the reference executor besides the ciphertexts


def planned_peak_bytes(graph: Graph, params: HEParams, bias_copy: bool = True, profile: str = "hetier") -> int:
    """Peak resident bytes of the tensor-granularity plan of ``graph`` (the same events as a real
    run) under a runtime profile: SEAL's pool as it grows (formats/seal_pool.py, the model
    ``hetier info`` uses) plus host memory while live."""
    from hetier.tracer.executor import runtime_graph
    from hetier.tracer.plan import aggregate_plan
    from hetier.tracer.planner import plan_ops
    from hetier.tracer.recorder import Recorder

    rec = Recorder(params, None)
    resident = ResidentPeak()
    for j, loop in plan_ops(runtime_graph(graph, profile), params, rec, bias_copy, profile):
        resident.add(aggregate_plan(rec, loop, j, 0, 0))
    return resident.best


def check_real_run_fits(graph: Graph, params: HEParams, bias_copy: bool = True,
                        available: int | None = None, profile: str = "hetier") -> int:
    """Refuse a real run whose planned peak plus its numpy reference (run after it, while SEAL's
    pool still holds the peak) and the runtime exceed the available memory; returns the estimate in bytes."""
    from hetier.tracer.executor import runtime_graph

    reference = run_peak_bytes(runtime_graph(graph, profile), params.batch)
    need = planned_peak_bytes(graph, params, bias_copy, profile) + reference + RUNTIME_BYTES
    avail = available_memory_bytes() if available is None else available
    if avail is not None and need > avail:
        raise UsageError(f"a real run of {graph.name} at batch {params.batch} needs about {need / 1e9:.1f} GB "
                         f"(planned peak and its numpy reference), more than the {avail / 1e9:.1f} GB available here; "
                         f"use --mode plan to trace it without encryption, or a smaller --batch")
    return need
