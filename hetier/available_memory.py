"""How much memory this machine can still give a process: what the memory guards of a real run
(tracer/memory_guard.py) and of a Memory Mode replay (simulator/memory_mode.py) compare against,
so that a run too large for this host is refused in one line instead of being killed by the
kernel's out-of-memory killer (Linux overcommits: numpy's allocation succeeds, the touch kills)."""

from __future__ import annotations


def available_memory_bytes() -> int | None:
    """MemAvailable, lowered to the cgroup's limit minus its usage when one is set; None if unknown."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        if limit != "max":
            room = int(limit) - used
            avail = room if avail is None else min(avail, room)
    except (OSError, ValueError):
        pass
    return avail
