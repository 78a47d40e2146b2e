"""Replay invariants on random traces and on the real sample traces."""

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hetier.formats.results import load_results, save_results
from hetier.formats.trace import EV, read_trace
from hetier.simulator.demands import llc_filter
from hetier.simulator.machines import load_machine
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import load_workload
from tests.helpers import CT, GOOD_ROWS, random_trace, write_tiny

TRACES = Path(__file__).resolve().parents[2] / "traces"
CRYPTONETS = str(TRACES / "cryptonets-b64.tensor.arrow")
NO_LLC = ["machine.llc_mb=0.000001"]  # every access goes to memory


@pytest.fixture(scope="module")
def cryptonets():
    return load_workload(CRYPTONETS)


slow_settings = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@slow_settings
@given(seed=st.integers(0, 10 ** 6), threads=st.sampled_from([1, 3, 8]),
       policy=st.sampled_from(["all-dram", "all-pmem", "dram-first", "interleave:0.3", "kind-aware"]))
def test_bytes_are_conserved(tmp_path, seed, threads, policy):
    path = random_trace(tmp_path / f"r{seed}.arrow", seed)
    ev = read_trace(path).events
    w = load_workload(path)
    r = simulate(Scenario(w, load_machine("optane-appdirect", NO_LLC), policy, threads=threads))
    assert sum(r.read_bytes.values()) == pytest.approx(ev.nbytes[ev.event == EV["read"]].sum(), rel=1e-9)
    assert sum(r.write_bytes.values()) == pytest.approx(ev.nbytes[ev.event == EV["write"]].sum(), rel=1e-9)


@slow_settings
@given(seed=st.integers(0, 10 ** 6), cap_mb=st.integers(1, 200))
def test_no_tier_above_capacity_with_spill(tmp_path, seed, cap_mb):
    path = random_trace(tmp_path / f"r{seed}.arrow", seed)
    w = load_workload(path)
    m = load_machine("optane-appdirect", [f"dram.capacity_gb={cap_mb / 1000}"])
    r = simulate(Scenario(w, m, "dram-first"))
    assert r.fits
    assert r.peak_bytes["dram"] <= m.device("dram").capacity_bytes
    # each tier's peak is reached once some op has allocated: the per-op live bytes hold it
    assert {t: max(r.layers[f"live_peak_bytes_{t}"]) for t in r.peak_bytes} == r.peak_bytes
    strict = simulate(Scenario(w, m, "all-dram"))
    total_peak = r.peak_bytes["dram"] + r.peak_bytes["pmem"]
    if total_peak > m.device("dram").capacity_bytes:
        assert not strict.fits and strict.makespan_ns is None
        assert strict.missing_bytes["dram"] > 0
        assert "does not fit: needs" in strict.headline()


@slow_settings
@given(seed=st.integers(0, 10 ** 6), threads=st.sampled_from([1, 2, 6, 24]))
def test_dram_never_slower_than_pmem_and_time_is_monotone(tmp_path, seed, threads):
    w = load_workload(random_trace(tmp_path / f"r{seed}.arrow", seed))
    m = load_machine("optane-appdirect", NO_LLC)
    fast = simulate(Scenario(w, m, "all-dram", threads=threads))
    slow = simulate(Scenario(w, m, "all-pmem", threads=threads))
    assert fast.makespan_ns <= slow.makespan_ns
    start, end = np.array(fast.layers["start_ns"]), np.array(fast.layers["end_ns"])
    assert (start <= end).all() and end.max() == fast.makespan_ns
    if threads == 1:  # recorded order
        assert (np.diff(end) >= 0).all() and (start[1:] >= end[:-1] - 1e-6).all()


@slow_settings
@given(seed=st.integers(0, 10 ** 6), factor=st.floats(1.0, 8.0))
def test_more_bandwidth_is_never_slower(tmp_path, seed, factor):
    w = load_workload(random_trace(tmp_path / f"r{seed}.arrow", seed))
    base = load_machine("optane-appdirect", NO_LLC)
    dev = base.device("pmem")
    faster_curve = [[s, b * factor] for s, b in dev.read_curve]
    faster = load_machine("optane-appdirect", NO_LLC + [f"pmem.read_curve={faster_curve}"])
    assert simulate(Scenario(w, faster, "all-pmem", threads=4)).makespan_ns <= simulate(Scenario(w, base, "all-pmem", threads=4)).makespan_ns * (1 + 1e-12)


