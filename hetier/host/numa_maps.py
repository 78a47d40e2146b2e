"""Resident memory of a process per NUMA node, from /proc/PID/numa_maps (pages per node on
every mapping, times the mapping's page size), sampled while it runs."""

from __future__ import annotations

import re
import threading
import time

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
    """Samples a process's per-node residency in a thread, every ``interval`` s or less often:
    reading numa_maps walks the process's page tables (tens of ms for a few GB), so the wait
    after a sample is at least that sample's duration x (1 - budget) / budget, keeping the
    sampler's share of a core near ``budget`` (a 0.1 s interval on a 5.8 GB re-run took 7.5 min of
    system CPU in 54 min, competing with the run it measures). Keeps the sample with the largest
    total and each node's largest value."""

    def __init__(self, pid: int, interval: float = 0.1, budget: float = 0.05, read=None, clock=time.perf_counter):
        self.pid, self.interval, self.budget = pid, interval, budget
        self._read, self._clock = read or resident_by_node, clock
        self.peak_by_node: dict[int, int] = {}
        self.peak_total = 0
        self.samples = 0
        self.sampling_s = 0.0  # time spent reading numa_maps
        self.wait = interval  # the wait after the last sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> dict[int, int]:
        t0 = self._clock()
        now = self._read(self.pid)
        took = max(self._clock() - t0, 0.0)
        self.sampling_s += took
        self.wait = max(self.interval, took * (1 - self.budget) / self.budget)
        if now:
            self.samples += 1
            self.peak_total = max(self.peak_total, sum(now.values()))
            for n, b in now.items():
                self.peak_by_node[n] = max(self.peak_by_node.get(n, 0), b)
        return now

    def _loop(self) -> None:
        while not self._stop.wait(self.wait):
            self.sample()

    def start(self) -> "PeakSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
