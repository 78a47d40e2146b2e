"""Tiering the OS or the CPU does: Linux memory tiering (TPP) and Flat Memory Mode, against
answers derived by hand from the kernel's rules and the swap-on-access rule."""

import numpy as np
import pytest

from hetier.errors import UsageError
from hetier.simulator.machines import load_machine
from hetier.simulator.memory_systems.flat_memory_mode import FlatMemoryMode
from hetier.simulator.memory_systems.linux_tiering import LinuxTiering
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import Op, Workload, load_workload
from tests.helpers import hot_cold_trace

MiB = 1 << 20
S = 1_000_000_000  # ns


def op(i: int, seconds: float, alloc=(), read=(), free=()) -> Op:
    """One op by hand: allocations (tensor, count, unit), reads (tensor, bytes), frees (tensor, count)."""
    units = {t: u for t, _, u in alloc}
    foot = [units.get(t, 0) for t, _ in read]
    return Op(i, i, f"op{i}", "op", int(seconds * S),
              np.array([a[0] for a in alloc], dtype=np.int64), np.array([a[1] for a in alloc], dtype=np.int64),
              np.array([a[2] for a in alloc], dtype=np.int64),
              np.array([f[0] for f in free], dtype=np.int64), np.array([f[1] for f in free], dtype=np.int64),
              np.array([r[0] for r in read], dtype=np.int64), np.zeros(len(read), dtype=bool),
              np.array([r[1] for r in read], dtype=np.float64), np.ones(len(read), dtype=np.int64),
              np.array(foot, dtype=np.int64), 1)


def workload(ops: list[Op], units: dict[int, int]) -> Workload:
    for o in ops:  # a read's footprint: the tensor's whole size (count x unit) as allocated
        o.acc_footprint = np.array([sizes[t] for t in o.acc_tensor.tolist()], dtype=np.int64) if (
            sizes := {t: c * units[t] for p in ops for t, c in zip(p.alloc_tensor.tolist(), p.alloc_count.tolist())}) \
            else o.acc_footprint
    return Workload({}, ops, {t: "ciphertext" for t in units}, units, 0, False)


def tiering(dram_gb: float, spec: str = "linux-tiering", cxl_gb: float = 8.0) -> LinuxTiering:
    m = load_machine("xeon-ddr5-cxl-a-tiering", [f"dram.capacity_gb={dram_gb}", f"cxl.capacity_gb={cxl_gb}"])
    return LinuxTiering(m, spec)


def test_a_working_set_that_fits_dram_never_demotes_and_never_touches_cxl():
    # 100 tensors of 8 MiB over 1 GB of DRAM, each re-read for 30 s of ops: 800 MiB < 1 GB - low watermark
    ops = [op(0, 1.0, alloc=[(t, 8, MiB) for t in range(100)])]
    ops += [op(i, 1.0, read=[(t, 16 * MiB) for t in range(100)]) for i in range(1, 30)]
    w = workload(ops, {t: MiB for t in range(100)})
    sys = tiering(1.0)
    pl = sys.place(w, 1)
    assert pl.fits and pl.peak["cxl"] == 0 and pl.peak["dram"] == 800 * MiB
    tr = [sys.op_traffic(o, o.acc_bytes) for o in w.ops]
    c = sys.statistics()["tiering"]
    assert c["pgdemote_kswapd"] == c["pgpromote_success"] == c["numa_hint_faults"] == 0
    assert c["pgalloc_fallback_bytes"] == 0.0
    assert sum(t.read["cxl"] + t.write["cxl"] for t in tr) == 0.0
    assert sum(t.read["dram"] for t in tr) == 29 * 100 * 16 * MiB


