"""Ops that span batches are aggregated piece by piece (never joined in memory): the rows equal
aggregate_op's over the whole op, and a workload read from small batches equals one read from
large ones."""

from pathlib import Path

import numpy as np
from hypothesis import given, settings, strategies as st

from hetier.formats.granularity import OpAggregator, aggregate_op, aggregated_ops, op_pieces, split_ops
from hetier.formats.trace import COLUMNS, TraceReader, TraceWriter
from hetier.simulator.workload import load_workload

SAMPLE = Path(__file__).resolve().parents[2] / "traces" / "mlp-relu-b8.ciphertext.arrow"
OPS = list(split_ops(TraceReader(SAMPLE).batches()))


def _same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(getattr(a, c), getattr(b, c)) and getattr(a, c).dtype == getattr(b, c).dtype
                                    for c in COLUMNS)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(OPS) - 1), st.lists(st.floats(0, 1), max_size=12))
def test_pieces_aggregate_to_the_whole_op(op, cuts):
    ev = OPS[op]
    bounds = sorted({int(c * len(ev)) for c in cuts} - {0, len(ev)})
    agg = OpAggregator()
    for lo, hi in zip([0, *bounds], [*bounds, len(ev)]):
        agg.add(ev.rows(lo, hi))
    assert _same(agg.finish(), aggregate_op(ev))


def _rewrite(src: Path, dst: Path, batch_rows: int) -> None:
    with TraceReader(src) as r:
        meta = {k: v for k, v in r.meta.items() if k != "format_version"}  # written as this version
        w = TraceWriter(dst, meta, batch_rows=batch_rows)
        for b in r.batches():
            w.write(b)
        w.close()


def test_small_batches_give_the_same_ops_and_workload(tmp_path):
    small = tmp_path / "small.arrow"
    _rewrite(SAMPLE, small, 97)  # every op spans many batches, cut anywhere
    pieces = list(op_pieces(TraceReader(small).batches()))
    assert sum(1 for _, first, last in pieces if not (first and last)) > 10
    whole = list(aggregated_ops(TraceReader(SAMPLE).batches()))
    cut = list(aggregated_ops(TraceReader(small).batches()))
    assert len(whole) == len(cut) and all(_same(a, b) for a, b in zip(whole, cut))
    a, b = load_workload(str(SAMPLE)), load_workload(str(small))
    assert (a.live_peak_bytes, a.resident_peak_bytes) == (b.live_peak_bytes, b.resident_peak_bytes)
    for x, y in zip(a.ops, b.ops):
        for f in ("alloc_tensor", "alloc_count", "free_tensor", "free_count", "acc_tensor", "acc_bytes", "acc_count",
                  "acc_footprint"):
            assert np.array_equal(getattr(x, f), getattr(y, f)), f
        assert (x.duration_ns, x.parallelism) == (y.duration_ns, y.parallelism)
    assert len(a.ops) == len(b.ops)


def test_an_op_cut_off_by_truncation_counts_in_no_peak(tmp_path):
    """A truncated trace's last, incomplete op is left out of the ops and of the peaks alike."""
    small = tmp_path / "small.arrow"
    _rewrite(SAMPLE, small, 97)
    data = small.read_bytes()
    cut = tmp_path / "cut.arrow"
    cut.write_bytes(data[: len(data) // 2])
    w = load_workload(str(cut), allow_truncated=True)
    complete = OPS[: len(w.ops)]
    live = np.cumsum(np.concatenate([e.live_delta() for e in complete]))
    assert w.truncated and 0 < len(w.ops) < len(OPS)
    assert w.live_peak_bytes == max(int(live.max()), 0)
