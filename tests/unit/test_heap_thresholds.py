"""hetier's own processes keep freed numpy arrays in glibc's heap; the library alone and users' settings do not."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from hetier import heap_thresholds

GLIBC = heap_thresholds._glibc() is not None and hasattr(ctypes.CDLL(None), "mallinfo2")
pytestmark = pytest.mark.skipif(not GLIBC, reason="glibc >= 2.33 (mallinfo2) only")

# In a fresh process: optionally a set-up call, then a 64 MiB array; prints the bytes glibc holds in
# mmapped blocks (mallinfo2's hblkhd) while the array lives, and the set-up call's answer.
PROBE = """
import ctypes, sys
import numpy as np
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                              "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
answer = None
{setup}
a = np.ones(64 << 20, dtype=np.uint8)
print(libc.mallinfo2().hblkhd, answer)
"""


def probe(setup: str, **env: str) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not heap_thresholds.malloc_setting(k, v)}
    out = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)], env={**base, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), out[1]


def test_without_the_call_a_large_array_is_mmapped():
    mapped, _ = probe("")
    assert mapped >= 64 << 20


def test_the_call_keeps_large_arrays_in_the_heap():
    mapped, answer = probe("from hetier.heap_thresholds import reuse_freed_arrays; answer = reuse_freed_arrays()")
    assert answer == "True"
    assert mapped < 64 << 20


def test_a_sweep_worker_sets_it_up_as_the_cli_does():
    mapped, _ = probe("import os; from hetier.simulator.sweep_runner import start_worker; start_worker(os.getppid())")
    assert mapped < 64 << 20


@pytest.mark.parametrize("env", [{"MALLOC_MMAP_THRESHOLD_": "131072"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}])
def test_a_users_own_malloc_settings_win(env):
    mapped, answer = probe("from hetier.heap_thresholds import reuse_freed_arrays; answer = reuse_freed_arrays()", **env)
    assert answer == "False"
    assert mapped >= 64 << 20


def test_the_cli_sets_it_before_running_a_verb(monkeypatch, capsys):
    from hetier.cli import main as cli

    calls = []
    monkeypatch.setattr(cli, "reuse_freed_arrays", lambda: calls.append(1) or True)
    assert cli.main(["machines"]) == 0
    assert calls == [1]


def test_an_encrypted_trace_keeps_the_systems_allocator(monkeypatch, tmp_path, capsys):
    from hetier.cli import main as cli

    calls = []
    monkeypatch.setattr(cli, "reuse_freed_arrays", lambda: calls.append(1) or True)
    assert cli.main(["trace", "no-such-model", "-o", str(tmp_path / "x.arrow")]) != 0  # the verb ran, and refused
    assert "no-such-model" in capsys.readouterr().err
    assert calls == []


@pytest.mark.parametrize("argv, timed", [
    (["trace", "lenet", "-o", "x"], True),
    (["trace", "lenet", "--mode", "plan", "-o", "x"], False),  # a plan times nothing: hetier's own work
    (["calibrate", "--he", "-o", "x"], True),
    (["confirm", "t.arrow", "--machine", "m.toml", "--policy", "all-dram", "-o", "x"], True),
    (["replay", "t.arrow", "--machine", "optane-memory-mode"], False),
    (["sweep", "t.arrow", "--machine", "optane-memory-mode", "-o", "x"], False),
])
def test_which_verbs_time_this_host(argv, timed):
    from hetier.cli import main as cli

    assert cli.times_this_host(cli.build_parser().parse_args(argv)) is timed


def test_importing_the_library_leaves_the_allocator_alone():
    mapped, _ = probe("import hetier.api, hetier.simulator.scenario, hetier.simulator.memory_mode")
    assert mapped >= 64 << 20
