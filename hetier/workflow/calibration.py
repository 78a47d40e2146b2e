"""`hetier calibrate` and `hetier.calibrate` / `hetier.calibrate_memory`: measure this machine's HE
primitive costs (a cost file for plan mode and confirm) or its memory (machine and device presets
for traces and confirm). The command prints the outcome; the Python API returns it.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from hetier.errors import UsageError

# Wall seconds of timing rounds per parameter set: on a shared or virtual machine a core's speed
# swings ~2x in spells of seconds (measured here: a multiply-accumulate 110-240 us within a
# minute); a minute of interleaved rounds holds the mix a run of minutes sees.
DEFAULT_SECONDS = 60.0
# The parameter sets the runtime picks for the shipped models (tracer/session.py choose_params)
DEFAULT_SETS = ("4096:30,22,22,30:16", "4096:30,22,22,30:2048", "4096:30,22,30:8", "8192:30,22,22,22,30:8",
                "8192:30,22,22,22,22,30:8", "8192:30,22,22,22,22,22,30:64")


def parse_params(spec: str):
    """``N:PRIMES:BATCH`` (``4096:30,22,22,30:2048``) as HE parameters, or a one-line refusal."""
    from hetier.tracer.params import HEParams

    try:
        n, primes, batch = spec.split(":")
        return HEParams(int(n), tuple(int(x) for x in primes.split(",")), 22, int(batch))
    except ValueError:
        raise UsageError(f"parameter set '{spec}' must look like N:PRIMES:BATCH, e.g. 4096:30,22,22,30:2048") from None


def calibrate_he(output: str | os.PathLike, params: Sequence = (), reps: int = 100, force: bool = False,
                 progress: Callable[[str], None] | None = None, seconds: float = DEFAULT_SECONDS) -> dict:
    """Time every HE primitive template per level for each parameter set (``N:PRIMES:BATCH``
    texts or ``HEParams``; default: the sets the shipped models use), each for ``seconds`` of
    wall time at least, and write the cost file; returns its document."""
    from hetier.atomic import check_output
    from hetier.tracer.costs import calibrate
    from hetier.validation import CALIBRATE_OPTIONS, check_options

    check_options({"--reps": reps, "--seconds": seconds}, CALIBRATE_OPTIONS)
    out = check_output(output, force)
    sets = [parse_params(p) if isinstance(p, str) else p for p in (params or DEFAULT_SETS)]
    return calibrate(sets, out, reps, progress=progress, seconds=seconds)


@dataclass
class MemoryCalibration:
    """What ``calibrate_memory`` measured (``calibration``: per node, per thread count, the
    repeats) and the presets it wrote: the machine (``machine_path``) and a device per node."""

    name: str
    calibration: object  # hetier.host.calibrate_memory.Calibration
    machine_path: Path
    device_paths: dict[int, Path]


def calibrate_memory(output: str | os.PathLike | None = None, method: str = "auto", repeat: int = 3,
                     size_mb: int = 256, force: bool = False, progress: Callable[[str], None] | None = None,
                     command: str = "hetier calibrate --memory") -> MemoryCalibration:
    """Measure each NUMA node's bandwidth and latency and write this host's machine preset to
    ``output`` (default: ``~/.config/hetier/host-memory.toml``, where ``trace`` looks for it)
    and a device preset per node beside it (``NAME-nodeN.toml``)."""
    from hetier.atomic import check_output, write_bytes_atomic
    from hetier.host.calibrate_memory import measure
    from hetier.host.memory_preset import default_host_preset, device_toml, llc_mb, machine_toml
    from hetier.host.topology import read_topology
    from hetier.validation import CALIBRATE_OPTIONS, check_options

    check_options({"--size-mb": size_mb, "--repeat": repeat}, CALIBRATE_OPTIONS)
    out = check_output(output or default_host_preset(), force)
    topo = read_topology()
    dev_paths = {n.id: out.with_name(f"{out.stem}-node{n.id}.toml") for n in topo.nodes if n.mem_bytes > 0}
    for p in dev_paths.values():
        check_output(p, force)
    cal = measure(topo, method, repeat, size_mb, progress=progress)
    name = f"host-{platform.node() or 'this'}"
    for nm in cal.nodes:
        write_bytes_atomic(dev_paths[nm.node], device_toml(nm, cal, f"{name}-node{nm.node}", command).encode())
    dram = next(n for n in cal.nodes if not n.memory_only)
    write_bytes_atomic(out, machine_toml(cal, name, command, len(topo.node(dram.node).cpus), llc_mb()).encode())
    return MemoryCalibration(name, cal, out, dev_paths)
