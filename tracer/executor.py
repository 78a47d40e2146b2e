"""The one graph walk: runs a model layer by layer on any backend, with liveness-driven frees.

The SEAL backend encrypts for real, the symbolic backend logs the same primitives without
encryption and the plan backend counts the kernels' loops; all three go through ``run_graph``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hetier.errors import UsageError
from hetier.formats.trace import RUNTIME_PROFILES
from hetier.models.ir import Graph
from hetier.tracer import kernels
from hetier.tracer.liveness import Liveness
from hetier.tracer.runtime import HTensor, SealBackend

# How the runtime allocates: "hetier" fuses rescale and bias into each linear layer, channel by
# channel; "reference" mirrors HE-Transformer (whole outputs, then bias as its own op with copies).


def layer_names(graph: Graph) -> list[dict]:
    """The trace's layer list: the graph's nodes (node 0 sets up keys and input), then teardown."""
    return graph.summary() + [{"index": len(graph.nodes), "name": "teardown", "kind": "teardown",
                               "shape": [], "inputs": []}]


def runtime_graph(graph: Graph, profile: str) -> Graph:
    """The graph a runtime profile executes (the reference stack's biases are layers of their own)."""
    if profile not in RUNTIME_PROFILES:
        raise UsageError(f"runtime profile '{profile}' unknown (known: {', '.join(RUNTIME_PROFILES)})")
    return graph.split_bias() if profile == "reference" else graph


def run_graph(graph: Graph, be: SealBackend, images: np.ndarray | None, bias_copy: bool = True,
              profile: str = "hetier", on_layer: Callable[[int, str], None] | None = None) -> np.ndarray:
    """Encrypt ``images`` (batch, *input_shape; None on backends that encrypt nothing), run
    ``graph`` (as runtime_graph gives it for ``profile``), decrypt; returns (batch, *output_shape).
    Op 0 makes the keys and encrypts the input; the last op (teardown) decrypts and frees."""
    nodes, batch = graph.nodes, be.params.batch
    live = Liveness(graph)
    be.begin_op(0)
    be.keygen()
    consts = kernels.folded_constants(be, nodes, batch) if profile == "reference" else []
    vals: list[HTensor | None] = [kernels.encrypt_input(be, nodes[0].shape, images)]
    be.end_op()
    if on_layer:
        on_layer(0, nodes[0].name)
    for j, node in enumerate(nodes[1:], start=1):
        kernel = kernels.KERNELS.get(node.kind)
        if kernel is None:
            raise ValueError(f"no encrypted kernel for layer kind '{node.kind}'")
        be.begin_op(j)
        run = kernels.RunOptions(batch, bias_copy, profile == "hetier", tuple(live.dies_at(i, j) for i in node.inputs))
        vals.append(kernel(be, node, [vals[i] for i in node.inputs], run))
        for i in sorted(set(node.inputs)):
            if live.dies_at(i, j) and vals[i] is not None:
                kernels.free(be, vals[i])
                for a in live.aliases(i):
                    vals[a] = None
        be.end_op()
        if on_layer:
            on_layer(j, node.name)
    be.begin_op(len(nodes))
    out = kernels.decrypt_all(be, vals[-1], batch)
    kernels.free(be, vals[-1])
    kernels.free(be, vals[0])
    for bid in be.rec.key_ids.values():
        be.free(len(be.params.primes), bid)
    for bid in consts:
        be.free(0, bid)
    be.end_op()
    if on_layer:
        on_layer(len(nodes), "teardown")
    return out
