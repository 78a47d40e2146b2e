"""How much memory this machine can still give a process: what the memory guards of a real run
(tracer/memory_guard.py) and of a Memory Mode replay (simulator/memory_mode.py) compare against,
so that a run too large for this host is refused in one line instead of being killed by the
kernel's out-of-memory killer (Linux overcommits: numpy's allocation succeeds, the touch kills)."""

from __future__ import annotations


def _address_space_room() -> int | None:
    """Room under this process's address-space limit (RLIMIT_AS, `ulimit -v`): the limit minus the
    virtual size it has mapped (VmSize); None without a limit. Past it an allocation fails with
    MemoryError however much memory the machine has free."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return max(0, limit - int(line.split()[1]) * 1024)
    except (ImportError, OSError, ValueError):
        pass
    return None


def available_memory_bytes() -> int | None:
    """MemAvailable, lowered to the cgroup's limit minus its usage when one is set and to the room
    under the process's address-space limit; None if unknown."""
    bounds = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    bounds.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        if limit != "max":
            bounds.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    room = _address_space_room()
    if room is not None:
        bounds.append(room)
    return min(bounds, default=None)
