"""Run a model's encrypted inference (or plan it) and record its memory trace.

Examples: hetier trace cryptonets --batch 64 --granularity tensor -o cryptonets.arrow
          hetier trace resnet50 --resolution 224 --batch 2048 --mode plan -o resnet50.arrow
          hetier trace my-model.onnx --batch 16 -o my-model.arrow      (your own model, via ONNX)
"""

from __future__ import annotations

import argparse

from hetier.atomic import check_output
from hetier.errors import UsageError
from hetier.formats.trace import RUNTIME_PROFILES
from hetier.terminal import safe
from hetier.validation import TRACE_OPTIONS, check_options

MAX_PLAN_EVENTS = 200_000_000  # a ciphertext-granularity plan above this is refused (use tensor granularity)
MODEL_OPTIONS = ("width", "resolution", "classes", "depth", "hidden", "activation", "inputs")


def _primes(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"primes '{text}' are not comma-separated bit sizes") from None


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"input shape '{text}' is not comma-separated sizes (C,H,W)") from None
    if not 1 <= len(dims) <= 3 or any(not 1 <= d <= 1 << 20 for d in dims):
        raise argparse.ArgumentTypeError(f"input shape '{text}' must be 1 to 3 sizes from 1 to {1 << 20}")
    return dims


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="mlp, cryptonets, mobilenetv2, resnet, resnet18, resnet50, or an .onnx file")
    m = p.add_argument_group("model options (each model takes its own)")
    m.add_argument("--width", type=float, help="width multiplier (mobilenetv2: 0.35..1.4; resnet: channel scale)")
    m.add_argument("--resolution", type=int, help="input height and width (mobilenetv2, resnet)")
    m.add_argument("--classes", type=int, help="output classes")
    m.add_argument("--depth", type=int, help="resnet depth (18 or 50)")
    m.add_argument("--hidden", type=int, help="mlp hidden units")
    m.add_argument("--inputs", type=int, help="mlp input features")
    m.add_argument("--activation", help="mlp activation: square, relu, poly")
    m.add_argument("--seed", type=int, default=0, help="weights and input seed (ONNX: input seed)")
    m.add_argument("--input-shape", type=_shape, help="ONNX file: the input's shape per image (C,H,W or "
                   "features) where the graph leaves it symbolic")
    h = p.add_argument_group("HE parameters")
    h.add_argument("--poly-modulus", type=int, help="N (default: 4096 if the model's depth fits)")
    h.add_argument("--primes", type=_primes, help="coefficient prime bits, e.g. 30,22,22,30")
    h.add_argument("--scale-bits", type=int, default=22, help="CKKS scale 2^bits")
    h.add_argument("--batch", type=int, default=64, help="images, one per slot (<= N/2)")
    p.add_argument("--granularity", default=None, help="ciphertext or tensor (default: ciphertext; plan: tensor)")
    p.add_argument("--mode", choices=("real", "plan"), default="real",
                   help="real: encrypted run; plan: same events, no encryption, modelled durations")
    p.add_argument("--cost-file", help="plan mode: cost file from hetier calibrate --he (default: shipped)")
    p.add_argument("--max-events", type=int, default=None,
                   help=f"plan mode: refuse a ciphertext-granularity plan with more events (default {MAX_PLAN_EVENTS:,})")
    p.add_argument("--no-memory-check", action="store_true",
                   help="real mode: run even if the planned peak exceeds the available memory")
    p.add_argument("--no-bias-copy", action="store_true", help="hetier profile: add bias in place (default: copy)")
    p.add_argument("--runtime-profile", default="hetier", choices=RUNTIME_PROFILES,
                   help="how the runtime allocates: hetier (rescale and bias fused into each linear layer, "
                        "channel by channel) or reference (HE-Transformer: whole outputs, bias as its own op)")
    p.add_argument("--host-preset", help="this host's memory preset from hetier calibrate --memory, embedded in the "
                   "trace for the replay (default: ~/.config/hetier/host-memory.toml if it exists)")
    p.add_argument("-o", "--output", required=True, help="trace file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from hetier.models.source import load_model, refuse_zero_weights
    from hetier.tracer.session import choose_params, plan_run, trace_run

    if args.granularity is None:
        args.granularity = "tensor" if args.mode == "plan" else "ciphertext"
    if args.granularity not in ("ciphertext", "tensor"):
        raise UsageError(f"granularity '{args.granularity}' unknown (known: ciphertext, tensor)")
    check_options({f"--{k.replace('_', '-')}": getattr(args, k) for k in (
        *MODEL_OPTIONS, "seed", "batch", "poly_modulus", "scale_bits", "max_events")}, TRACE_OPTIONS)
    if args.cost_file and args.mode != "plan":
        raise UsageError("--cost-file is for --mode plan (a real run measures its durations)")
    if args.max_events is not None and args.mode != "plan":
        raise UsageError("--max-events is for --mode plan (a real run's events are what it records)")
    if args.max_events is None:
        args.max_events = MAX_PLAN_EVENTS
    if args.host_preset and args.mode != "real":
        raise UsageError("--host-preset is for --mode real (a plan's durations come from the cost file)")
    out = check_output(args.output, args.force)
    graph, source = load_model(args.model, args.seed, {k: getattr(args, k) for k in MODEL_OPTIONS
                                                       if getattr(args, k) is not None}, args.input_shape)
    params = choose_params(graph, args.batch, args.poly_modulus, args.primes, args.scale_bits)
    console = Console(stderr=True, soft_wrap=True)
    if args.mode == "real":
        refuse_zero_weights(graph, min(params.primes[:-1]))  # the smallest prime a weight is encoded at
    if args.mode == "real" and not args.no_memory_check:
        from hetier.tracer.memory_guard import check_real_run_fits

        check_real_run_fits(graph, params, not args.no_bias_copy, profile=args.runtime_profile)
    host_memory, notes = None, []  # notes are printed after the run: an error stays one line
    if args.mode == "real":
        from hetier.host.host_preset import find_host_preset, host_preset_meta

        host_preset = find_host_preset(args.host_preset)
        try:
            if host_preset is not None:
                host_memory = host_preset_meta(host_preset)  # a preset of another host is refused before the run
        except UsageError as e:
            if args.host_preset is not None:
                raise
            notes.append(f"not using {safe(host_preset)}: {safe(e, 2000)}")
        if host_memory is None:
            notes.append("no calibrated memory preset of this host (hetier calibrate --memory); "
                         "replays will assume the FAST'20 DDR4 socket as the recording host")
    if args.mode == "plan":
        from hetier.tracer.session import plan_preflight

        warn = plan_preflight(graph, params, args.granularity, args.cost_file, not args.no_bias_copy,
                              args.max_events, args.runtime_profile).warning
        if warn:
            console.print(f"[yellow]warning: {safe(warn, 2000)}[/yellow]")
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal) as prog:
        from hetier.tracer.executor import runtime_graph

        n_layers = len(runtime_graph(graph, args.runtime_profile).nodes)
        task = prog.add_task(safe(f"{graph.name}: setup"), total=n_layers + 1)
        step = lambda j, name: prog.update(task, completed=j + 1, description=safe(f"{graph.name}: {name}"))  # noqa: E731
        if args.mode == "plan":
            res = plan_run(graph, params, out, args.granularity, args.cost_file, not args.no_bias_copy,
                           args.max_events, on_layer=step, profile=args.runtime_profile, source=source)
        else:
            res = trace_run(graph, params, out, args.granularity, seed=args.seed, bias_copy=not args.no_bias_copy,
                            on_layer=step, profile=args.runtime_profile, host_memory=host_memory, source=source)
    he = f"N={params.poly_modulus}, primes {list(params.primes)}, batch {params.batch}"
    if args.mode == "plan":
        console.print(f"wrote {safe(res.path)}: {res.events:,} planned events in {res.seconds:.1f} s ({he}); durations modelled")
    else:
        console.print(f"wrote {safe(res.path)}: {res.events:,} events in {res.seconds:.1f} s ({he}); "
                      f"max |decrypted - numpy reference| = {res.max_abs_error:.2e} (outputs up to {res.output_scale:.2f})")
    for left in source.get("left_to_client", []):
        console.print(f"note: {safe(left)} (the trace returns the logits)")
    for note in notes:
        console.print(f"[yellow]note: {note}[/yellow]")
    return 0
