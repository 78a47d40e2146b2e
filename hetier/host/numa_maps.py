"""Resident memory of a process per NUMA node, from /proc/PID/numa_maps (pages per node on
every mapping, times the mapping's page size), sampled while it runs."""

from __future__ import annotations

import re
import threading

_NODE = re.compile(r"\bN(\d+)=(\d+)")
_PAGE = re.compile(r"\bkernelpagesize_kB=(\d+)")


def parse_numa_maps(text: str) -> dict[int, int]:
    """Bytes per node over every mapping of a numa_maps file."""
    out: dict[int, int] = {}
    for line in text.splitlines():
        m = _PAGE.search(line)
        page = int(m.group(1)) * 1024 if m else 4096
        for node, pages in _NODE.findall(line):
            out[int(node)] = out.get(int(node), 0) + int(pages) * page
    return out


def resident_by_node(pid: int) -> dict[int, int]:
    """Now; {} once the process is gone."""
    try:
        with open(f"/proc/{pid}/numa_maps") as f:
            return parse_numa_maps(f.read())
    except (OSError, ProcessLookupError):
        return {}


class PeakSampler:
    """Samples a process's per-node residency every ``interval`` s in a thread; keeps the
    sample with the largest total and each node's largest value."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval = pid, interval
        self.peak_by_node: dict[int, int] = {}
        self.peak_total = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> dict[int, int]:
        now = resident_by_node(self.pid)
        if now:
            self.samples += 1
            self.peak_total = max(self.peak_total, sum(now.values()))
            for n, b in now.items():
                self.peak_by_node[n] = max(self.peak_by_node.get(n, 0), b)
        return now

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> "PeakSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
