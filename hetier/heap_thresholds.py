"""glibc heap thresholds for hetier's own processes: reuse freed numpy arrays instead of mapping new ones.

A replay builds and drops arrays of 0.1-300 MB in every op. glibc serves an allocation above its
mmap threshold (128 KiB at start, raised on its own only up to 32 MiB, and only after such a block
is freed) with a fresh mmap and unmaps it on free, so the next op's array of that size faults every
4 KiB page in again and the kernel zeroes each one. With the threshold at 256 MiB (and the trim
threshold, the free memory glibc keeps at the heap's top, at 512 MiB) freed arrays are reused: a
fresh Memory Mode replay of the CryptoNets recording took 33,290 minor page faults instead of
83,912 and 7% less CPU (benchmarks/memory_mode_speed.py prints both), at the same peak resident
memory.

It changes the whole process's allocator, so only hetier's own processes call it (the CLI and the
sweep's pool workers), never the library on import, and not the verbs that time real work on this
host (an encrypted trace, calibrate, confirm: they run with the allocator a user's run has); a
user's MALLOC_* or GLIBC_TUNABLES settings win. See mallopt(3).
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 256 << 20  # bytes: arrays up to this come from the heap and are reused when freed
TRIM_THRESHOLD = 512 << 20  # bytes: free memory kept at the heap's top before it is given back
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>


def _glibc() -> ctypes.CDLL | None:
    """This process's C library if it is glibc (musl and others have no such thresholds)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only
        return libc
    except (OSError, AttributeError):
        return None


def malloc_setting(name: str, value: str) -> bool:
    """Whether the environment variable ``name=value`` sets any of glibc's malloc tunables
    (MALLOC_*_, or glibc.malloc.* in GLIBC_TUNABLES)."""
    return name.startswith("MALLOC_") and name.endswith("_") or name == "GLIBC_TUNABLES" and "glibc.malloc." in value


def user_chose() -> bool:
    """True if the environment sets any of glibc's malloc tunables (then hetier leaves them all alone)."""
    return any(malloc_setting(k, v) for k, v in os.environ.items())


def reuse_freed_arrays() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True if they were set."""
    libc = None if user_chose() else _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
