"""NUMA topology from sysfs: which nodes have CPUs (DRAM next to cores) and which are
memory-only (PMem in KMEM DAX mode, CXL expanders show up as NUMA nodes without CPUs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hetier.errors import HetierError

SYSFS_NODES = Path("/sys/devices/system/node")


@dataclass(frozen=True)
class Node:
    """One NUMA node: its CPUs (empty for a memory-only node) and its memory."""

    id: int
    cpus: tuple[int, ...]
    mem_bytes: int

    @property
    def memory_only(self) -> bool:
        return not self.cpus and self.mem_bytes > 0


@dataclass(frozen=True)
class Topology:
    nodes: tuple[Node, ...]

    @property
    def cpu_nodes(self) -> list[Node]:
        """Nodes with CPUs and memory: the DRAM nodes."""
        return [n for n in self.nodes if n.cpus and n.mem_bytes > 0]

    @property
    def memory_only_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.memory_only]

    def node(self, node_id: int) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise HetierError(f"NUMA node {node_id} not found (nodes: {', '.join(str(n.id) for n in self.nodes)})")

    @property
    def cpus(self) -> list[int]:
        return sorted(c for n in self.nodes for c in n.cpus)


def parse_cpulist(text: str) -> tuple[int, ...]:
    """'0-3,8,10-11' -> (0, 1, 2, 3, 8, 10, 11); '' -> ()."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return tuple(out)


def _node_mem_bytes(node_dir: Path) -> int:
    try:
        text = (node_dir / "meminfo").read_text()
    except OSError:
        return 0
    m = re.search(r"MemTotal:\s+(\d+)\s*kB", text)
    return int(m.group(1)) * 1024 if m else 0


def read_topology(root: str | Path = SYSFS_NODES) -> Topology:
    """The NUMA nodes under ``root`` (a sysfs node folder, or a fake tree in tests). A machine
    without NUMA support in its kernel has no such folder: it is one node with every CPU."""
    root = Path(root)
    dirs = sorted((d for d in root.glob("node[0-9]*") if d.is_dir()), key=lambda d: int(d.name[4:]))
    if not dirs:
        import os

        with open("/proc/meminfo") as f:
            total = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) * 1024
        return Topology((Node(0, tuple(sorted(os.sched_getaffinity(0))), total),))
    nodes = []
    for d in dirs:
        try:
            cpus = parse_cpulist((d / "cpulist").read_text())
        except OSError:
            cpus = ()
        nodes.append(Node(int(d.name[4:]), cpus, _node_mem_bytes(d)))
    return Topology(tuple(nodes))
