"""Linux memory tiering on this host: whether it is on (the two settings it needs, read, never
written) and what the kernel counted (/proc/vmstat). Roots are arguments, so tests use fake trees."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")
SYS = Path("/sys")
# (what a message names, path under its root, is it on?, the value it needs)
SETTINGS = (
    ("sysctl kernel.numa_balancing", ("proc", "sys/kernel/numa_balancing"), lambda v: v.isdigit() and int(v) & 2, "2"),
    ("/sys/kernel/mm/numa/demotion_enabled", ("sys", "kernel/mm/numa/demotion_enabled"),
     lambda v: v.lower() in ("true", "1", "y"), "true"),
)
# the kernel's tiering counters (mm/vmstat.c), in pages or events
VMSTAT_KEYS = ("pgpromote_success", "pgpromote_candidate", "pgdemote_kswapd", "pgdemote_direct", "numa_hint_faults",
               "numa_pages_migrated")


def tiering_refusal(proc_root: str | Path = PROC, sys_root: str | Path = SYS) -> str | None:
    """One line naming the first setting Linux tiering needs that is not set (and its value), or
    None when both are; hetier never sets them."""
    roots = {"proc": Path(proc_root), "sys": Path(sys_root)}
    for name, (root, rel), ok, want in SETTINGS:
        try:
            value = (roots[root] / rel).read_text().strip()
        except OSError:
            return f"Linux tiering needs {name} = {want}, and this kernel has no {roots[root] / rel} (Linux >= 6.1)"
        if not ok(value):
            return (f"Linux tiering needs {name} = {want} (it is {value}); hetier does not change kernel settings: "
                    f"set it yourself to confirm with --policy linux-tiering")
    return None


def read_vmstat(proc_root: str | Path = PROC) -> dict[str, int]:
    """The tiering counters of /proc/vmstat (0 for a counter this kernel lacks)."""
    out = dict.fromkeys(VMSTAT_KEYS, 0)
    for line in (Path(proc_root) / "vmstat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key in out and value.strip().isdigit():
            out[key] = int(value)
    return out


def vmstat_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What the kernel counted between two reads (machine-wide: other processes count too)."""
    return {k: after[k] - before[k] for k in VMSTAT_KEYS}
