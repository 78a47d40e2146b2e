"""The Memory Mode model's tag array keeps only the sets the pool's blocks can map to while the pool
is small beside the cache: the same traffic and the same final tags as the whole array, bit for bit."""

import dataclasses

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from hetier.simulator import memory_mode
from hetier.simulator.memory_mode import MemoryModeCache

PAGE = 4096


def whole_array(cache: MemoryModeCache) -> MemoryModeCache:
    """The same cache keeping every set (as caches too small to compact do)."""
    cache._state, cache._label_of = cache._whole(), None
    return cache


def random_ops(seed: int, n_ops: int, block: int):
    """Allocations, access rows (reads of live tensors with up to 9 passes, writes of the new ones)
    and frees, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    ops, live, nxt = [], [], 0
    for _ in range(n_ops):
        allocs = [(nxt + k, int(rng.integers(1, 40)), int(rng.choice([block // 2, block, 3 * block])))
                  for k in range(rng.integers(1, 4))]
        nxt += len(allocs)
        reads = [live[k] for k in rng.permutation(len(live))[:3]]
        rows = [(t, False, float(rng.choice([0.5, 1, 2, 3, 9])) * c * u) for t, c, u in reads]
        rows += [(t, True, float(c * u)) for t, c, u in allocs]
        live += allocs
        frees = [live.pop(int(rng.integers(len(live))))[:2] for _ in range(2)] if len(live) > 6 else []
        ops.append((allocs, rows, frees))
    return ops


def run(cache: MemoryModeCache, ops, threads: int, rfo: bool) -> list:
    """Each op's traffic and the tags and dirty bits after it."""
    got = []
    for allocs, rows, frees in ops:
        for a in allocs:
            cache.alloc(*a)
        tr = cache.op_traffic(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                              np.array([r[2] for r in rows]), threads=threads, rfo=rfo)
        got.append((dataclasses.astuple(tr), cache.tags.tobytes(), cache.dirty.tobytes()))
        for f in frees:
            cache.free(*f)
    return got


@settings(max_examples=25, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
@given(seed=st.integers(0, 2 ** 16), threads=st.sampled_from([1, 3, 8]), rfo=st.booleans(),
       geometry=st.sampled_from([(PAGE, PAGE), (PAGE, 2 << 20), (2 * PAGE, PAGE), (PAGE // 2, PAGE)]))
def test_kept_sets_replay_as_the_whole_array(seed, threads, rfo, geometry):
    # 4096 sets, compacted while the labels cover at most 1024 blocks: the draws' pools (up to ~3,000
    # blocks) pass that in some ops and the cache goes on with the whole array
    block, page = geometry
    old = memory_mode.COMPACT_SMALLEST
    memory_mode.COMPACT_SMALLEST = 16
    try:
        kept = MemoryModeCache(4096 * block, block, page, seed)
    finally:
        memory_mode.COMPACT_SMALLEST = old
    assert kept._label_of is not None
    whole = whole_array(MemoryModeCache(4096 * block, block, page, seed))
    ops = random_ops(seed, 12, block)
    assert run(kept, ops, threads, rfo) == run(whole, ops, threads, rfo)


def test_a_small_pool_in_a_large_cache_keeps_its_sets_only():
    # 4 GiB of DRAM at 4 KiB blocks is 1,048,576 sets (4 MB of int32 for the whole array; Optane
    # Memory Mode's 192 GB, 188 MB); a 200 MB pool's 50,000 blocks keep about as many sets
    cache = MemoryModeCache(4 << 30, PAGE, PAGE, 0)
    cache.alloc(0, 50, 1000 * PAGE)
    cache.op_traffic(np.array([0]), np.array([True]), np.array([50_000.0 * PAGE]))
    assert len(cache._state) <= 50_000 and cache._state.nbytes <= 200_000
    blocks = cache.blocks(0)
    sets = cache.sets(blocks)
    assert (cache.tags[sets] >= 0).all() and cache.dirty[sets].any()
    # a label is its set's rank: sorting by label sorts by set, as the whole array's lookups do
    assert (np.diff(cache._known) > 0).all() and np.array_equal(cache._known[cache._label_of[blocks]], sets)
    r = cache.op_traffic(np.array([0]), np.array([False]), np.array([50_000.0 * PAGE]))
    assert r.hit_bytes + r.miss_bytes == pytest.approx(50_000.0 * PAGE)
    assert r.hit_bytes > 0.95 * 50_000 * PAGE  # a 200 MB tensor in a 4 GiB cache: nearly all of it stays


def test_a_pool_that_outgrows_the_share_moves_to_the_whole_array():
    # a huge buffer (never touched) moves the pool's top past a quarter of the sets: the lines already
    # cached stay where they were
    cache = MemoryModeCache(1 << 32, PAGE, PAGE, 5)
    cache.alloc(0, 64, PAGE)
    cache.op_traffic(np.array([0]), np.array([True]), np.array([64.0 * PAGE]))
    assert cache._label_of is not None
    before_tags, before_dirty = cache.tags, cache.dirty
    cache.alloc(1, 1, 1 << 31)
    cache.alloc(2, 4, PAGE)
    w = cache.op_traffic(np.array([2]), np.array([True]), np.array([4.0 * PAGE]))
    assert cache._label_of is None and len(cache._state) == cache.n_sets
    assert w.hit_bytes == 0
    after_tags = cache.tags
    new = cache.sets(cache.blocks(2))
    untouched = np.ones(cache.n_sets, dtype=bool)
    untouched[new] = False
    assert np.array_equal(after_tags[untouched], before_tags[untouched])
    assert np.array_equal(cache.dirty[untouched], before_dirty[untouched])
    r = cache.op_traffic(np.array([0]), np.array([False]), np.array([64.0 * PAGE]))
    assert r.hit_bytes >= 60 * PAGE  # its lines survived the move (4 new blocks evict at most 4)
