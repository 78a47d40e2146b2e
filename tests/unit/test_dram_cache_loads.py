"""What a Memory Mode replay reports per op for the study's load counters: loads the DRAM cache
served, loads Optane served (and of those the retired loads see), as a share of the loads that
reached the cache."""

import numpy as np
import pytest

from hetier.simulator.machines import load_machine
from hetier.simulator.recording_host import RecordingHost
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import load_workload
from tests.helpers import random_trace


def _layers(tmp_path, dram_gb: float, seed: int = 3):
    w = load_workload(random_trace(tmp_path / f"t{seed}.arrow", seed, n_ops=10))
    m = load_machine("optane-memory-mode", [f"dram.capacity_gb={dram_gb}", "machine.cache_block_bytes=4096"])
    r = simulate(Scenario(w, m, threads=4, recording=RecordingHost()))
    return {k: np.array(v) for k, v in r.layers.items() if k.endswith("_bytes")}


def test_the_cache_serves_more_loads_the_larger_it_is(tmp_path):
    share = []
    for gb in (0.0001, 0.01, 0.05, 64):
        lay = _layers(tmp_path, gb)
        hit, miss = lay["dram_cache_load_bytes"], lay["pmem_load_bytes"]
        assert (hit >= 0).all() and (miss >= 0).all()
        assert (lay["pmem_demand_load_bytes"] <= miss + 1e-9).all()
        share.append(hit.sum() / (hit.sum() + miss.sum()))
        # loads the cache model saw are the same bytes whatever its size
        if len(share) > 1:
            assert (hit + miss).sum() == pytest.approx(total, rel=1e-9)
        total = (hit + miss).sum()
    assert total > 0
    assert share[0] < share[1] < share[2] < share[3]
    assert share[0] < 0.01 and share[3] > 0.99  # 100 KB caches nothing; 64 GB all but the first touches
