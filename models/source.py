"""Which model a command line names: a zoo model with its options, or an ONNX file; and its
provenance, recorded in the trace's ``model.source``."""

from __future__ import annotations

import os

import numpy as np

from hetier.errors import UsageError
from hetier.models.ir import Graph


def load_model(model: str, seed: int = 0, options: dict | None = None,
               input_shape: tuple[int, ...] | None = None) -> tuple[Graph, dict]:
    """The graph ``model`` names (a zoo name, or a path to an .onnx file) and its provenance."""
    from hetier.models.zoo import MODELS, build

    options = options or {}
    if model in MODELS or not (model.endswith(".onnx") or os.path.isfile(model)):
        if input_shape is not None:
            raise UsageError("--input-shape is for an ONNX file (a zoo model has its options)")
        if model not in MODELS:
            raise UsageError(f"model '{model}' unknown (known: {', '.join(MODELS)}; or a path to an .onnx file)")
        graph = build(model, seed=seed, **options)
        return graph, {"kind": "zoo", "name": model, "options": graph.config}
    if options:
        raise UsageError(f"{', '.join('--' + k.replace('_', '-') for k in options)}: model options are for zoo "
                         "models; an ONNX file brings its own architecture and weights")
    from hetier.models.onnx_import import load_onnx

    imported = load_onnx(model, input_shape)
    return imported.graph, imported.source


def refuse_zero_weights(graph: Graph, scale_bits: int) -> None:
    """A real run multiplies every weight as a plaintext, and SEAL refuses a product by a zero
    plaintext (a "transparent" ciphertext): an exact zero, or a weight below half a unit at the
    scale it is encoded at (CKKSEncoder encodes a scalar as round(w x scale): the linear kernel's
    scale is its level's last prime, at least 2^``scale_bits``, the smallest data prime). Say so
    in one line before the run (plan mode is unaffected)."""
    cutoff = 0.5 / 2.0 ** scale_bits
    for n in graph.nodes:
        if n.kind in ("conv2d", "dwconv2d", "dense"):
            zeros = int(np.count_nonzero(n.weight == 0))
            if zeros:
                raise UsageError(f"layer '{n.name}' has {zeros:,} weight(s) exactly zero; a real run would multiply a "
                                 "ciphertext by a zero plaintext, which SEAL refuses (use --mode plan)")
            tiny = int(np.count_nonzero(np.abs(n.weight) < cutoff))
            if tiny:
                raise UsageError(f"layer '{n.name}' has {tiny:,} weight(s) below {cutoff:.3g} in magnitude, which "
                                 f"encode to a zero plaintext at a scale of 2^{scale_bits}; a real run would multiply a "
                                 "ciphertext by zero, which SEAL refuses (use --mode plan, or a larger --scale-bits)")
