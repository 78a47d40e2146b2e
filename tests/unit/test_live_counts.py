"""Live counts (hetier/formats/live_counts.py): the one alloc/free rule, event by event and op by
op, with values derived by hand, and its callers (aggregation, workload footprints, tensor
lifetimes, a placement's per-tier live bytes) on one hand-built trace."""

from __future__ import annotations

import numpy as np

from hetier.formats.live_counts import LiveBytes, add_live, carry_live, carry_op, live_changes, live_with, release_live
from hetier.simulator.machines import load_machine
from hetier.simulator.placement import place
from hetier.simulator.policies import get_policy
from hetier.simulator.tensor_lifetimes import tensor_lifetimes
from hetier.simulator.workload import load_workload
from tests.helpers import rows_to_batch, write_tiny


def test_live_changes_per_key_in_event_order():
    # keys 1, 2, 1, 1, 2, 5 with +3, +1, -1, +2, -1, -2: key 1 goes 3, 2, 4; key 2 goes 1, 0; key 5 -2
    ch = live_changes(np.array([1, 2, 1, 1, 2, 5]), np.array([3, 1, -1, 2, -1, -2]))
    assert ch.keys.tolist() == [1, 2, 5]
    assert ch.order.tolist() == [0, 2, 3, 1, 4, 5]
    assert ch.start.tolist() == [0, 3, 5]
    assert ch.sizes.tolist() == [3, 2, 1]
    assert ch.change.tolist() == [3, 2, 4, 1, 0, -2]
    assert ch.last.tolist() == [2, 4, 5]
    assert ch.final.tolist() == [4, 0, -2]
    assert ch.peak.tolist() == [4, 1, 0]  # a key only freed never rose
    assert ch.order[ch.span(1)].tolist() == [1, 4]


