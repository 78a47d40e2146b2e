"""Each accumulator of the one trace pass on tiny hand-written batches, with exact answers derived
here; the driver's dependency order, empty batches, truncation and read-once behaviour."""

from types import SimpleNamespace

import numpy as np
import pytest

from hetier.analysis.buffer_metrics import BufferTable, HotCold, Lifetimes, ReuseDistance, Sites, TensorSpans
from hetier.analysis.event_metrics import (BuffersByKind, EventCounts, LayerTraffic, LivePeak, OpTimes, PoolPeak,
                                           TrafficByPrim)
from hetier.analysis.live_curves import LiveByKind, LiveByLayer
from hetier.analysis.trace_pass import Accumulator, TracePass, drive, run_pass
from hetier.errors import HetierError
from tests.helpers import rows_to_batch, tiny_meta, write_tiny

# layers: 0 input, 1 op1, 2 teardown. Buffer 0: 100 B ciphertext; buffer 1: 3 plaintexts of 100 B.
FIRST = [
    (0, "op_begin", -1, 0, 0, "none", -1, 1),
    (1, "alloc", 0, 100),
    (2, "write", 0, 100, 1, "ciphertext", 3, 1, "encrypt"),
    (3, "alloc", 1, 300, 3, "plaintext"),
    (4, "write", 1, 300, 3, "plaintext", 3, 1, "encode"),
]
SECOND = [
    (5, "read", 0, 100, 1, "ciphertext", 3, 1, "multiply_plain"),  # 300 B touched since buffer 0's last access
    (6, "read", 0, 100, 1, "ciphertext", 3, 1, "add"),  # 0 B since
    (7, "free", 1, 300, 3, "plaintext"),
    (8, "op_end", -1, 0, 0, "none", -1, 1),
    (9, "op_begin", -1, 0, 0, "none", -1, 2),
    (10, "free", 0, 100, 1, "ciphertext", 3, 2),
    (12, "op_end", -1, 0, 0, "none", -1, 2),
]


def _feed(accs, batches, meta=None):
    meta = meta or tiny_meta()
    drive(accs, [rows_to_batch(rows) for rows in batches], SimpleNamespace(meta=meta, layer_names=[l["name"] for l in meta["layers"]]))
    return [a.result for a in accs]


def _two_batches(*accs):
    """The same rows in one batch and split in two (state carried across batches) give equal
    results (dicts compare without their order, which follows the batches)."""
    whole = _feed([type(a)() for a in accs], [FIRST + SECOND]) if all(not a.needs for a in accs) else None
    split = _feed(list(accs), [FIRST, SECOND])
    if whole is not None:
        for w, s in zip(whole, split):
            assert np.array_equal(w, s) if isinstance(w, np.ndarray) else w == s
    return split


def test_event_counts_in_order_of_first_appearance():
    (counts,) = _two_batches(EventCounts())
    # first batch holds alloc (code 0), write (3), op_begin (4); the second adds free, read, op_end
    assert list(counts.items()) == [("alloc", 2), ("write", 2), ("op_begin", 2), ("free", 2), ("read", 2), ("op_end", 2)]


def test_op_times_pair_begin_and_end_in_row_order():
    (ops,) = _feed([OpTimes(slices=True)], [FIRST, SECOND])
    assert ops.ns == {1: 8 - 0, 2: 12 - 9} and ops.duration_ns == 12
    assert ops.slices == [(1, 0, 8), (2, 9, 12)]
    # a layer that runs twice in one batch: each end pairs with its own begin; an end without a begin is 0 ns
    rows = [(0, "op_begin", -1, 0, 0, "none", -1, 1), (5, "op_end", -1, 0, 0, "none", -1, 1),
            (7, "op_begin", -1, 0, 0, "none", -1, 1), (10, "op_end", -1, 0, 0, "none", -1, 1),
            (11, "op_end", -1, 0, 0, "none", -1, 2)]
    (twice,) = _feed([OpTimes(slices=True)], [rows])
    assert twice.ns == {1: 5 + 3, 2: 0} and twice.slices == [(1, 0, 5), (1, 7, 10), (2, 11, 11)]


def test_live_peak_value_time_and_layer():
    (peak,) = _two_batches(LivePeak())
    # live: 100 at ts 1, 100 + 300 = 400 at ts 3 (op1), then 100, 0
    assert (peak.bytes, peak.ts_ns, peak.layer) == (400, 3, "op1")


