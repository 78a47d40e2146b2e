"""Memory Mode with random page frames: predictions move smoothly with the DRAM size, and a seed
changes only which frames, not the answer."""

from pathlib import Path

import numpy as np

from hetier.simulator.machines import load_machine
from hetier.simulator.memory_mode import MemoryModeCache
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import load_workload

CRYPTONETS = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")


def test_hit_ratio_and_time_move_smoothly_with_dram_size():
    w = load_workload(CRYPTONETS)  # 2.0 GB peak live: every size below misses part of it
    sizes = [0.02 * k for k in range(1, 11)]
    runs = [simulate(Scenario(w, load_machine("optane-memory-mode", [f"dram.capacity_gb={gb}"]), None, threads=4)) for gb in sizes]
    hits = np.array([r.mm_hit_ratio for r in runs])
    times = np.array([r.makespan_ns for r in runs])
    assert (np.diff(hits) > 0).all() and (np.diff(times) < 0).all()
    assert np.diff(hits).max() < 0.04  # no jump: at most 4 points of hit ratio per 20 MB


def test_seeds_move_frames_not_the_answer():
    w = load_workload(CRYPTONETS)
    m = load_machine("optane-memory-mode", ["dram.capacity_gb=0.1"])
    runs = [simulate(Scenario(w, m, None, threads=4, seed=s)) for s in range(3)]
    hits = [r.mm_hit_ratio for r in runs]
    assert len(set(hits)) == 3  # the frames differ
    assert max(hits) - min(hits) < 0.01
    assert simulate(Scenario(w, m, None, threads=4, seed=1)).mm_hit_ratio == hits[1]  # and a seed is reproducible


def test_pages_spread_over_the_sets_and_huge_pages_keep_blocks_together():
    c = MemoryModeCache(cache_bytes=1 << 30, block=4096, page_bytes=4096, seed=7)
    sets = c.sets(np.arange(100_000, dtype=np.int64))
    # 100,000 random pages over 262,144 sets: the expected number of distinct sets is
    # S (1 - exp(-n / S)) = 82,786; allow 1% for the draw
    assert abs(len(np.unique(sets)) - 262144 * (1 - np.exp(-100_000 / 262144))) < 828
    huge = MemoryModeCache(cache_bytes=1 << 30, block=4096, page_bytes=2 << 20, seed=7)
    s = huge.sets(np.arange(1024, dtype=np.int64))  # two 2 MiB pages of 512 blocks each
    assert (np.diff(s[:512]) == 1).all() and (np.diff(s[512:]) == 1).all()
    assert s[0] % 512 == 0