def _compulsory_hit_ratio(w, machine) -> float:
    """Memory Mode's hit ratio when no two blocks share a cache set: only each block's first touch
    misses. The pool keeps one free list per buffer size and never shrinks, so the blocks it ever
    hands out are, per size, the most buffers of that size live at once (an op allocates, then
    accesses, then frees); every one of them is touched. Hits are the rest of the traffic."""
    live, peak, unit_of, traffic = defaultdict(int), defaultdict(int), {}, 0.0
    for op in w.ops:
        for t, c, u in zip(op.alloc_tensor.tolist(), op.alloc_count.tolist(), op.alloc_unit.tolist()):
            live[u] += c
            unit_of[t] = u
        for u in live:
            peak[u] = max(peak[u], live[u])
        traffic += llc_filter(op.acc_bytes, op.acc_footprint, machine.llc_bytes).sum()
        for t, c in zip(op.free_tensor.tolist(), op.free_count.tolist()):
            live[unit_of[t]] -= c
    block = machine.cache_block_bytes
    pool_bytes = sum(n * -(-u // block) * block for u, n in peak.items())  # 2,242,969,600 B for cryptonets
    return 1 - pool_bytes / traffic


def test_memory_mode_with_a_large_cache_is_close_to_dram_only(cryptonets):
    dram = simulate(Scenario(cryptonets, load_machine("optane-appdirect"), "all-dram"))
    mm = simulate(Scenario(cryptonets, load_machine("optane-memory-mode")))
    # One 4 GiB page holds the whole 2.24 GB pool in consecutive sets of the 192 GB cache: no
    # conflicts, so the ratio is exactly the compulsory one (0.977961)
    one_page = load_machine("optane-memory-mode", ["machine.page_bytes=4294967296"])
    exact = _compulsory_hit_ratio(cryptonets, one_page)
    assert simulate(Scenario(cryptonets, one_page)).mm_hit_ratio == pytest.approx(exact, rel=1e-12)
    # 4 KiB pages land in random frames, so a few blocks share sets and conflict: measured 0.972420
    assert exact - 0.01 < mm.mm_hit_ratio < exact
    # with (almost) everything cached Memory Mode still pays what its tags cost: every store reads
    # its line for ownership and checks the tag before it writes (the flat model charges neither),
    # measured 1.214 (1.101 with streaming stores everywhere and no miss penalty)
    assert 1.0 < mm.makespan_ns / dram.makespan_ns < 1.25
    # a cache smaller than the footprint (2.0 GB peak) misses more and is slower
    small = simulate(Scenario(cryptonets, load_machine("optane-memory-mode", ["dram.capacity_gb=0.5"])))
    assert small.mm_hit_ratio < mm.mm_hit_ratio
    assert small.makespan_ns > mm.makespan_ns
    assert small.mm_writeback_bytes > 0


def test_same_inputs_give_byte_identical_results(tmp_path, cryptonets):
    for name in ("a", "b"):
        runs = [simulate(Scenario(load_workload(CRYPTONETS), load_machine(m), p, threads=4))
                for m, p in (("optane-appdirect", "dram-first"), ("optane-memory-mode", None))]
        save_results(tmp_path / f"{name}.arrow", runs)
    assert (tmp_path / "a.arrow").read_bytes() == (tmp_path / "b.arrow").read_bytes()
    runs, table = load_results(tmp_path / "a.arrow")
    assert [r["policy"] for r in runs] == ["dram-first", "memory-mode"]
    assert runs[0]["machine"]["name"] == "optane-appdirect" and runs[0]["trace"]["model"] == "cryptonets"
    assert table.num_rows == 2 * len(cryptonets.ops)


def test_per_op_live_bytes_per_tier_are_the_placements(tmp_path):
    # op1 allocates ciphertexts 0 and 1 and frees 0; the teardown frees 1. DRAM holds 1.5 of
    # them, so dram-first keeps 0 in DRAM and spills what of 1 does not fit (half) to PMem
    w = load_workload(write_tiny(tmp_path / "t.arrow", GOOD_ROWS))
    m = load_machine("optane-appdirect", [f"dram.capacity_gb={1.5 * CT / 1e9}"])
    cap = m.device("dram").capacity_bytes
    spill = 2 * CT - cap
    assert spill == CT // 2
    r = simulate(Scenario(w, m, "dram-first", threads=1, fit_by="live"))  # the placement on live bytes
    assert [o.name for o in w.ops] == ["op1", "teardown"]
    assert r.layers["live_peak_bytes_dram"] == [cap, cap - CT]  # once the op has allocated
    assert r.layers["live_peak_bytes_pmem"] == [spill, spill]
    assert r.layers["live_end_bytes_dram"] == [cap - CT, 0]  # after its frees
    assert r.layers["live_end_bytes_pmem"] == [spill, 0]
    assert r.peak_bytes == {"dram": cap, "pmem": spill}
    save_results(tmp_path / "r.arrow", [r])
    _, table = load_results(tmp_path / "r.arrow")
    for c in ("live_peak_bytes_dram", "live_peak_bytes_pmem", "live_end_bytes_dram", "live_end_bytes_pmem"):
        assert table.column(c).to_pylist() == r.layers[c] and table.schema.field(c).type == "int64"


def test_threads_speed_up_parallel_layers(cryptonets):
    m = load_machine("optane-appdirect")
    one = simulate(Scenario(cryptonets, m, "all-dram", threads=1))
    many = simulate(Scenario(cryptonets, m, "all-dram", threads=24))
    assert many.makespan_ns < one.makespan_ns / 4
    assert one.makespan_ns == pytest.approx(sum(e - s for s, e in zip(one.layers["start_ns"], one.layers["end_ns"])))
