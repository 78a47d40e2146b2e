"""The contract between the engine and how a machine organises its memory.

A memory system is built for one run: a machine, the placement policy it was asked for and a
seed. The engine calls ``place`` once (where every allocation lives, whether the run fits, live
bytes per tier), then ``op_traffic`` for each op in recorded order with the op's access rows after
the CPU cache, and reads ``statistics`` at the end. It never asks which system it has: flat tiers
under a placement policy and a hardware DRAM cache answer the same three calls. Implementations
register under the machine preset's ``mode`` (``mode = "flat"`` in a machine TOML file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from hetier.errors import UsageError

if TYPE_CHECKING:
    from hetier.simulator.machine import Machine
    from hetier.simulator.placement import Placement
    from hetier.simulator.stack import StackProfile
    from hetier.simulator.workload import Op, Workload

MEMORY_SYSTEMS: dict[str, type["MemorySystem"]] = {}


@dataclass
class OpTraffic:
    """What one op moves through the memory system: bytes read and written per tier, and latency
    the op's threads wait on top of the transfers (shared by its slices, charged to the last
    tier's stall); apart, what its serial part reads (the op's last ``serial_rows`` access rows,
    run after the others on one thread) and waits."""

    read: dict[str, float]
    write: dict[str, float]
    latency_ns: float = 0.0
    serial_read: dict[str, float] = field(default_factory=dict)
    serial_latency_ns: float = 0.0


class MemorySystem:
    """Base of every memory system; subclasses set ``mode`` and implement the three calls."""

    mode: ClassVar[str] = ""  # the machine preset's `mode` value this class implements
    takes_policy: ClassVar[bool] = True  # False: the hardware or the OS decides where bytes live
    run_label: ClassVar[str] = ""  # the policy column of runs on a system that takes no policy
    cache_tier: ClassVar[bool] = False  # True: the first tier caches the others (its bytes are not capacity)
    title: ClassVar[str] = ""  # what messages call it ("Memory Mode")
    description: ClassVar[str] = ""
    # what deploying it takes, for the advisor: "kernel", "settings" (sysctls), "bios", "code"
    deploy: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.mode:
            MEMORY_SYSTEMS[cls.mode] = cls

    def __init__(self, machine: "Machine", policy: str | None = None, seed: int = 0,
                 stack: "StackProfile | None" = None, threads: int = 1):
        self.machine = machine
        self.tiers = machine.tier_names
        self.seed = seed
        self.stack = stack  # how the software runs the ops (a cache model asks which ops stream their stores)
        self.threads = threads

    @classmethod
    def check_machine(cls, machine: "Machine", where: str) -> None:
        """Refuse, in one line naming ``where``, a machine this system cannot organise."""

    @classmethod
    def check_policy(cls, machine: "Machine", policy: str | None) -> None:
        """Refuse, in one line, a placement policy this system cannot take on ``machine``."""
        if not cls.takes_policy and policy not in (None, cls.run_label):
            raise UsageError(f"machine '{machine.name}' is in {cls.title}: it takes no placement policy "
                             f"(got '{policy}')")

    @property
    def label(self) -> str:
        """The policy column of this run's results."""
        return self.run_label

    @classmethod
    def capacity_bytes(cls, machine: "Machine") -> int:
        """The bytes a process can hold on ``machine`` (a cache's tier adds none)."""
        tiers = machine.tiers[1:] if cls.cache_tier else machine.tiers
        return sum(d.capacity_bytes for _, d in tiers)

    def place(self, workload: "Workload", threads: int, scale: float = 1.0) -> "Placement":
        """Where every allocation lives; live bytes count ``scale`` times toward capacity."""
        raise NotImplementedError

    def op_traffic(self, op: "Op", traffic: np.ndarray) -> OpTraffic:
        """Per-tier bytes of ``op``'s access rows (``traffic``: bytes of each row after the CPU cache);
        its last ``op.serial_rows`` rows are its serial part's reads, which run after the others on
        one thread: their bytes go to ``serial_read``, not ``read``."""
        raise NotImplementedError

    def statistics(self) -> dict:
        """What this system measured over the run, as results fields (e.g. a cache's hit ratio)."""
        return {}

    def layer_columns(self) -> dict[str, list[float]]:
        """Per-op columns for the results' layer rows (e.g. bytes moved into and out of the first
        tier at each op: results.MOVE_COLUMNS); none by default."""
        return {}


def memory_system_for(machine: "Machine") -> type[MemorySystem]:
    """The memory system class of a machine's mode."""
    try:
        return MEMORY_SYSTEMS[machine.mode]
    except KeyError:
        raise UsageError(f"machine '{machine.name}': mode '{machine.mode}' unknown "
                         f"(known: {', '.join(sorted(MEMORY_SYSTEMS))})") from None
