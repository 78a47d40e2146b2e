"""`hetier calibrate --memory`: measure every NUMA node's bandwidth (vs threads) and idle
latency, repeated, and describe the host as device and machine presets whose source is the
measurement itself."""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import sys
from dataclasses import dataclass, field
from statistics import median
from typing import Callable

from hetier.errors import HetierError, UsageError
from hetier.host import likwid
from hetier.host.membench import how_it_ended
from hetier.host.numactl import bind_prefix, numactl_path
from hetier.host.topology import Topology

METHODS = ("auto", "likwid", "numpy")


@dataclass
class NodeMeasure:
    """All repeats of every measurement of one memory node (GB/s by thread count, ns)."""

    node: int
    cpu_node: int
    mem_bytes: int
    memory_only: bool
    read: dict[int, list[float]] = field(default_factory=dict)
    write: dict[int, list[float]] = field(default_factory=dict)
    latency_seq_ns: list[float] = field(default_factory=list)
    latency_rand_ns: list[float] = field(default_factory=list)


@dataclass
class Calibration:
    method: str  # "likwid-bench X.Y" or "numpy"
    nodes: list[NodeMeasure]
    commands: list[str]
    repeat: int
    date: str


def thread_counts(cores: int) -> list[int]:
    """1..cores on small nodes; powers of two and the core count on large ones (time bound)."""
    if cores <= 8:
        return list(range(1, cores + 1))
    return sorted({2 ** k for k in range(cores.bit_length()) if 2 ** k <= cores} | {cores})


def spread(values: list[float]) -> float:
    """(max - min) / median of repeated measurements."""
    m = median(values)
    return (max(values) - min(values)) / m if m else 0.0


def choose_method(method: str) -> str:
    if method not in METHODS:
        raise UsageError(f"method '{method}' unknown (known: {', '.join(METHODS)})")
    if method == "likwid" and likwid.likwid_path() is None:
        raise HetierError("likwid-bench is missing: install it (Debian: apt-get install -y likwid) or use --method numpy")
    if method == "auto":
        return "likwid" if likwid.likwid_path() else "numpy"
    return method


def _prefix(topo: Topology, cpu_node: int, mem_node: int) -> list[str]:
    if numactl_path() is None:
        if len(topo.nodes) > 1:
            raise HetierError("numactl is missing: install it (Debian: apt-get install -y numactl) to measure each NUMA node")
        return []
    return bind_prefix([cpu_node], membind=[mem_node])


def _numpy_child(prefix: list[str], spec: dict) -> dict:
    cmd = [*prefix, sys.executable, "-m", "hetier.host.membench", json.dumps(spec)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        last = p.stderr.strip().splitlines()[-1:] or [f"the measuring process ended without output "
                                                       f"({how_it_ended(p.returncode)})"]
        raise HetierError(f"memory measurement failed on {' '.join(prefix) or 'this node'}: {last[0]}")
    return json.loads(p.stdout)


def measure(topo: Topology, method: str = "auto", repeat: int = 3, size_mb: int = 256, latency_mb: int = 128,
            steps: int = 1_000_000, progress: Callable[[str], None] | None = None) -> Calibration:
    """Measure every node with memory; a memory-only node is driven from the first CPU node."""
    method = choose_method(method)
    if repeat < 1 or size_mb < 1 or latency_mb < 1:
        raise UsageError("--repeat, --size-mb and --latency-mb must be at least 1")
    if not topo.cpu_nodes:
        raise HetierError("no NUMA node with both CPUs and memory found")
    kernels = likwid.kernels()
    commands: list[str] = []
    nodes = []
    for n in topo.nodes:
        if n.mem_bytes <= 0:
            continue
        cpu_node = n if n.cpus else topo.cpu_nodes[0]
        threads = thread_counts(len(cpu_node.cpus))
        nm = NodeMeasure(n.id, cpu_node.id, n.mem_bytes, n.memory_only)
        prefix = _prefix(topo, cpu_node.id, n.id)
        spec = {"cpus": list(cpu_node.cpus), "threads": [] if method == "likwid" else threads,
                "bytes": size_mb * 2 ** 20, "repeat": repeat, "latency_bytes": latency_mb * 2 ** 20, "steps": steps}
        if progress:
            progress(f"node {n.id}: {method} bandwidth at {threads} threads, pointer-chase latency, {repeat} repeats")
        got = _numpy_child(prefix, spec)
        commands.append(" ".join([*prefix, "python -m hetier.host.membench", "'" + json.dumps(spec) + "'"]))
        nm.latency_seq_ns, nm.latency_rand_ns = got["latency_seq_ns"], got["latency_rand_ns"]
        if method == "numpy":
            nm.read = {int(t): v for t, v in got["read"].items()}
            nm.write = {int(t): v for t, v in got["write"].items()}
        else:
            for _ in range(repeat):
                for t in threads:
                    for kind, into in (("read", nm.read), ("write", nm.write)):
                        cmd = likwid.command(kernels[kind], cpu_node.id, n.id, t, size_mb)
                        into.setdefault(t, []).append(likwid.bandwidth_gbs(cmd))
                        if len(into[t]) == 1:
                            commands.append(" ".join(cmd))
        nodes.append(nm)
    label = f"likwid-bench {likwid.version()}" if method == "likwid" else "numpy"
    return Calibration(label, nodes, commands, repeat,
                       _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
