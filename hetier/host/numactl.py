"""numactl command lines: the NUMA binding a measurement or a confirmation run asks for."""

from __future__ import annotations

import shutil

from hetier.errors import HetierError


def numactl_path() -> str | None:
    return shutil.which("numactl")


def require_numactl() -> str:
    """The numactl binary, or a one-line error saying how to get it."""
    path = numactl_path()
    if path is None:
        raise HetierError("numactl is missing: install it (Debian: apt-get install -y numactl)")
    return path


def _nodes(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def bind_prefix(cpu_nodes: list[int], membind: list[int] | None = None, preferred: int | None = None,
                interleave: list[int] | None = None) -> list[str]:
    """``numactl --cpunodebind=... <memory option>`` for exactly one memory option (or none)."""
    args = [require_numactl(), f"--cpunodebind={_nodes(cpu_nodes)}"]
    if membind is not None:
        args.append(f"--membind={_nodes(membind)}")
    elif preferred is not None:
        args.append(f"--preferred={preferred}")
    elif interleave is not None:
        args.append(f"--interleave={_nodes(interleave)}")
    return args
