"""Options every verb that simulates shares, declared once: the stack profile (and its
overrides), the runtime-profile check and what decides fit."""

from __future__ import annotations

import argparse


def add_scenario_arguments(p: argparse.ArgumentParser, axis: bool = False) -> None:
    """``--stack`` (a list when ``axis``: one run per profile), ``--stack-set``, ``--allow-runtime-mismatch``,
    ``--fit-by``."""
    p.add_argument("--stack", action="append" if axis else "store", default=None if axis else "hetier",
                   help="stack profile: preset (hetier, he-transformer) or .toml; how the software schedules and "
                        "pays for the trace's primitives" + ("; repeat or comma-list (one run per profile)" if axis else ""))
    p.add_argument("--stack-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a stack profile value, e.g. compute_scale=1.5")
    p.add_argument("--allow-runtime-mismatch", action="store_true",
                   help="replay a trace with a stack made for another runtime profile (noted in the results)")
    p.add_argument("--fit-by", choices=("resident", "live"), default="resident",
                   help="what decides fit: memory needed (SEAL's pool, host memory and the runtime: what the process "
                        "holds; the default) or the live peak alone (optimistic)")


def stack_of(args: argparse.Namespace):
    """The resolved stack profile of ``--stack``/``--stack-set``."""
    from hetier.simulator.stack import load_stack

    return load_stack(args.stack, args.stack_set)
