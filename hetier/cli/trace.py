"""Run a model's real encrypted inference and record its memory trace.

Example: hetier trace cryptonets --batch 64 --granularity tensor -o cryptonets.arrow
"""

from __future__ import annotations

import argparse

from hetier.atomic import check_output
from hetier.errors import UsageError

MODEL_OPTIONS = ("width", "resolution", "classes", "depth", "hidden", "activation", "inputs")


def _primes(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"primes '{text}' are not comma-separated bit sizes") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="mlp, cryptonets, mobilenetv2, resnet, resnet18, resnet50")
    m = p.add_argument_group("model options (each model takes its own)")
    m.add_argument("--width", type=float, help="mobilenetv2 width multiplier")
    m.add_argument("--resolution", type=int, help="input height and width (mobilenetv2, resnet)")
    m.add_argument("--classes", type=int, help="output classes")
    m.add_argument("--depth", type=int, help="resnet depth (18 or 50)")
    m.add_argument("--hidden", type=int, help="mlp hidden units")
    m.add_argument("--inputs", type=int, help="mlp input features")
    m.add_argument("--activation", help="mlp activation: square, relu, poly")
    m.add_argument("--seed", type=int, default=0, help="weights and input seed")
    h = p.add_argument_group("HE parameters")
    h.add_argument("--poly-modulus", type=int, help="N (default: 4096 if the model's depth fits)")
    h.add_argument("--primes", type=_primes, help="coefficient prime bits, e.g. 30,22,22,30")
    h.add_argument("--scale-bits", type=int, default=22, help="CKKS scale 2^bits")
    h.add_argument("--batch", type=int, default=64, help="images, one per slot (<= N/2)")
    p.add_argument("--granularity", default="ciphertext", help="ciphertext or tensor")
    p.add_argument("--no-bias-copy", action="store_true", help="add bias in place (reference: copy)")
    p.add_argument("-o", "--output", required=True, help="trace file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from hetier.models.zoo import build
    from hetier.tracer.session import choose_params, trace_run

    if args.granularity not in ("ciphertext", "tensor"):
        raise UsageError(f"granularity '{args.granularity}' unknown (known: ciphertext, tensor)")
    out = check_output(args.output, args.force)
    opts = {k: getattr(args, k) for k in MODEL_OPTIONS if getattr(args, k) is not None}
    graph = build(args.model, seed=args.seed, **opts)
    params = choose_params(graph, args.batch, args.poly_modulus, args.primes, args.scale_bits)
    console = Console(stderr=True, soft_wrap=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as prog:
        task = prog.add_task(f"{graph.name}: setup", total=len(graph.nodes))
        res = trace_run(graph, params, out, args.granularity, seed=args.seed, bias_copy=not args.no_bias_copy,
                        on_layer=lambda j, name: prog.update(task, completed=j + 1, description=f"{graph.name}: {name}"))
    console.print(f"wrote {res.path}: {res.events:,} events in {res.seconds:.1f} s "
                  f"(N={params.poly_modulus}, primes {list(params.primes)}, batch {params.batch}); "
                  f"max |decrypted - numpy reference| = {res.max_abs_error:.2e} (outputs up to {res.output_scale:.2f})")
    return 0
