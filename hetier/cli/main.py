"""`hetier` entry point: one module per verb; errors print one line, tracebacks only with --debug."""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from hetier.version import __version__
from hetier.atomic import refuse_output_over_input
from hetier.errors import HetierError
from hetier.heap_thresholds import reuse_freed_arrays
from hetier.terminal import plain

VERBS = ("trace", "info", "check", "replay", "sweep", "advise", "machines", "report", "export", "calibrate", "fit",
         "confirm", "export-model")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hetier", description="Memory placement for HE inference.")
    p.add_argument("--version", action="version", version=f"hetier {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        mod = import_module(f"hetier.cli.{verb.replace('-', '_')}")
        # the docstring as written: its example commands stay one to a line
        summary = " ".join(mod.__doc__.split("\n\n")[0].split())  # the first paragraph, not its first line
        sp = sub.add_parser(verb, help=summary, description=mod.__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
        mod.add_arguments(sp)
        sp.set_defaults(run=mod.run)
    return p


def times_this_host(args: argparse.Namespace) -> bool:
    """True for the verbs that time real work on this host (an encrypted run, a calibration, a
    confirmation): they keep the system's allocator settings, the ones a user's own run has."""
    return args.verb in ("calibrate", "confirm") or (args.verb == "trace" and args.mode == "real")


OUTPUTS = {"advise": ("output", "advice")}  # per verb, the options that name files it writes (default: -o)


def path_candidates(value) -> list[str]:
    """Paths an option value may name: itself, each comma-separated part, and what follows a
    ``NAME=`` or ``kind:`` prefix (``--machine a=m.toml,b=n.toml``, ``--policy placement:p.json``),
    for strings and lists of them."""
    if isinstance(value, (list, tuple)):
        return [c for v in value for c in path_candidates(v)]
    if not isinstance(value, str) or not value:
        return []
    parts = [value, *value.split(",")] if "," in value else [value]
    return [c for p in parts for c in (p, *(p.split(sep, 1)[1] for sep in ("=", ":") if sep in p))]


def keep_inputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that is one of the command's input files."""
    outs = OUTPUTS.get(args.verb, ("output",))
    inputs = [c for k, v in vars(args).items() if k not in outs for c in path_candidates(v)]
    for k in outs:
        if getattr(args, k, None):
            refuse_output_over_input(getattr(args, k), inputs)


def main(argv: list[str] | None = None) -> int:
    """Run a verb; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not times_this_host(args):
        reuse_freed_arrays()  # this process is hetier's own: its allocator may keep freed arrays for reuse
    try:
        keep_inputs(args)
        return int(args.run(args) or 0)
    except HetierError as e:
        if args.debug:
            raise
        print(f"hetier {args.verb}: {plain(e, 2000)}", file=sys.stderr)
        return getattr(e, "exit_code", 1)
    except OSError as e:  # a file the verb reads or writes: missing, a folder, no space left, ...
        if args.debug:
            raise
        where = f" '{plain(e.filename)}'" if e.filename else ""
        print(f"hetier {args.verb}: cannot use{where}: {plain(e.strerror or e)}", file=sys.stderr)
        return 1
    except MemoryError:
        if args.debug:
            raise
        print(f"hetier {args.verb}: out of memory", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hetier {args.verb}: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    sys.exit(main())
