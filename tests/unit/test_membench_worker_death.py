"""calibrate --memory when a measuring process dies: the parent fails in one line naming how it
ended (signal or exit code) instead of waiting forever on a result that never comes."""

import multiprocessing as mp
import os
import signal

import pytest

from hetier.errors import HetierError
from hetier.host import membench
from hetier.host.calibrate_memory import _numpy_child

REAL_WORKER = membench._bandwidth_worker
SPEC = {"cpus": [min(os.sched_getaffinity(0))], "threads": [1], "bytes": 1 << 20, "repeat": 1,
        "latency_bytes": 1 << 16, "steps": 1000}


def _one_worker_killed(cpu, nbytes, write, passes, barrier, out):
    """Worker -1 is killed the way the OOM killer would; the others measure (and so wait at the
    barrier for it)."""
    if cpu == -1:
        os.kill(os.getpid(), signal.SIGKILL)
    REAL_WORKER(min(os.sched_getaffinity(0)), nbytes, write, passes, barrier, out)


def test_a_killed_bandwidth_worker_fails_the_measurement_and_ends_the_others(monkeypatch):
    monkeypatch.setattr(membench, "_bandwidth_worker", _one_worker_killed)  # fork: the children run it too
    with pytest.raises(membench.WorkerDied, match=r"^bandwidth worker 1 of 2 ended without a result "
                                                  r"\(killed by signal 9 \(SIGKILL\)\)$"):
        membench.bandwidth_gbs([min(os.sched_getaffinity(0)), -1], 2, 1 << 20, write=False, passes=1)
    assert mp.active_children() == []  # worker 0, left waiting at the barrier, was ended and reaped


def _exits_without_result(cpu, nbytes, write, passes, barrier, out):
    os._exit(0)


def test_workers_that_exit_cleanly_without_a_result_fail_the_measurement(monkeypatch):
    monkeypatch.setattr(membench, "_bandwidth_worker", _exits_without_result)
    with pytest.raises(membench.WorkerDied, match=r"^2 of 2 bandwidth workers ended without a result$"):
        membench.bandwidth_gbs([min(os.sched_getaffinity(0))], 2, 1 << 20, write=True, passes=1)
    assert mp.active_children() == []


def test_the_parent_names_a_signal_that_killed_the_measuring_process():
    # the prefix (numactl's place) kills its own shell before python starts
    with pytest.raises(HetierError) as e:
        _numpy_child(["sh", "-c", "kill -9 $$", "sh"], SPEC)
    assert str(e.value) == ("memory measurement failed on sh -c kill -9 $$ sh: the measuring process ended "
                            "without output (killed by signal 9 (SIGKILL))")


def test_a_worker_out_of_memory_ends_in_one_line_from_the_real_measuring_process():
    # ~390 MiB of address space: the interpreter and numpy fit, a 1 GiB working set does not, so the
    # real worker's allocation fails inside the real measuring process
    spec = dict(SPEC, bytes=1 << 30)
    prefix = ["sh", "-c", 'ulimit -v 400000 && exec "$@"', "sh"]
    with pytest.raises(HetierError) as e:
        _numpy_child(prefix, spec)
    msg = str(e.value)
    assert "\n" not in msg and msg.endswith("bandwidth worker 0 of 1 ended without a result (exit code 1)"), msg


def test_the_measuring_process_still_works_when_nothing_dies():
    got = _numpy_child([], SPEC)
    assert set(got) == {"read", "write", "latency_seq_ns", "latency_rand_ns"} and got["read"]["1"][0] > 0
