"""The SimPy engine on tiny hand-written workloads: makespans, stalls and per-op start/end times
derived here from the presets' bandwidths and latencies.

Each story is a few OpPlans (bytes per tier after the CPU cache, compute, slices) run on
optane-appdirect: dram = ddr4-2666-6ch, pmem = optane-100-6dimm. A slice reads (one transfer per
tier, then that tier's latency), computes its share, then writes. Transfers on one (tier,
direction) channel share its bandwidth: with n active, each gets bandwidth(n) / n.
Times agree to 1e-9 relative: a channel calls a transfer done within 1e-9 x now (sharing._due).
"""

import pytest

from hetier.simulator.demands import OpDemand
from hetier.simulator.engine import run
from hetier.simulator.memory_systems.dram_cache import miss_penalty_per_line
from hetier.simulator.machines import load_machine

M = load_machine("optane-appdirect")
# the preset numbers the derivations use (B/ns = GB/s); the first test holds the presets to them
DRAM_R1, DRAM_R2 = 7.38, 14.5        # ddr4-2666-6ch read_curve at 1 and 2 streams
DRAM_W1, DRAM_W2 = 4.31, 8.69        # ddr4-2666-6ch write_curve at 1 and 2 streams
DRAM_RLAT, DRAM_WLAT = 81.4, 86.9    # ns: read_latency_seq_ns, write_latency_ns
PMEM_R1, PMEM_W1 = 2.88, 4.13        # optane-100-6dimm read and write curves at 1 stream
PMEM_RLAT, PMEM_WLAT = 169.4, 90.4   # ns
EXACT = dict(rel=1e-9)

MB = 1e6


def plan(compute=0.0, read=None, write=None, slices=1, items=1, deps=(), latency=0.0) -> OpDemand:
    tiers = {"dram": 0.0, "pmem": 0.0}
    return OpDemand(compute, {**tiers, **(read or {})}, {**tiers, **(write or {})}, slices, latency,
                    deps=list(deps), items=items)


def test_the_derivations_use_the_presets_numbers():
    d, p = M.device("dram"), M.device("pmem")
    assert (d.bandwidth(1), d.bandwidth(2), d.bandwidth(1, True), d.bandwidth(2, True)) == (DRAM_R1, DRAM_R2,
                                                                                        DRAM_W1, DRAM_W2)
    assert (d.read_latency_seq_ns, d.write_latency_ns) == (DRAM_RLAT, DRAM_WLAT)
    assert (p.bandwidth(1), p.bandwidth(1, True), p.read_latency_seq_ns, p.write_latency_ns) == (
        PMEM_R1, PMEM_W1, PMEM_RLAT, PMEM_WLAT)
    assert d.write_amplification == p.write_amplification == 1.0


def test_one_op_reads_computes_writes():
    # 8 MB read from DRAM on one stream, 1000 ns of compute, 4 MB written to DRAM
    rs = run([plan(1000.0, read={"dram": 8 * MB}, write={"dram": 4 * MB})], M, 1)
    read_ns = 8 * MB / DRAM_R1 + DRAM_RLAT       # 1,084,092.24 ns
    write_ns = 4 * MB / DRAM_W1 + DRAM_WLAT      # 928,161.15 ns
    assert rs.makespan_ns == pytest.approx(read_ns + 1000.0 + write_ns, **EXACT)
    assert rs.stall_ns["dram"][0] == pytest.approx(read_ns + write_ns, **EXACT)
    assert rs.stall_ns["pmem"][0] == 0.0
    assert rs.compute_ns[0] == 1000.0
    assert (rs.start_ns[0], rs.end_ns[0]) == (0.0, rs.makespan_ns)


def test_two_slices_share_the_channel():
    # one op of 2 items on 2 threads: each slice reads half of 8 MB at the same time, so each gets
    # bandwidth(2) / 2 = 7.25 B/ns (not 7.38: two streams deliver a little less than twice one);
    # then half the compute, then half of the 4 MB write at write bandwidth(2) / 2 = 4.345 B/ns
    rs = run([plan(1000.0, read={"dram": 8 * MB}, write={"dram": 4 * MB}, slices=2, items=2)], M, 2)
    read_ns = 4 * MB / (DRAM_R2 / 2) + DRAM_RLAT
    write_ns = 2 * MB / (DRAM_W2 / 2) + DRAM_WLAT
    assert rs.makespan_ns == pytest.approx(read_ns + 500.0 + write_ns, **EXACT)
    # a stall is counted per slice: two slices stalled side by side
    assert rs.stall_ns["dram"][0] == pytest.approx(2 * (read_ns + write_ns), **EXACT)
    assert rs.compute_ns[0] == pytest.approx(1000.0, **EXACT)


def test_tiers_are_separate_channels():
    # two independent ops on 2 threads, one reading DRAM and one reading PMem: no sharing
    rs = run([plan(100.0, read={"dram": 3 * MB}), plan(200.0, read={"pmem": 3 * MB})], M, 2)
    dram_op = 3 * MB / DRAM_R1 + DRAM_RLAT + 100.0
    pmem_op = 3 * MB / PMEM_R1 + PMEM_RLAT + 200.0
    assert rs.start_ns.tolist() == [0.0, 0.0]
    assert rs.end_ns.tolist() == pytest.approx([dram_op, pmem_op], **EXACT)
    assert rs.makespan_ns == pytest.approx(pmem_op, **EXACT)  # PMem reads 2.56x slower
    assert rs.stall_ns["pmem"].tolist() == pytest.approx([0.0, 3 * MB / PMEM_R1 + PMEM_RLAT], **EXACT)


