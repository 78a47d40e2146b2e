"""Options every verb that simulates shares, declared once: the stack profile (and its
overrides) and the runtime-profile check."""

from __future__ import annotations

import argparse


def add_stack_arguments(p: argparse.ArgumentParser, axis: bool = False) -> None:
    """``--stack`` (a list when ``axis``: one run per profile), ``--stack-set``, ``--allow-runtime-mismatch``."""
    p.add_argument("--stack", action="append" if axis else "store", default=None if axis else "hetier",
                   help="stack profile: preset (hetier, he-transformer) or .toml; how the software schedules and "
                        "pays for the trace's primitives" + ("; repeat or comma-list (one run per profile)" if axis else ""))
    p.add_argument("--stack-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a stack profile value, e.g. compute_scale=1.5")
    p.add_argument("--allow-runtime-mismatch", action="store_true",
                   help="replay a trace with a stack made for another runtime profile (noted in the results)")


def stack_of(args: argparse.Namespace):
    """The resolved stack profile of ``--stack``/``--stack-set``."""
    from hetier.simulator.stack import load_stack

    return load_stack(args.stack, args.stack_set)
