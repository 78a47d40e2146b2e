"""Memory needed: the one figure that decides whether a workload fits a machine.

A process running a trace holds more than its live bytes: SEAL's pool keeps every block it ever
grew (per size class, in batches: ``formats/seal_pool``), the runtime's host memory (unpacked
constants) is live besides, and the runtime itself (interpreter, libraries, executor) takes memory
of its own, a stack profile's ``process_bytes``. Memory needed = the trace's resident peak (pool +
host) + ``process_bytes``; live and resident bytes are its breakdown. ``fit_by = "live"`` judges
on the live peak alone (the optimistic figure, for users who want it).

Per tier, a placement is checked on its live bytes scaled by memory needed / live peak: the
pool's extra and the runtime's own bytes are taken to sit with the live bytes in proportion. That
is exact for a placement in one tier (all-DRAM, all-CXL) and an approximation for split ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from hetier.simulator.stack import StackProfile
from hetier.simulator.workload import Workload

FIT_BY = ("resident", "live")


@dataclass(frozen=True)
class MemoryNeeded:
    """Memory a workload needs under a stack, and what it is made of."""

    live_peak_bytes: int
    resident_peak_bytes: int  # pool + host memory at its peak
    process_bytes: int  # the runtime's own memory (stack profile)
    fit_by: str = "resident"

    @property
    def total_bytes(self) -> int:
        """The figure that decides fit."""
        if self.fit_by == "live":
            return self.live_peak_bytes
        return max(self.resident_peak_bytes, self.live_peak_bytes) + self.process_bytes

    @property
    def scale(self) -> float:
        """Bytes needed per live byte: what a tier's live bytes are multiplied by to check fit."""
        return self.total_bytes / self.live_peak_bytes if self.live_peak_bytes else 1.0

    def to_dict(self) -> dict:
        return {"total_bytes": self.total_bytes, "live_peak_bytes": self.live_peak_bytes,
                "resident_peak_bytes": self.resident_peak_bytes, "process_bytes": self.process_bytes,
                "fit_by": self.fit_by}

    def sentence(self) -> str:
        """'memory needed 76.22 GB (live 63.42 GB, pool and host 76.22 GB, runtime 0.54 GB)'."""
        if self.fit_by == "live":
            return f"live peak {self.live_peak_bytes / 1e9:,.2f} GB (judged on live bytes: --fit-by live)"
        return (f"memory needed {self.total_bytes / 1e9:,.2f} GB (live {self.live_peak_bytes / 1e9:,.2f} GB, "
                f"pool and host {self.resident_peak_bytes / 1e9:,.2f} GB, runtime {self.process_bytes / 1e9:,.2f} GB)")


def memory_needed(workload: Workload, stack: StackProfile, fit_by: str = "resident") -> MemoryNeeded:
    return MemoryNeeded(workload.live_peak_bytes, workload.resident_peak_bytes, int(stack.process_bytes), fit_by)
