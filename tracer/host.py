"""Facts about the recording host and software, for the trace metadata."""

from __future__ import annotations

import glob
import os
import platform
import sys
from importlib import metadata


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def host_info() -> dict:
    nodes = sorted(glob.glob("/sys/devices/system/node/node[0-9]*"))
    return {
        "hostname": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": _mem_bytes(),
        "numa_nodes": max(1, len(nodes)),
        "os": platform.platform(),
    }


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for pkg in ("hetier", "tenseal", "pyarrow", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["seal"] = "bundled with tenseal" if out.get("tenseal") else None
    return out
