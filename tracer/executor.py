"""Runs a model graph on encrypted data, layer by layer, with liveness-driven frees."""

from __future__ import annotations

from typing import Callable

import numpy as np

from hetier.errors import UsageError
from hetier.models.ir import Graph
from hetier.tracer import kernels
from hetier.tracer.linear_plan import maxpool_windows, plan
from hetier.tracer.params import HEParams
from hetier.tracer.recorder import ENCODE_VEC, ENCRYPT, FREE, Recorder
from hetier.tracer.liveness import Liveness
from hetier.tracer.plan import SymbolicBackend
from hetier.tracer.runtime import HTensor, SealBackend

# How the runtime allocates: "hetier" fuses rescale and bias into each linear layer, channel by
# channel; "reference" mirrors HE-Transformer (whole outputs, then bias as its own op with copies).
PROFILES = ("hetier", "reference")

_ACTIVATIONS = {"relu": lambda v: np.maximum(v, 0.0), "relu6": lambda v: np.clip(v, 0.0, 6.0)}


def layer_names(graph: Graph) -> list[dict]:
    """The trace's layer list: the graph's nodes (node 0 sets up keys and input), then teardown."""
    return graph.summary() + [{"index": len(graph.nodes), "name": "teardown", "kind": "teardown",
                               "shape": [], "inputs": []}]


def runtime_graph(graph: Graph, profile: str) -> Graph:
    """The graph a runtime profile executes (the reference stack's biases are layers of their own)."""
    if profile not in PROFILES:
        raise UsageError(f"runtime profile '{profile}' unknown (known: {', '.join(PROFILES)})")
    return graph.split_bias() if profile == "reference" else graph


def _encrypt_input(be: SealBackend, x: np.ndarray) -> HTensor:
    log, top = be.rec.log, be.top
    flat = x.reshape(x.shape[0], -1).T  # one row per element, one column per image
    t = be.new_tensor("ciphertext", x.shape[1:], top, be.scale)
    pt_id = be.new_plaintexts(t.size, top)
    pt = be.plaintext()
    pk = be.rec.key_ids.get("public", -1)
    for i, row in enumerate(flat):
        if log is not None:
            log((ENCODE_VEC, top, pt_id + i, -1, -1, -1, kernels.now()))
        be.encode_vector(row, top, be.scale, pt)
        c = t.cts[i] = be.ciphertext()
        if log is not None:
            log((ENCRYPT, top, pt_id + i, pk, t.base + i, -1, kernels.now()))
        be.encryptor.encrypt(pt, c)
        if log is not None:
            log((FREE, top, pt_id + i, -1, -1, -1, kernels.now()))
    return t


def run_encrypted(graph: Graph, params: HEParams, x: np.ndarray, rec: Recorder, bias_copy: bool = True,
                  on_layer: Callable[[int, str], None] | None = None, symbolic: bool = False,
                  profile: str = "hetier") -> np.ndarray:
    """Encrypt ``x`` (batch, *input_shape), run ``graph``, decrypt; returns (batch, *output_shape).

    ``symbolic`` runs the same kernels on a backend that encrypts nothing (plan mode); ``profile``
    (PROFILES) expects the graph of ``runtime_graph``."""
    batch = x.shape[0]
    nodes = graph.nodes
    live = Liveness(graph)
    rec.begin_op(0)
    be = SymbolicBackend(params, rec) if symbolic else SealBackend(params, rec)
    vals: list[HTensor | None] = [_encrypt_input(be, x)]
    rec.end_op()
    if on_layer:
        on_layer(0, nodes[0].name)
    for j, node in enumerate(nodes[1:], start=1):
        rec.begin_op(j)
        ins = [vals[i] for i in node.inputs]
        k = node.kind
        if k in ("conv2d", "dwconv2d", "dense", "avgpool", "gavgpool"):
            y = kernels.linear(be, ins[0], node.shape, plan(node, ins[0].shape), bias_copy, profile == "hetier")
        elif k == "bias":
            y = kernels.bias_add(be, ins[0], node.bias)
        elif k in _ACTIVATIONS:
            y = kernels.refresh(be, ins[0], _ACTIVATIONS[k], batch)
        elif k == "maxpool":
            y = kernels.refresh(be, ins[0], lambda v: v, batch, maxpool_windows(node, ins[0].shape), node.shape)
        elif k == "square":
            y = kernels.square(be, ins[0])
        elif k == "poly":
            y = kernels.poly(be, ins[0], node.coeffs)
        elif k == "add":
            lo = min(t.level for t in ins)
            a, b = (kernels.mod_switch(be, t, lo, live.dies_at(i, j)) for t, i in zip(ins, node.inputs))
            y = kernels.add(be, a, b)
            for t, src in ((a, ins[0]), (b, ins[1])):
                if t is not src:
                    kernels.free(be, t)
        elif k == "flatten":
            s = ins[0]
            y = HTensor(node.shape, s.cts, s.tid, s.base, s.level, s.scale)
        else:
            raise ValueError(f"no encrypted kernel for layer kind '{k}'")
        vals.append(y)
        for i in sorted(set(node.inputs)):
            if live.dies_at(i, j) and vals[i] is not None:
                kernels.free(be, vals[i])
                for a in live.aliases(i):
                    vals[a] = None
        rec.end_op()
        if on_layer:
            on_layer(j, node.name)

    rec.begin_op(len(nodes))
    out = kernels.decrypt_all(be, vals[-1], batch)
    kernels.free(be, vals[-1])
    kernels.free(be, vals[0])
    for bid in rec.key_ids.values():
        if rec.log is not None:
            rec.log((FREE, len(params.primes), bid, -1, -1, -1, kernels.now()))
    rec.end_op()
    return out