def test_pool_peak_keeps_each_size_class():
    rows = [(1, "alloc", 0, 100), (2, "free", 0, 100), (3, "alloc", 1, 300), (4, "free", 1, 300),
            (5, "alloc", 2, 200, 2), (6, "free", 2, 200, 2)]
    pool, peak = _feed([PoolPeak(), LivePeak()], [rows])
    # live never exceeds 300 B, but a freed 100 B block cannot hold a 300 B one: class 100 B peaks
    # at 2 blocks (buffer 2 is two 100 B ciphertexts), class 300 B at 1; SEAL's pool grows in
    # batches of 1, then 2 blocks, so the 100 B class holds 3 -> 3 x 100 + 300
    assert peak.bytes == 300 and pool == 3 * 100 + 300


def test_pool_peak_adds_host_memory_while_live_and_returns_it():
    # host buffers (malloc'd) count only while live; the pool keeps what it grew to
    rows = [(1, "alloc", 0, 100), (2, "alloc", 1, 500, 1, "host"), (3, "free", 1, 500, 1, "host"),
            (4, "free", 0, 100), (5, "alloc", 2, 400, 1, "host"), (6, "free", 2, 400, 1, "host")]
    (pool,) = _feed([PoolPeak()], [rows])
    assert pool == 100 + 500
    (split,) = _feed([PoolPeak()], [rows[:2], rows[2:]])  # state carried across batches
    assert split == 100 + 500
    later = rows[:4] + [(5, "alloc", 2, 600, 1, "host")]  # after the pool's block was freed: 100 held + 600
    (pool,) = _feed([PoolPeak()], [later])
    assert pool == 100 + 600


def test_resident_model_reports_its_level_and_each_batch_high():
    from hetier.formats.seal_pool import ResidentPeak

    m = ResidentPeak()
    m.add(rows_to_batch([(1, "alloc", 0, 100), (2, "alloc", 1, 500, 1, "host"), (3, "free", 1, 500, 1, "host")]))
    assert (m.last_high, m.now, m.best) == (600, 100, 600)
    m.add(rows_to_batch([(4, "free", 0, 100)]))  # the pool keeps its block
    assert (m.last_high, m.now) == (100, 100)
    exact = ResidentPeak(batches=False, host=False)
    exact.add(rows_to_batch([(1, "alloc", 0, 200, 2), (2, "alloc", 1, 500, 1, "host")]))
    assert exact.best == 200  # two 100 B blocks held exactly, host left out (batches would hold 3)


def test_seal_pool_batches_grow_by_five_percent():
    from hetier.formats.seal_pool import pool_blocks
    # batches 1, 2, 3, ..., each ceil(1.05 x the previous): totals 1, 3, 6, 10, ...
    assert [pool_blocks(n) for n in (0, 1, 2, 3, 4, 7, 100)] == [0, 1, 3, 3, 6, 10, 105]
    # a large class holds at most one batch (about 1/21 of the total) above its peak
    assert 1.0 <= pool_blocks(10 ** 6) / 10 ** 6 < 1.05


def test_buffers_by_kind_sums_counts_and_bytes():
    (kinds,) = _two_batches(BuffersByKind())
    assert kinds == {"ciphertext": (1, 100), "plaintext": (3, 300)}


def test_traffic_by_primitive_and_by_layer():
    prims, layers = _two_batches(TrafficByPrim(), LayerTraffic())
    # first batch: encode (code 2) and encrypt (3) write; second: multiply_plain (7), add (9) read
    assert list(prims.items()) == [("encode", (0, 300)), ("encrypt", (0, 100)), ("multiply_plain", (100, 0)), ("add", (100, 0))]
    assert layers.tolist() == [[0, 0], [100 + 100, 100 + 300], [0, 0]]


def test_buffer_table_lifetimes_sites_and_hot_cold():
    table, ops = BufferTable(), OpTimes()
    lifetimes = Lifetimes(table, ops)
    sites, hot = Sites(table, lifetimes), HotCold(table)
    _feed([sites, hot], [FIRST, SECOND])
    t = table.result
    assert t.allocated.tolist() == [0, 1] and t.last_alloc_free_ns == 10
    assert (t.alloc_layer.a[:2].tolist(), t.free_layer.a[:2].tolist()) == ([1, 1], [2, 1])
    assert (t.reads.a[:2].tolist(), t.writes.a[:2].tolist(), t.alloc_count.a[:2].tolist()) == ([200, 0], [100, 300], [1, 3])
    assert lifetimes.result.ns.tolist() == [10 - 1, 7 - 3] and not lifetimes.result.derived.any()
    s = sites.result
    assert s["kind"] == ["ciphertext", "plaintext"] and s["layer"] == ["op1", "op1"]
    assert s["reads_per_byte"] == [200 / 100, 0.0] and s["writes_per_byte"] == [100 / 100, 300 / 300]
    assert s["bytes_never_read"] == [0.0, 300.0] and s["count"] == [1, 3]
    assert s["mean_lifetime_s"] == pytest.approx([9e-9, 4e-9])
    # accesses per byte: buffer 0 300/100 = 3 (hottest), buffer 1 300/300 = 1
    h = hot.result
    assert h.x.tolist() == [0.0, 100 / 400, 1.0] and h.y.tolist() == [0.0, 300 / 600, 1.0] and h.allocated_bytes == 400


