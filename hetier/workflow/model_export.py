"""`hetier export-model` and `hetier.export_model`: a zoo model with its seeded weights as an ONNX
file, to re-import (``hetier trace FILE.onnx`` gives the zoo's trace) or to run elsewhere."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_OPTIONS = ("width", "resolution", "classes", "depth", "hidden", "activation", "inputs")


@dataclass
class ExportedModel:
    """The ONNX file written: its path and size, and what it holds."""

    path: Path
    model: str
    config: dict
    layers: int  # the graph's layers, its input not counted
    weights: int  # float32 weights and biases
    nbytes: int


def export_model(model: str, output: str | os.PathLike, seed: int = 0, force: bool = False,
                 **options: Any) -> ExportedModel:
    """Build zoo ``model`` with ``options`` (``width``, ``resolution``, ``classes``, ``depth``,
    ``hidden``, ``inputs``, ``activation``; None: the model's default) and weights from ``seed``,
    and write it to ``output`` (refused if it exists, unless ``force``)."""
    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.models.onnx_export import write_onnx
    from hetier.models.zoo import build
    from hetier.validation import TRACE_OPTIONS, check_options

    unknown = sorted(set(options) - set(MODEL_OPTIONS))
    if unknown:
        raise UsageError(f"model option(s) {', '.join(unknown)} unknown (known: {', '.join(MODEL_OPTIONS)})")
    check_options({f"--{k.replace('_', '-')}": v for k, v in {**options, "seed": seed}.items()}, TRACE_OPTIONS)
    out = check_output(output, force)
    graph = build(model, seed=seed, **{k: v for k, v in options.items() if v is not None})
    size = write_onnx(graph, out, force=force)
    weights = sum(n.weight.size + (0 if n.bias is None else n.bias.size) for n in graph.nodes if n.weight is not None)
    return ExportedModel(out, graph.name, dict(graph.config), len(graph.nodes) - 1, int(weights), size)