def test_a_hot_tensor_first_placed_in_cxl_is_promoted_after_the_scan_period_at_the_rate_limit():
    # op0 fills DRAM with a cold tensor C, so the hot tensor H (64 MiB) lands in CXL; op1 frees C.
    # Ops of 0.5 s re-read H 10 times each. The first scan is at scan_delay = 1 s (op2): it unmaps
    # all of H (64 MiB < 8 x scan_size); op2's touches (every 0.05 s < hot threshold 1 s) fault and
    # make 64 MiB candidates, of which the rate limit lets 16 MiB through in the window [1 s, 2 s).
    # The next scan is at 2 s (op4), and so on: 16 MiB promoted in every op that starts a second.
    spec = "linux-tiering:numa_balancing_promote_rate_limit_MBps=16,demotion_enabled=false"
    sys = tiering(1.0, spec)
    cold = 1000  # MiB: more than 1 GB of DRAM, so DRAM is full after op0
    ops = [op(0, 0.5, alloc=[(0, cold, MiB), (1, 64, MiB)]), op(1, 0.5, free=[(0, cold)])]
    ops += [op(i, 0.5, read=[(1, 640 * MiB)]) for i in range(2, 12)]
    w = workload(ops, {0: MiB, 1: MiB})
    sys.place(w, 1)
    assert sys.ops[0].share_before == {} and sys.ops[2].share_before[1] == 0.0  # H started in CXL
    promoted = [r.promoted / MiB for r in sys.ops]
    assert promoted == [0, 0, 16, 0, 16, 0, 16, 0, 16, 0, 0, 0]
    for i, r in enumerate(sys.ops):  # never more than the limit in any 1-second window
        assert sum(promoted[j] for j in range(len(promoted)) if j // 2 == i // 2) <= 16
    assert sys.ops[9].share_after[1] == 1.0  # all of H in DRAM after 4 windows
    c = sys.statistics()["tiering"]
    assert c["pgpromote_success"] == 64 * MiB // 4096 and c["numa_pages_migrated"] == c["pgpromote_success"]
    # each promotion is a read of CXL and a write of DRAM at the op's start, and CPU time for the pages
    t = sys.op_traffic(w.ops[2], w.ops[2].acc_bytes)
    # the first pass as the op found H (all in CXL); the scan unmapped H during op2, so its 16 MiB
    # were promoted during the op and serve half of the other 9 passes on average (8 MiB of 64)
    assert t.write["dram"] == 16 * MiB and t.read["cxl"] == 16 * MiB + 64 * MiB + 9 * 56 * MiB
    assert t.read["dram"] == 9 * 8 * MiB
    t4 = sys.op_traffic(w.ops[3], w.ops[3].acc_bytes)  # op3: no scan, nothing moves; 16 of 64 MiB in DRAM
    assert t4.read == {"dram": 10 * 16 * MiB, "cxl": 10 * 48 * MiB} and t4.latency_ns == 0.0
    assert t.latency_ns == pytest.approx(64 * MiB // 4096 * 1000.0 + 16 * MiB // 4096 * 2000.0)  # faults + migrations


def test_without_numa_balancing_nothing_is_promoted_and_huge_pages_migrate_in_2_mib():
    ops = [op(0, 0.5, alloc=[(0, 1000, MiB), (1, 64, MiB)]), op(1, 0.5, free=[(0, 1000)])]
    ops += [op(i, 0.5, read=[(1, 640 * MiB)]) for i in range(2, 12)]
    w = workload(ops, {0: MiB, 1: MiB})
    off = tiering(1.0, "linux-tiering:numa_balancing=0")
    off.place(w, 1)
    assert off.statistics()["tiering"]["pgpromote_success"] == 0
    thp = tiering(1.0, "linux-tiering:transparent_hugepage=always,numa_balancing_promote_rate_limit_MBps=16,"
                       "demotion_enabled=false")
    thp.place(w, 1)
    assert thp.page == 2 * MiB and thp.statistics()["tiering"]["pgpromote_success"] == 64 // 2
    assert thp.label == ("linux-tiering:demotion_enabled=false,numa_balancing_promote_rate_limit_MBps=16,"
                         "transparent_hugepage=always")


def test_kswapd_demotes_the_least_recently_used_tensor_when_dram_runs_short():
    # A (600 MiB) then B (300 MiB) in 1 GB of DRAM; op2 touches B; op3 allocates D (400 MiB): DRAM
    # falls below its low watermark, D spills, and kswapd demotes A (older than B) back to the high one
    sys = tiering(1.0, "linux-tiering:numa_balancing=0")
    ops = [op(0, 1, alloc=[(0, 600, MiB)]), op(1, 1, alloc=[(1, 300, MiB)]), op(2, 1, read=[(1, 300 * MiB)]),
           op(3, 1, alloc=[(2, 400, MiB)])]
    w = workload(ops, {0: MiB, 1: MiB, 2: MiB})
    sys.place(w, 1)
    low, high, _ = sys.watermarks()
    r = sys.ops[3]
    assert r.demoted > 0 and r.demoted == pytest.approx(high - low, abs=2 * 4096)  # from low back to high
    assert sys.statistics()["tiering"]["pgdemote_kswapd"] == r.demoted // 4096
    # B, touched later, kept all its pages in DRAM; A lost the demoted ones
    t = sys.op_traffic(w.ops[3], w.ops[3].acc_bytes)
    assert t.read["dram"] == r.demoted and t.write["cxl"] == r.demoted


def _hot_cold_trace(tmp_path, n_reads: int) -> str:
    return hot_cold_trace(tmp_path / f"hc{n_reads}.arrow", n_reads)


@pytest.mark.parametrize("n_reads, dram_gb", [(8, 1.0), (20, 1.0), (20, 0.6)])
def test_tiering_with_no_rate_limit_and_free_faults_is_never_slower_than_first_touch(tmp_path, n_reads, dram_gb):
    w = load_workload(_hot_cold_trace(tmp_path, n_reads))
    m = load_machine("xeon-ddr5-cxl-a-tiering", [f"dram.capacity_gb={dram_gb}", "cxl.capacity_gb=2",
                                                   "machine.llc_mb=0.000001"])
    first_touch = simulate(Scenario(w, m, "linux-tiering:numa_balancing=0,demotion_enabled=false", threads=1))
    free = ("linux-tiering:numa_balancing_promote_rate_limit_MBps=1000000000,hint_fault_ns=0,migrate_ns_per_page=0,"
            "kswapd_ns_per_page=0")
    tiered = simulate(Scenario(w, m, free, threads=1))
    assert first_touch.notes["tiering"]["pgpromote_success"] == 0
    assert tiered.notes["tiering"]["pgpromote_success"] > 0  # the hot tensor did move: the comparison is not vacuous
    assert tiered.makespan_ns <= first_touch.makespan_ns


def test_bad_tiering_specs_are_one_line_errors():
    m = load_machine("xeon-ddr5-cxl-a-tiering")
    for spec, msg in [("linux-tiering:nope=1", "'nope=1' is not key=value with a known key"),
                      ("linux-tiering:numa_balancing_scan_size_mb=-4", "numa_balancing_scan_size_mb=-4 is not a valid"),
                      ("linux-tiering:transparent_hugepage=sometimes", "transparent_hugepage=sometimes is not a valid"),
                      ("hot-cold", "Linux tiering takes policy 'linux-tiering[:sysctl=value,...]' (got 'hot-cold')")]:
        with pytest.raises(UsageError, match=msg.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            LinuxTiering.check_policy(m, spec)


def _fmm(mib: int) -> FlatMemoryMode:
    # page_bytes = the DRAM size: one frame group, so block b sits in set b mod sets (no random frames)
    m = load_machine("xeon6-ddr5-cxl-a-fmm", [f"dram.capacity_gb={mib * MiB / 1e9}", f"cxl.capacity_gb={mib * MiB / 1e9}",
                                              f"machine.page_bytes={mib * MiB}", "machine.cache_block_bytes=4096"])
    return FlatMemoryMode(m)


def test_a_stream_larger_than_dram_under_flat_memory_mode_swaps_the_expected_lines():
    # A and B, 1 MiB each, over 1 MiB of DRAM (256 sets of 4 KiB; block b in set b mod 256): the
    # stream A, B, A is twice DRAM. Every read misses: the line comes in from CXL (CXL read, DRAM
    # write) and the line in its set goes out (read by the access that checks the set, written to
    # CXL): a set's DRAM slot always holds a line, so the first pass swaps too.
    from hetier.simulator.memory_systems.dram_cache import miss_penalty_per_line

    D = 1 * MiB
    sys = _fmm(1)
    ops = [op(0, 0.1, alloc=[(0, 1, D), (1, 1, D)]), op(1, 0.1, read=[(0, D)]), op(2, 0.1, read=[(1, D)]),
           op(3, 0.1, read=[(0, D)])]
    w = workload(ops, {0: D, 1: D})
    assert sys.place(w, 1).fits  # 2 MiB in 1 MiB DRAM + 1 MiB CXL: the whole space is visible
    tr = [sys.op_traffic(o, o.acc_bytes) for o in w.ops]
    assert sum(tr[0].read.values()) + sum(tr[0].write.values()) == 0  # allocating touches nothing
    for t in tr[1:]:  # a swap per line
        assert t.read == {"dram": D, "cxl": D} and t.write == {"dram": D, "cxl": D}
        assert t.latency_ns == pytest.approx(miss_penalty_per_line(sys.machine) * D / 64)  # per missed 64 B line
    s = sys.statistics()
    assert s["flat_memory_mode"] == {"swapped_in_bytes": 3 * D, "swapped_out_bytes": 3 * D}
    assert s["mm_hit_ratio"] == 0.0


def test_a_stream_that_fits_dram_swaps_once_then_hits():
    D = 1 * MiB
    sys = _fmm(1)
    ops = [op(0, 0.1, alloc=[(0, 1, D)]), op(1, 0.1, read=[(0, D)]), op(2, 0.1, read=[(0, 3 * D)])]
    w = workload(ops, {0: D})
    sys.place(w, 1)
    [sys.op_traffic(o, o.acc_bytes) for o in w.ops]
    # the first pass swaps each line in (and its set's line out), the next three passes hit
    assert sys.statistics()["flat_memory_mode"] == {"swapped_in_bytes": D, "swapped_out_bytes": D}
    assert sys.statistics()["mm_hit_ratio"] == pytest.approx(3 / 4)


def test_flat_memory_mode_needs_1_to_1_capacity():
    with pytest.raises(UsageError, match="Flat Memory Mode needs DRAM and CXL at 1:1 capacity \\(got 128.0 GB and 64.0 GB\\)"):
        load_machine("xeon6-ddr5-cxl-a-fmm", ["cxl.capacity_gb=64"])
    D = 1 * MiB  # the whole 2 MiB is visible: 2 MiB fits, 2 MiB and a page does not
    for pages, fits in ((512, True), (513, False)):
        pl = _fmm(1).place(workload([op(0, 0.1, alloc=[(0, pages, 4096)])], {0: 4096}), 1)
        assert pl.fits is fits and pl.missing["cxl"] == (0 if fits else 4096)


def test_the_advisor_ranks_the_tiering_alternatives_with_what_each_needs(tmp_path):
    from hetier.simulator.advise import advise_machine
    from hetier.simulator.tiering_alternatives import tuned_rate_limit_mbps

    w = load_workload(_hot_cold_trace(tmp_path, 4))
    m = load_machine("xeon-ddr5-cxl-a", ["dram.capacity_gb=1", "cxl.capacity_gb=2", "machine.llc_mb=0.000001"])
    adv = advise_machine(w, m, ["all-pmem"], 1, bisect=False, tiering=True)
    rows = {r.policy: r for r in adv.rows}
    rate = tuned_rate_limit_mbps(m)
    assert rate == int(17.7e9 * 0.1 / MiB)  # 10% of CXL-A's 17.7 GB/s plateau
    assert set(rows) == {"all-pmem", "linux-tiering", f"linux-tiering (rate limit {rate} MB/s)", "flat-memory-mode"}
    assert rows["linux-tiering"].ok and rows["linux-tiering"].needs["settings"].startswith("sysctl kernel.numa_balancing=2")
    assert rows["flat-memory-mode"].needs["bios"].startswith("Flat Memory Mode on")
    assert rows["flat-memory-mode"].needs["note"] == "CXL used at 1:1 (1.0 GB of its 2.0 GB), as Flat Memory Mode requires"
    assert rows["flat-memory-mode"].ok and rows["flat-memory-mode"].migrated_bytes > 0  # lines swapped


@pytest.mark.parametrize("machine, sets", [("xeon-ddr5-cxl-a-tiering", ["dram.capacity_gb=0.02", "cxl.capacity_gb=1"]),
                                           ("xeon6-ddr5-cxl-a-fmm", ["dram.capacity_gb=0.02", "cxl.capacity_gb=0.02"])])
def test_tiering_runs_are_reproduced_from_their_results_files(tmp_path, machine, sets):
    from hetier.formats.results import load_results, save_results
    from hetier.simulator.scenario import scenario_of_run
    from tests.helpers import random_trace

    w = load_workload(random_trace(tmp_path / "r.arrow", 7, 6))
    first = simulate(Scenario(w, load_machine(machine, sets + ["machine.llc_mb=0.000001"]), threads=3,
                              fit_by="live"))  # tiny machines: the trace's live bytes, not hetier's runtime
    save_results(tmp_path / "res.arrow", [first])
    [run], _ = load_results(tmp_path / "res.arrow")
    again = simulate(scenario_of_run(run, w))
    assert again.summary() == first.summary() and again.layers == first.layers
    assert ("tiering" if "tiering" in machine else "flat_memory_mode") in run["notes"]


def test_promotions_and_demotions_per_op_are_results_columns_that_sum_to_the_counts(tmp_path):
    from hetier.formats.results import load_results, save_results
    from tests.helpers import random_trace

    w = load_workload(_hot_cold_trace(tmp_path, 8))
    other = load_workload(random_trace(tmp_path / "r.arrow", 7, 6))
    m = load_machine("xeon-ddr5-cxl-a-tiering", ["dram.capacity_gb=1", "cxl.capacity_gb=2", "machine.llc_mb=0.000001"])
    r = simulate(Scenario(w, m, threads=1))
    plain = simulate(Scenario(other, load_machine("dram-only"), threads=1))
    t = r.notes["tiering"]
    assert sum(r.layers["promoted_bytes"]) == t["promoted_bytes"] > 0
    assert sum(r.layers["demoted_bytes"]) == t["demoted_bytes"]
    save_results(tmp_path / "res.arrow", [plain, r])
    _, table = load_results(tmp_path / "res.arrow")
    col = table.column("promoted_bytes").to_pylist()
    assert col[:len(other.ops)] == [0.0] * len(other.ops) and sum(col) == t["promoted_bytes"]
    save_results(tmp_path / "plain.arrow", [plain])  # a file without such runs has no such columns
    assert "promoted_bytes" not in load_results(tmp_path / "plain.arrow")[1].column_names


@pytest.mark.parametrize("idle_s, promoted_mib", [(0.5, 64), (2.5, 0)])
def test_a_page_unmapped_earlier_is_promoted_at_its_first_touch_only_within_the_hot_threshold(idle_s, promoted_mib):
    # The scan at 1 s unmaps H while op2 touches only X. op3 (0.5 s, no scan in it) touches H:
    # its hint faults come idle_s after the unmapping. Within the 1 s threshold (0.5 s) all 64 MiB
    # are promoted at the first touch and serve the 9 later passes; past it (2.5 s) none are,
    # though every unmapped page still faults (the later scans skip pages already unmapped).
    sys = tiering(1.0, "linux-tiering:demotion_enabled=false")
    ops = [op(0, 0.5, alloc=[(0, 1000, MiB), (1, 64, MiB), (2, 1, MiB)]), op(1, 0.5, free=[(0, 1000)]),
           op(2, idle_s, read=[(2, MiB)]), op(3, 0.5, read=[(1, 640 * MiB)])]
    w = workload(ops, {0: MiB, 1: MiB, 2: MiB})
    sys.place(w, 1)
    assert sys.ops[3].promoted == promoted_mib * MiB
    assert sys.ops[3].share_later[1] == promoted_mib / 64
    t = sys.op_traffic(w.ops[3], w.ops[3].acc_bytes)
    assert t.read["dram"] == 9 * promoted_mib * MiB and t.read["cxl"] == 64 * MiB + promoted_mib * MiB + 9 * (
        64 - promoted_mib) * MiB
    faults_h = 64 * MiB // 4096
    assert t.latency_ns == pytest.approx(faults_h * 1000.0 + promoted_mib * MiB // 4096 * 2000.0)