def test_a_buffer_split_over_alloc_rows_is_their_sum_and_a_reused_one_its_largest():
    """The writer splits a row over MAX_ROW_BYTES into rows of one buffer: a 386 GB-per-tensor plan's
    report said 139,810 GB 'allocated over the run' under a live peak of 9.4 million GB (the size was
    the largest row). Rows that add up while the buffer is live, across batches too; a buffer freed
    and allocated again is the larger of its two lives."""
    first = [(1, "alloc", 0, 700, 7), (1, "alloc", 0, 700, 7), (2, "alloc", 1, 50), (3, "free", 1, 50)]
    second = [(1, "alloc", 0, 600, 6), (4, "alloc", 1, 80), (5, "free", 0, 2000, 20), (6, "alloc", 0, 900, 9)]
    for batches in ([first, second], [first + second]):
        table = BufferTable()
        _feed([HotCold(table)], batches)
        t = table.result
        assert t.size.a[:2].tolist() == [2000, 80] and t.alloc_count.a[:2].tolist() == [29, 2]


def test_buffer_never_freed_lives_to_the_last_alloc_or_free():
    table, ops = BufferTable(), OpTimes()
    lifetimes = Lifetimes(table, ops)
    _feed([lifetimes], [[(2, "alloc", 5, 100), (4, "alloc", 9, 100), (7, "free", 9, 100), (9, "read", 5, 100)]])
    assert lifetimes.result.ns.tolist() == [7 - 2, 7 - 4]


def test_reuse_distance():
    (h,) = _feed([ReuseDistance(BufferTable())], [FIRST, SECOND])
    # distances: 300 B (bin 1 + floor(log2 300) = 9), then 0 B (bin 0); first touches: 100 B + 300 B,
    # 1 + 3 ciphertexts
    assert {k: v for k, v in enumerate(h.bytes.tolist()) if v} == {0: 100, 9: 100}
    assert (h.cold_bytes, h.cold_accesses) == (400, 4)


def test_live_bytes_by_kind_and_by_allocating_layer():
    table = BufferTable()
    by_kind, by_layer, only_other = LiveByKind(), LiveByLayer(table), LiveByLayer(table, top=0)
    _feed([by_kind, by_layer, only_other], [FIRST, SECOND])
    ts, kinds = by_kind.result
    assert ts.tolist() == [1, 3, 7, 10]
    assert {k: v.tolist() for k, v in kinds.items()} == {"ciphertext": [100, 100, 100, 0], "plaintext": [0, 300, 0, 0]}
    # both buffers were allocated in op1, even buffer 0 freed in teardown
    assert {k: v.tolist() for k, v in by_layer.result.items()} == {"op1": [100, 400, 100, 0]}
    assert {k: v.tolist() for k, v in only_other.result.items()} == {"other layers": [100, 400, 100, 0]}


def test_live_curves_hold_bounded_samples_with_exact_values():
    """A long stream of allocs and frees in many batches: the curves hold at most 2 x MAX_POINTS
    samples at any time, every kept sample is the exact live total at its row, the peak survives."""
    from hetier.analysis import live_curves

    rng = np.random.default_rng(5)
    batches, live, ts, exact = [], {}, 0, []
    for _ in range(40):
        rows = []
        for _ in range(600):
            ts += 1
            if live and rng.random() < 0.45:
                b = int(rng.choice(list(live)))
                rows.append((ts, "free", b, live.pop(b)))
            else:
                b, nb = ts, int(rng.integers(1, 10**6))
                live[b] = nb
                rows.append((ts, "alloc", b, nb))
            exact.append((ts, sum(live.values())))
        batches.append(rows)
    by_kind = LiveByKind()
    held = []
    original_add = by_kind.add

    def add(b):
        original_add(b)
        held.append(by_kind.held)

    by_kind.add = add
    (result,) = _feed([by_kind], batches)
    got_ts, kinds = result
    assert max(held) <= 2 * live_curves.MAX_POINTS + 2 and by_kind.stride > 1
    want = dict(exact)
    total = sum(kinds.values())
    assert [want[t] for t in got_ts.tolist()] == total.tolist()
    assert total.max() == max(v for _, v in exact)
    assert len(got_ts) <= live_curves.MAX_POINTS + 2


