"""hetier check: every condition that would make another verb fail or lie, with its first event."""

import numpy as np
import pytest

from hetier.analysis.check import check_trace
from hetier.formats.trace import TraceWriter
from tests.helpers import CT, GOOD_ROWS, rows_to_batch, tiny_meta, write_tiny


def _with(tmp_path, column, row, value):
    b = rows_to_batch(GOOD_ROWS)
    getattr(b, column)[row] = value
    w = TraceWriter(tmp_path / "t.arrow", tiny_meta())
    w.write(b)
    return str(w.close())


def test_good_trace_is_consistent(tmp_path):
    rep = check_trace(write_tiny(tmp_path / "t.arrow", GOOD_ROWS))
    assert rep.ok and rep.events == len(GOOD_ROWS)


@pytest.mark.parametrize("column, row, value, what", [
    ("nbytes", 2, 1 << 62, "bytes over"),
    ("nbytes", 2, -1, "negative size or count"),
    ("count", 2, -3, "negative size or count"),
    ("event", 4, 7, "event code out of range"),
    ("kind", 4, 9, "kind code out of range"),
    ("prim", 4, 99, "primitive code out of range"),
    ("layer", 4, 40, "layer out of range"),
    ("buffer", 4, -9, "buffer or tensor id out of range"),
    ("level", 4, -5, "level out of range"),
    ("ts_ns", 5, -1, "timestamp out of range"),
])
def test_values_out_of_range(tmp_path, column, row, value, what):
    rep = check_trace(_with(tmp_path, column, row, value))
    key = next(k for k in rep.counts if k.startswith(what))
    assert rep.counts[key] == 1 and rep.examples[key] == [f"event {row}"]


def test_time_going_backwards(tmp_path):
    rep = check_trace(_with(tmp_path, "ts_ns", 8, 3))  # the second op begins before the first ended
    assert rep.examples["time going backwards between op rows"] == ["event 8: op_begin at 3 ns after 7 ns"]
    rep = check_trace(_with(tmp_path, "ts_ns", 9, 2))  # an event before its op began
    assert rep.examples["time going backwards: event before its op began"] == ["event 9: 2 ns, op began at 8 ns"]


def test_huge_buffer_ids_cost_memory_by_events_not_value(tmp_path):
    rows = [(r[0], r[1], r[2] + (1 << 40) if r[2] >= 0 else -1, *r[3:]) for r in GOOD_ROWS]
    rep = check_trace(write_tiny(tmp_path / "t.arrow", rows))
    assert rep.ok
    rows[4] = (4, "read", 7 << 50, CT)
    rep = check_trace(write_tiny(tmp_path / "u.arrow", rows))
    assert rep.examples["access to unknown buffer"] == [f"event 4: read of buffer {7 << 50}"]


def test_live_bytes_overflow(tmp_path):
    big = 1 << 46
    rows = [(0, "op_begin", -1, 0, 0, "none", -1, 1)]
    rows += [(1 + i, "alloc", i, big) for i in range(1 << 16 + 1)][: (1 << 16) + 2]
    rep = check_trace(write_tiny(tmp_path / "t.arrow", rows))
    assert rep.counts["live bytes over 2^62 (sums overflow)"] >= 1
    assert rep.examples["live bytes over 2^62 (sums overflow)"][0] == f"event {(1 << 16) + 1}"


def test_corruption_is_reported_as_such(tmp_path):
    p = write_tiny(tmp_path / "t.arrow", GOOD_ROWS, batch_rows=4)
    data = bytearray(open(p, "rb").read())
    data[-40] ^= 0xFF
    (tmp_path / "c.arrow").write_bytes(bytes(data))
    rep = check_trace(str(tmp_path / "c.arrow"))
    assert not rep.ok and rep.corrupt and "corrupt" in rep.corrupt and rep.truncated is None
    assert np.isfinite(rep.events)


@pytest.mark.parametrize("batch_rows", [4, 1 << 16])
def test_events_outside_ops_across_batches(tmp_path, batch_rows):
    assert check_trace(write_tiny(tmp_path / "g.arrow", GOOD_ROWS, batch_rows=batch_rows)).ok
    rows = GOOD_ROWS[:8] + [(7, "read", 1, CT)] + GOOD_ROWS[8:]  # between op 1's end and op 2's begin
    rep = check_trace(write_tiny(tmp_path / "t.arrow", rows, batch_rows=batch_rows))
    assert rep.counts == {"memory event outside an op": 1}
    assert rep.examples["memory event outside an op"] == ["event 8"]