def test_a_dependent_op_starts_when_its_input_is_done():
    # op 1 depends on op 0: even with 4 threads it waits for op 0's end
    rs = run([plan(500.0, write={"pmem": 1 * MB}), plan(300.0, read={"pmem": 1 * MB}, deps=[0])], M, 4)
    op0 = 500.0 + 1 * MB / PMEM_W1 + PMEM_WLAT
    op1 = 1 * MB / PMEM_R1 + PMEM_RLAT + 300.0
    assert rs.start_ns.tolist() == pytest.approx([0.0, op0], **EXACT)
    assert rs.end_ns.tolist() == pytest.approx([op0, op0 + op1], **EXACT)
    assert rs.makespan_ns == pytest.approx(op0 + op1, **EXACT)


def test_a_transfer_joining_late_slows_the_one_running():
    # op 0 reads 10 MB from DRAM from t = 0; op 2 waits for op 1 (pure compute, C ns) and then
    # reads 2 MB from DRAM. Until C op 0 streams alone at 7.38 B/ns; then both get 14.5 / 2;
    # op 2 ends its transfer first, and op 0 finishes alone at 7.38 again.
    c = 200_000.0
    rs = run([plan(read={"dram": 10 * MB}), plan(c), plan(read={"dram": 2 * MB}, deps=[1])], M, 2)
    shared = 2 * MB / (DRAM_R2 / 2)                          # op 2's transfer, all of it shared
    served = DRAM_R1 * c + 2 * MB                             # op 0's bytes by the end of op 2's transfer
    op0_transfer = c + shared + (10 * MB - served) / DRAM_R1
    assert rs.end_ns[2] == pytest.approx(c + shared + DRAM_RLAT, **EXACT)
    assert rs.end_ns[0] == pytest.approx(op0_transfer + DRAM_RLAT, **EXACT)
    assert rs.start_ns.tolist() == pytest.approx([0.0, 0.0, c], **EXACT)
    # alone op 0 would end at 10 MB / 7.38 + latency: the 2 MB it got while shared came at 7.25
    # instead of 7.38 B/ns, and that is all of its delay
    assert rs.end_ns[0] - (10 * MB / DRAM_R1 + DRAM_RLAT) == pytest.approx(shared - 2 * MB / DRAM_R1, **EXACT)
    assert rs.stall_ns["dram"].tolist() == pytest.approx([op0_transfer + DRAM_RLAT, 0.0, shared + DRAM_RLAT],
                                                         **EXACT)


def test_one_thread_runs_ready_ops_in_order():
    # two independent ops on one worker: the second starts when the first ends
    rs = run([plan(700.0), plan(300.0, read={"dram": 1 * MB})], M, 1)
    assert rs.start_ns.tolist() == [0.0, 700.0]
    assert rs.makespan_ns == pytest.approx(700.0 + 1 * MB / DRAM_R1 + DRAM_RLAT + 300.0, **EXACT)


def test_write_amplification_multiplies_media_bytes():
    # pmem.write_amplification = 2: a 1 MB write moves 2 MB over the PMem write channel
    m = load_machine("optane-appdirect", ["pmem.write_amplification=2"])
    rs = run([plan(write={"pmem": 1 * MB})], m, 1)
    assert rs.makespan_ns == pytest.approx(2 * MB / PMEM_W1 + PMEM_WLAT, **EXACT)


def test_memory_mode_misses_expose_the_penalty_over_the_misses_in_flight():
    # optane-memory-mode: mm_miss_penalty_ns = 70 per 64 B line missed, overlapped with the
    # thread's other misses in flight (one Optane stream's 2.88 GB/s x 169.4 ns / 64 B = 7.6 lines:
    # 9.2 ns a line): the DRAM cache makes it the op's latency, charged to the backing tier (pmem)
    # between a slice's reads and its compute; each of the 2 slices waits for its half of the 500 misses
    m = load_machine("optane-memory-mode")
    assert m.mm_miss_penalty_ns == 70.0
    pmem = m.device("pmem")
    per_line = 70.0 / (pmem.bandwidth(1) * pmem.read_latency_seq_ns / 64)
    assert miss_penalty_per_line(m) == pytest.approx(per_line, **EXACT)
    rs = run([plan(1000.0, read={"dram": 1 * MB, "pmem": 1 * MB}, slices=2, items=2, latency=500 * per_line)], m, 2)
    pmem_read = 0.5 * MB / (M.device("pmem").bandwidth(2) / 2) + PMEM_RLAT
    dram_read = 0.5 * MB / (DRAM_R2 / 2) + DRAM_RLAT
    assert rs.makespan_ns == pytest.approx(dram_read + pmem_read + 250 * per_line + 500.0, **EXACT)
    assert rs.stall_ns["pmem"][0] == pytest.approx(2 * (pmem_read + 250 * per_line), **EXACT)
    assert rs.stall_ns["dram"][0] == pytest.approx(2 * dram_read, **EXACT)
    # a penalty of 0 takes the wait away
    free = load_machine("optane-memory-mode", ["machine.mm_miss_penalty_ns=0"])
    assert miss_penalty_per_line(free) == 0.0
    assert run([plan(1000.0, read={"dram": 1 * MB, "pmem": 1 * MB}, slices=2, items=2, latency=0.0)], free,
               2).makespan_ns == pytest.approx(dram_read + pmem_read + 500.0, **EXACT)
