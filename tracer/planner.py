"""Plan a model at tensor granularity: the executor's graph walk on the plan backend."""

from __future__ import annotations

from typing import Callable, Iterator

from hetier.models.ir import Graph
from hetier.tracer.executor import run_graph
from hetier.tracer.params import HEParams
from hetier.tracer.plan import Loop, PlanBackend, aggregate_plan, op_cost_ns, op_event_count
from hetier.formats.live_counts import carry_op
from hetier.tracer.plan_timing import cold_mask
from hetier.tracer.recorder import Recorder


def plan_ops(graph: Graph, params: HEParams, rec: Recorder, bias_copy: bool = True,
             profile: str = "hetier") -> Iterator[tuple[int, Loop]]:
    """(layer, Loop) for every op of the run, in order, creating tensors in ``rec`` as the runtime does."""
    ops: list[tuple[int, Loop]] = []
    run_graph(graph, PlanBackend(params, rec, lambda j, loop: ops.append((j, loop))), None, bias_copy, profile)
    return iter(ops)


def plan_tensor_trace(graph: Graph, params: HEParams, rec: Recorder, costs, bias_copy: bool = True,
                      on_layer: Callable[[int, str], None] | None = None, profile: str = "hetier") -> int:
    """Write the tensor-granularity plan of ``graph``; returns events written."""
    table = costs.table(len(params.primes))
    live: dict[int, int] = {}
    state = {"clock": 0, "events": 0}

    def write(j: int, loop: Loop) -> None:
        clock = state["clock"]
        batch = aggregate_plan(rec, loop, j, clock, clock)
        cold = cold_mask(batch, batch, live, rec.tensors.arrays()[2], costs.cache_bytes)
        end = clock + int(round(op_cost_ns(loop, table) + costs.cold_ns(batch, cold).sum()))
        batch.ts_ns[-1] = end
        carry_op(live, batch)
        if rec.writer is not None:
            rec.writer.write(batch)
        state["clock"], state["events"] = end, state["events"] + len(batch)

    run_graph(graph, PlanBackend(params, rec, write), None, bias_copy, profile, on_layer)
    return state["events"]


def count_ciphertext_events(graph: Graph, params: HEParams, bias_copy: bool = True, profile: str = "hetier") -> int:
    """Events a ciphertext-granularity trace of ``graph`` would hold (no tensors kept)."""
    return sum(op_event_count(loop) for _, loop in plan_ops(graph, params, Recorder(params, None), bias_copy, profile))
