"""Write a zoo model (with its seeded weights) as an ONNX file, to re-import or to run elsewhere.

Examples: hetier export-model cryptonets -o cryptonets.onnx
          hetier export-model resnet50 --resolution 224 -o resnet50.onnx
          hetier trace cryptonets.onnx --batch 64 -o cryptonets.arrow   (the same trace as the zoo's)
"""

from __future__ import annotations

import argparse

from hetier.workflow.model_export import MODEL_OPTIONS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="mlp, cryptonets, mobilenetv2, resnet, resnet18, resnet50")
    m = p.add_argument_group("model options (each model takes its own; as for hetier trace)")
    m.add_argument("--width", type=float, help="width multiplier (mobilenetv2: 0.35..1.4; resnet: channel scale)")
    m.add_argument("--resolution", type=int, help="input height and width (mobilenetv2, resnet)")
    m.add_argument("--classes", type=int, help="output classes")
    m.add_argument("--depth", type=int, help="resnet depth (18 or 50)")
    m.add_argument("--hidden", type=int, help="mlp hidden units")
    m.add_argument("--inputs", type=int, help="mlp input features")
    m.add_argument("--activation", help="mlp activation: square, relu, poly")
    m.add_argument("--seed", type=int, default=0, help="weights seed")
    p.add_argument("-o", "--output", required=True, help="ONNX file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hetier.terminal import safe
    from hetier.workflow.model_export import export_model

    got = export_model(args.model, args.output, args.seed, args.force, **{k: getattr(args, k) for k in MODEL_OPTIONS})
    Console(stderr=True, soft_wrap=True).print(
        f"wrote {safe(got.path)}: {got.model} {safe(got.config)}, {got.layers} layers, "
        f"{got.weights:,} float32 weights, {got.nbytes:,} bytes")
    return 0
