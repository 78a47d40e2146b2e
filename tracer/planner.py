"""Plan a model at tensor granularity: the graph walk of executor.py over plan kernels."""

from __future__ import annotations

from typing import Callable

from hetier.models.ir import Graph
from hetier.tracer import plan_kernels as pk
from hetier.tracer.liveness import Liveness
from hetier.tracer.plan import (Item, Loop, SymbolicBackend, aggregate_plan, cold_mask, op_cost_ns, op_event_count,
                                update_live)
from hetier.tracer.params import HEParams
from hetier.tracer.recorder import FREE, KEYGEN, Recorder
from hetier.tracer.runtime import HTensor


def plan_ops(graph: Graph, params: HEParams, rec: Recorder, bias_copy: bool = True, profile: str = "hetier"):
    """Yield (layer, Loop) for every op of the run, in order, creating tensors as the runtime does."""
    nodes = graph.nodes
    live = Liveness(graph)
    be = SymbolicBackend(params, rec)
    keys = [Item(KEYGEN, len(params.primes), bid) for bid in rec.key_ids.values()]
    x, enc = pk.encrypt_input(be, nodes[0].shape)
    vals: list[HTensor | None] = [x]
    yield 0, Loop(1, keys + [enc])
    for j, node in enumerate(nodes[1:], start=1):
        ins = [vals[i] for i in node.inputs]
        k = node.kind
        if k in ("conv2d", "dwconv2d", "dense", "avgpool", "gavgpool"):
            y, loop = pk.linear(be, ins[0], node, bias_copy, profile == "hetier")
        elif k == "bias":
            y, loop = pk.bias_add(be, ins[0], node)
        elif k in ("relu", "relu6", "maxpool"):
            y, loop = pk.refresh(be, ins[0], node if k == "maxpool" else None)
        elif k == "square":
            y, loop = pk.square(be, ins[0])
        elif k == "poly":
            y, loop = pk.poly(be, ins[0])
        elif k == "add":
            lo = min(t.level for t in ins)
            (a, la), (b, lb) = (pk.mod_switch(be, t, lo, live.dies_at(i, j)) for t, i in zip(ins, node.inputs))
            y, add_loop = pk.add(be, a, b)
            after = [pk.free(be, t) for t, src in ((a, ins[0]), (b, ins[1])) if t is not src]
            loop = Loop(1, [la, lb, add_loop, *after])
        elif k == "flatten":
            s = ins[0]
            y, loop = HTensor(node.shape, s.cts, s.tid, s.base, s.level, s.scale), Loop(0)
        else:
            raise ValueError(f"no plan kernel for layer kind '{k}'")
        vals.append(y)
        frees = []
        for i in sorted(set(node.inputs)):
            if live.dies_at(i, j) and vals[i] is not None:
                frees.append(pk.free(be, vals[i]))
                for a in live.aliases(i):
                    vals[a] = None
        yield j, Loop(1, [loop] + frees)
    teardown = [pk.decrypt_all(be, vals[-1]), pk.free(be, vals[-1]), pk.free(be, vals[0])]
    teardown += [Item(FREE, len(params.primes), bid) for bid in rec.key_ids.values()]
    yield len(nodes), Loop(1, teardown)


def plan_tensor_trace(graph: Graph, params: HEParams, rec: Recorder, costs, bias_copy: bool = True,
                      on_layer: Callable[[int, str], None] | None = None, profile: str = "hetier") -> int:
    """Write the tensor-granularity plan of ``graph``; returns events written."""
    clock = 0
    n = 0
    names = [nd.name for nd in graph.nodes] + ["teardown"]
    table = costs.table(len(params.primes))
    live: dict[int, int] = {}
    for j, loop in plan_ops(graph, params, rec, bias_copy, profile):
        batch = aggregate_plan(rec, loop, j, clock, clock)
        cold = cold_mask(batch, batch, live, rec.tensors.arrays()[2], costs.cache_bytes)
        end = clock + int(round(op_cost_ns(loop, table) + costs.cold_ns(batch, cold).sum()))
        batch.ts_ns[-1] = end
        update_live(live, batch)
        if rec.writer is not None:
            rec.writer.write(batch)
        n += len(batch)
        clock = end
        if on_layer:
            on_layer(j, names[j])
    return n


def count_ciphertext_events(graph: Graph, params: HEParams, bias_copy: bool = True, profile: str = "hetier") -> int:
    """Events a ciphertext-granularity trace of ``graph`` would hold (no tensors kept)."""
    rec = Recorder(params, None)
    rec.log = None
    return sum(op_event_count(loop) for _, loop in plan_ops(graph, params, rec, bias_copy, profile))
