"""A DRAM cache replay whose op would not fit this host's memory is refused in one line, naming
the simulation block that would fit, instead of being killed by the out-of-memory killer (a 386 GB
plan replayed on optane-memory-mode's 4 KiB blocks grew past 17 GB and was killed with no message)."""

import numpy as np
import pytest

from hetier.errors import UsageError
from hetier.simulator import memory_mode
from hetier.simulator.memory_mode import MemoryModeCache
from tests.cli.test_sweep import TRACE
from tests.helpers import run_cli


def _cache_with_tensor(blocks: int, block: int = 4096) -> MemoryModeCache:
    c = MemoryModeCache(1 << 30, block)
    c.alloc(7, blocks, block)
    return c


def test_an_op_too_large_for_the_host_is_refused_with_a_block_that_fits(monkeypatch):
    monkeypatch.setattr(memory_mode, "GUARD_FROM", 0)
    monkeypatch.setattr(memory_mode, "available_memory_bytes", lambda: 1_000_000)
    c = _cache_with_tensor(10_000)
    # one pass of reads and one of writes: 20,000 touches, 6 MB against 1 MB available
    with pytest.raises(UsageError) as e:
        c.op_traffic(np.array([7, 7]), np.array([False, True]), np.array([10_000 * 4096.0] * 2))
    msg = str(e.value)
    assert "one op touches 20,000 simulation blocks of 4,096 B" in msg and "about 0.0 GB" in msg
    # the suggested block keeps the lookup within half of it: 2 x 20,000 x 300 B x 4096 / fit <= 1 MB, fit = 64 KiB
    assert msg.endswith("--set machine.cache_block_bytes=65536)") and "\n" not in msg


def test_ops_below_the_guard_never_read_the_hosts_memory(monkeypatch):
    def unreadable():
        raise AssertionError("read /proc for a small op")
    monkeypatch.setattr(memory_mode, "available_memory_bytes", unreadable)
    c = _cache_with_tensor(100)
    out = c.op_traffic(np.array([7]), np.array([False]), np.array([100 * 4096.0]))
    assert out.pmem_read > 0  # a cold cache: every block read from the backing tier


def test_an_op_that_fits_runs_when_the_host_has_room(monkeypatch):
    monkeypatch.setattr(memory_mode, "GUARD_FROM", 0)
    monkeypatch.setattr(memory_mode, "available_memory_bytes", lambda: 1 << 40)
    c = _cache_with_tensor(100)
    assert c.op_traffic(np.array([7]), np.array([False]), np.array([100 * 4096.0])).pmem_read > 0


def test_the_cli_refuses_in_one_line_and_writes_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(memory_mode, "GUARD_FROM", 0)
    monkeypatch.setattr(memory_mode, "available_memory_bytes", lambda: 1000)
    out = tmp_path / "r.arrow"
    code, _, err = run_cli(["replay", TRACE, "--machine", "optane-memory-mode", "-o", str(out)], capsys)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "DRAM cache replay: one op touches" in err and "more than the 0.0 GB available here" in err
    assert not out.exists()


def test_an_address_space_limit_lowers_the_memory_available():
    """Under `ulimit -v` an allocation fails past the limit however much the machine has free: the
    guards compare against the room under it (a Memory Mode replay of 64-byte blocks ended in a bare
    'out of memory' under a 6 GB limit instead of the guard's message)."""
    import resource
    import subprocess
    import sys

    limit = 3 << 30

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    out = subprocess.run([sys.executable, "-c", "from hetier.available_memory import available_memory_bytes as a; "
                          "print(a())"], capture_output=True, text=True, preexec_fn=cap, check=True).stdout
    assert 0 < int(out) < limit
