"""Busy threads over a replayed run, from the results' per-layer rows."""

import numpy as np
import pytest

from hetier.analysis.busy_threads import busy_at, busy_threads, mean_busy, share_at_most
from hetier.simulator.machines import load_machine
from hetier.simulator.recording_host import RecordingHost
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.stack import StackProfile
from hetier.simulator.workload import load_workload
from tests.helpers import random_trace


def test_parallel_part_then_its_serial_part_on_one_thread():
    layers = {"start_ns": [0, 100], "end_ns": [100, 300], "busy_threads": [4, 8], "serial_ns": [0, 50]}
    t, n = busy_threads(layers, 48)
    assert t.tolist() == [0, 100, 250, 300] and n.tolist() == [4, 8, 1, 0]
    assert busy_at(t, n, np.array([-1, 0, 99, 100, 260, 300, 400])).tolist() == [0, 4, 4, 8, 1, 0, 0]
    assert mean_busy(t, n, 0, 300) == pytest.approx((4 * 100 + 8 * 150 + 1 * 50) / 300)
    assert share_at_most(t, n, 4, 0, 300) == pytest.approx(150 / 300)  # 4 threads, then the teardown's 1
    assert share_at_most(t, n, 1, 200, 300) == pytest.approx(50 / 100)
    assert share_at_most(t, n, 8, 0, 300) == 1.0 and share_at_most(t, n, 8, 5, 5) == 0.0


def test_overlapping_ops_add_up_to_the_threads_there_are():
    layers = {"start_ns": [0, 50], "end_ns": [100, 150], "busy_threads": [4, 4]}
    t, n = busy_threads(layers, 6)
    assert t.tolist() == [0, 50, 100, 150] and n.tolist() == [4, 6, 4, 0]
    assert busy_threads({"start_ns": [0], "end_ns": [1]}, 4)[0].size == 0  # older results: no column, no curve


def test_a_replay_keeps_its_threads_per_op(tmp_path):
    # a sequential stack on 4 threads: every op's parallel part on min(4, its items) threads, its
    # serial part (here the reads of the host buffers it frees) on one; the curve's mean over the
    # run is the threads' busy time over the run
    w = load_workload(random_trace(tmp_path / "t.arrow", 5, n_ops=8, host=True))
    m = load_machine("dram-only")
    r = simulate(Scenario(w, m, "all-dram", StackProfile("s", schedule="sequential", teardown_ns_per_host_byte=1.0),
                          threads=4, recording=RecordingHost()))
    lay = r.layers
    assert lay["busy_threads"] == [max(1, min(4, op.parallelism)) for op in w.ops]
    assert any(lay["serial_ns"])
    t, n = busy_threads(lay, 4)
    start, end, ser = (np.array(lay[k]) for k in ("start_ns", "end_ns", "serial_ns"))
    busy = np.sum((end - start - ser) * np.array(lay["busy_threads"]) + ser)
    assert mean_busy(t, n, 0, r.makespan_ns) == pytest.approx(busy / r.makespan_ns, rel=1e-9)
    assert n.max() <= 4 and n[-1] == 0
