"""What else a flat two-tier machine could run as: the same DRAM and CXL under Linux tiering (the
kernel's defaults, and a tuned promote rate limit) and under Flat Memory Mode, each with what
deploying it takes (the ``deploy`` data of its memory system).

Flat Memory Mode needs DRAM and CXL at 1:1: when the machine's CXL is larger, its twin keeps
the DRAM and uses as much CXL as DRAM (the rest is not addressable in that mode), and says so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hetier.simulator.machine import Machine
from hetier.simulator.memory_systems import memory_system_for
from hetier.simulator.memory_systems.flat_memory_mode import FlatMemoryMode
from hetier.simulator.memory_systems.linux_tiering import LinuxTiering

TUNED_SHARE = 0.1  # tuned rate limit: promotions take at most 10% of the lower tier's read bandwidth


@dataclass(frozen=True)
class Alternative:
    """One way to run the machine's devices: the machine in that mode, the policy spec, and what
    it needs (kernel, settings, BIOS, code) plus a note on how it differs from the machine."""

    name: str
    machine: Machine
    policy: str | None
    needs: dict[str, str]
    note: str = ""


def tuned_rate_limit_mbps(machine: Machine) -> int:
    """A promote rate limit at TUNED_SHARE of the lower tier's peak read bandwidth, in MB/s."""
    slow = machine.tiers[-1][1]
    peak = max(b for _, b in slow.read_curve)  # GB/s
    return max(1, int(peak * 1e9 * TUNED_SHARE / 2 ** 20))


def tiering_alternatives(machine: Machine) -> list[Alternative]:
    """Linux tiering (default, tuned) and Flat Memory Mode twins of a flat two-tier machine;
    empty for any other machine."""
    if not memory_system_for(machine).takes_policy or len(machine.tiers) != 2:
        return []
    lt = dataclasses.replace(machine, mode=LinuxTiering.mode, name=f"{machine.name} as linux-tiering")
    rate = tuned_rate_limit_mbps(machine)
    out = [Alternative("linux-tiering", lt, None, dict(LinuxTiering.deploy)),
           Alternative(f"linux-tiering (rate limit {rate} MB/s)", lt,
                       f"linux-tiering:numa_balancing_promote_rate_limit_MBps={rate}",
                       {**LinuxTiering.deploy, "settings": LinuxTiering.deploy["settings"]
                        + f"; sysctl kernel.numa_balancing_promote_rate_limit_MBps={rate}"},
                       f"rate limit at {TUNED_SHARE:.0%} of the CXL tier's peak read bandwidth")]
    (fast, fd), (slow, sd) = machine.tiers
    note = ""
    if abs(sd.capacity_bytes - fd.capacity_bytes) > 0.01 * fd.capacity_bytes:
        note = (f"CXL used at 1:1 ({fd.capacity_bytes / 1e9:,.1f} GB of its {sd.capacity_bytes / 1e9:,.1f} GB), "
                "as Flat Memory Mode requires")
        sd = dataclasses.replace(sd, capacity_bytes=fd.capacity_bytes)
    fmm = dataclasses.replace(machine, mode=FlatMemoryMode.mode, name=f"{machine.name} as flat-memory-mode",
                              tiers=((fast, fd), (slow, sd)))
    out.append(Alternative("flat-memory-mode", fmm, None, dict(FlatMemoryMode.deploy), note))
    return out
