"""Streaming bandwidth with likwid-bench (Debian package ``likwid``), where it is installed.

Read = the ``load`` kernel, write = the ``store`` kernel (ordinary stores, as SEAL's writes;
likwid counts the bytes stored), AVX versions where the CPU has AVX. likwid-bench pins its
threads itself (-w DOMAIN:SIZE:THREADS); ``-0:Mn`` places the stream on NUMA node n.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from hetier.errors import HetierError

MIN_SECONDS = "0.3"  # likwid-bench -s: minimal runtime of one measurement


def likwid_path() -> str | None:
    return shutil.which("likwid-bench")


def kernels(cpuinfo: str = "/proc/cpuinfo") -> dict[str, str]:
    try:
        with open(cpuinfo) as f:
            avx = " avx " in f.read().replace("\n", " ")
    except OSError:
        avx = False
    suffix = "_avx" if avx else ""
    return {"read": f"load{suffix}", "write": f"store{suffix}"}


def command(kernel: str, cpu_node: int, mem_node: int, threads: int, mbytes: int) -> list[str]:
    w = f"M{cpu_node}:{mbytes}MB:{threads}"
    if mem_node != cpu_node:
        w += f"-0:M{mem_node}"
    return [likwid_path() or "likwid-bench", "-t", kernel, "-w", w, "-s", MIN_SECONDS]


def parse_mbytes_per_s(output: str) -> float:
    m = re.search(r"^MByte/s:\s+([0-9.]+)", output, re.M)
    if m is None:
        raise HetierError(f"likwid-bench printed no MByte/s line: {output.strip().splitlines()[-1:] or ['(nothing)']}")
    return float(m.group(1))


def bandwidth_gbs(cmd: list[str]) -> float:
    """Run one likwid-bench command; GB/s."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise HetierError(f"likwid-bench failed ({' '.join(cmd)}): {last[0]}")
    return parse_mbytes_per_s(p.stdout) / 1e3


def version() -> str:
    p = subprocess.run([likwid_path() or "likwid-bench", "-h"], capture_output=True, text=True)
    m = re.search(r"Version\s+([0-9.]+)", p.stdout + p.stderr)
    return m.group(1) if m else "unknown"