def test_shared_needs_run_once_and_first():
    calls = []

    class Counting(BufferTable):
        def add(self, b):
            calls.append("table")
            super().add(b)

    class Reader(Accumulator):
        def __init__(self, table):
            self.needs = (table,)

        def add(self, b):
            calls.append("reader")

    table = Counting()
    _feed([Reader(table), Reader(table)], [FIRST, [], SECOND])  # the empty batch is skipped
    assert calls == ["table", "reader", "reader"] * 2


def _tensor_rows(tensor: int) -> list[tuple]:
    """Tensor granularity: tensor 3 lives across ops; ``tensor`` is made inside op1 (1000 ns): 2
    ciphertexts live at once, 10 written by copy (so 10 made)."""
    return [
        (0, "op_begin", -1, 0, 0, "none", -1, 0),
        (1, "alloc", 3, 400, 4, "ciphertext", 3, 0, "encrypt"),
        (10, "op_end", -1, 0, 0, "none", -1, 0),
        (10, "op_begin", -1, 0, 0, "none", -1, 1),
        (10, "alloc", tensor, 200, 2, "temporary", 3, 1),
        (10, "write", tensor, 1000, 10, "temporary", 3, 1, "copy"),
        (10, "free", tensor, 200, 2, "temporary", 3, 1),
        (1010, "op_end", -1, 0, 0, "none", -1, 1),
        (1010, "op_begin", -1, 0, 0, "none", -1, 2),
        (1020, "free", 3, 400, 4, "ciphertext", 3, 2),
        (1030, "op_end", -1, 0, 0, "none", -1, 2),
    ]


def test_tensor_spans_use_op_share_lifetimes_by_tensor_id():
    spans = TensorSpans(Lifetimes(BufferTable(), OpTimes()))
    # tensor 7 is the second buffer seen (dense index 1): the op share is keyed by its id, 7
    _feed([spans], [_tensor_rows(7)], tiny_meta(granularity="tensor", mode="plan"))
    assert spans.lifetimes.result.derived_by_id == {7: 1000 * 2 / 10}
    assert [(s.tensor, s.kind, s.layer, s.start_ns, s.end_ns, s.derived) for s in spans.result] == [
        (3, "ciphertext", 0, 1, 1020, False), (7, "temporary", 1, 10, 10 + 200, True)]


def test_pass_reads_a_trace_once_and_reports_truncation(tmp_path):
    path = write_tiny(tmp_path / "t.arrow", FIRST + SECOND, batch_rows=5)  # batches of 5, 5, 2 rows
    peak = LivePeak()
    tp = run_pass(path, [peak])
    assert (tp.events, tp.truncated, peak.result.bytes) == (12, None, 400)
    with pytest.raises(RuntimeError):
        tp.run([LivePeak()])
    data = (tmp_path / "t.arrow").read_bytes()
    cut = tmp_path / "cut.arrow"
    for size in range(len(data) - 1, 0, -1):  # the longest prefix that holds exactly one batch
        cut.write_bytes(data[:size])
        counts = EventCounts()
        try:
            tp = run_pass(cut, [counts])
        except HetierError:
            continue
        if tp.events == 5:
            break
    assert tp.truncated.endswith("truncated after batch 1 (5 complete events)")
    assert counts.result == {"alloc": 2, "write": 2, "op_begin": 1}  # the first batch's rows only


def test_require_events_refuses_an_empty_trace(tmp_path):
    from hetier.formats.trace import TraceWriter

    empty = tmp_path / "empty.arrow"
    TraceWriter(empty, tiny_meta()).close()
    with pytest.raises(HetierError, match="ends without events: no events to show"):
        TracePass(empty, require_events=True)


def test_info_report_and_export_read_the_trace_once(tmp_path, capsys, monkeypatch):
    from hetier.cli.main import main
    from hetier.formats.trace import TraceReader

    trace = str(tmp_path / "t.arrow")
    write_tiny(trace, FIRST + SECOND, batch_rows=5)
    reads = []

    def counted(read):
        def counting(self):
            reads.append(self.path)
            return read(self)
        return counting

    for name in ("batches", "record_batches"):  # the two ways to read a trace's rows
        monkeypatch.setattr(TraceReader, name, counted(getattr(TraceReader, name)))
    for argv in (["info", trace], ["info", trace, "--json"], ["report", trace, "--format", "text"],
                 ["report", trace, "-o", str(tmp_path / "r.html")],
                 ["export", trace, "--format", "perfetto", "-o", str(tmp_path / "t.json")],
                 ["export", trace, "--format", "parquet", "-o", str(tmp_path / "t.parquet")]):
        reads.clear()
        assert main(argv) == 0, argv
        assert len(reads) == 1, argv
    capsys.readouterr()