def test_live_changes_of_no_events():
    ch = live_changes(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert len(ch.keys) == 0 and len(ch.change) == 0


def test_carry_adds_then_releases_never_below_zero():
    live: dict[int, int] = {}
    assert live_with(live, [1, 2], [3, 1]) == {1: 3, 2: 1}
    assert live == {}  # live_with leaves its input alone
    carry_live(live, [1, 2], [3, 1], [1, 2], [1, 1])
    assert live == {1: 2}  # tensor 2 reached zero and left
    carry_live(live, [1], [1], [1, 7], [5, 1])
    assert live == {}  # a free of more than is live releases what is; an unknown key is no-op
    add_live(live, np.array([4]), np.array([0]))
    assert live == {4: 0}  # an allocation of nothing is counted as live (zero) until freed
    release_live(live, [4], [0])
    assert live == {}


def test_carry_op_reads_alloc_and_free_rows():
    ev = rows_to_batch([(0, "op_begin", -1, 0, 0, "none", -1, 1), (1, "alloc", 3, 300, 3), (2, "read", 3, 100),
                        (3, "free", 3, 200, 2), (4, "op_end", -1, 0, 0, "none", -1, 1)])
    live = {3: 1, 9: 4}
    carry_op(live, ev)
    assert live == {3: 2, 9: 4}


def test_live_bytes_carries_the_total_and_finds_the_peak_row():
    lb = LiveBytes()
    # bytes after each row: 100, 400, 300; then 300 (a read), 200; then 700, 500, 400
    assert lb.add(rows_to_batch([(1, "alloc", 0, 100), (2, "alloc", 1, 300), (3, "free", 0, 100)])) == 1
    assert (lb.now, lb.peak) == (300, 400)
    assert lb.add(rows_to_batch([(4, "read", 1, 300), (5, "free", 1, 100)])) is None  # below the peak
    assert lb.add(rows_to_batch([(6, "alloc", 2, 500), (7, "free", 1, 200), (8, "free", 2, 100)])) == 0
    assert (lb.now, lb.peak) == (400, 700)
    assert lb.add(rows_to_batch([])) is None and lb.now == 400


P, C = 1000, 3000  # bytes of one plaintext, one ciphertext buffer
TENSORS = {1: ("plaintext", P), 2: ("ciphertext", C)}
OPS = [  # per op (layer): event buffer/tensor, in order
    "alloc 10/1, alloc 11/1, alloc 20/2, write 20/2, free 11/1",
    "alloc 21/2, alloc 22/2, read 21/2, free 20/2, free 10/1",
    "free 21/2, free 22/2",
]


def _rows(ops: list[str]) -> list[tuple]:
    """Trace rows (tests.helpers.rows_to_batch) of ops written as "event buffer/tensor, ..."."""
    rows: list[tuple] = []
    for layer, spec in enumerate(ops):
        rows.append((len(rows), "op_begin", -1, 0, 0, "none", -1, layer))
        for item in spec.split(", "):
            event, ids = item.split()
            buf, tensor = map(int, ids.split("/"))
            kind, nbytes = TENSORS[tensor]
            rows.append((len(rows), event, buf, nbytes, 1, kind, 3, layer, "none", tensor))
        rows.append((len(rows), "op_end", -1, 0, 0, "none", -1, layer))
    return rows


def test_callers_count_one_hand_built_trace(tmp_path):
    """Tensor 1 (plaintext): 2 live in op 0, 1 at its end, freed in op 1. Tensor 2 (ciphertext):
    1 in op 0; 3 at op 1's peak (2 allocated, then 1 freed), 2 at its end; freed in op 2."""
    wl = load_workload(write_tiny(tmp_path / "t.arrow", _rows(OPS)))
    # aggregation: per op and tensor, alloc count = peak rise, free count = peak - final
    got = [(o.alloc_tensor.tolist(), o.alloc_count.tolist(), o.free_tensor.tolist(), o.free_count.tolist())
           for o in wl.ops]
    assert got == [([1, 2], [2, 1], [1], [1]), ([2], [2], [1, 2], [1, 1]), ([], [], [2], [2])]
    # workload footprints: the tensor's live count at the op's peak x its buffer bytes
    assert [o.acc_footprint.tolist() for o in wl.ops] == [[C], [3 * C], []]
    # tensor lifetimes: live bytes at each op's peak instant, per tensor and in all
    lt = tensor_lifetimes(wl, 0)
    by = lt.by_id()
    assert (by[1].first_op, by[1].last_op, by[1].live.tolist(), by[1].nbytes) == (0, 1, [2 * P, P], 2 * P)
    assert (by[2].first_op, by[2].last_op, by[2].live.tolist(), by[2].nbytes) == (0, 2, [C, 3 * C, 2 * C], 3 * C)
    assert lt.peak_live.tolist() == [2 * P + C, P + 3 * C, 2 * C]
    # placement: kind-aware puts the plaintext in DRAM, the ciphertext in PMem; per tier live bytes
    machine = load_machine("optane-appdirect")
    pl = place(wl, machine, get_policy("kind-aware", machine.tier_names))
    assert pl.live_peak == {"dram": [2 * P, P, 0], "pmem": [C, 3 * C, 2 * C]}
    assert pl.live_end == {"dram": [P, 0, 0], "pmem": [C, 2 * C, 0]}
    assert pl.peak == {"dram": 2 * P, "pmem": 3 * C}


def test_seal_pool_counts_blocks_per_size_in_one_batch():
    """Two block sizes interleaved: 100 B blocks live 1, 2, 1, 2 (peak 2), 300 B blocks 1, 0, 1."""
    from hetier.formats.seal_pool import ResidentPeak

    batch = rows_to_batch([(1, "alloc", 0, 100), (2, "alloc", 1, 300), (3, "alloc", 2, 100), (4, "free", 0, 100),
                           (5, "alloc", 3, 100), (6, "free", 1, 300), (7, "alloc", 4, 300)])
    exact = ResidentPeak(batches=False)
    exact.add(batch)
    assert (exact.live, exact.peak, exact.best) == ({100: 2, 300: 1}, {100: 2, 300: 1}, 2 * 100 + 300)
    pooled = ResidentPeak()  # SEAL grows a class in batches 1, 2, ...: a peak of 2 blocks holds 3
    pooled.add(batch)
    assert pooled.best == 3 * 100 + 300


def test_checker_counts_each_buffers_ciphertexts(tmp_path):
    """Buffer 5: 2 live, 3 freed (a double free); buffer 6: 3 live, 1 freed (2 live at the end)."""
    from hetier.analysis.check import check_trace

    rows = [(0, "op_begin", -1, 0, 0, "none", -1, 1), (1, "alloc", 5, 200, 2), (2, "alloc", 6, 300, 3),
            (3, "free", 5, 300, 3), (4, "free", 6, 100, 1), (5, "op_end", -1, 0, 0, "none", -1, 1)]
    rep = check_trace(write_tiny(tmp_path / "t.arrow", rows))
    assert rep.counts == {"double free": 1, "live at end": 1}
    assert rep.examples == {"double free": ["event 3: free of buffer 5"], "live at end": ["buffer 6 (2 live)"]}
