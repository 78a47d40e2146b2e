"""The trace file: round trip, metadata, truncation and foreign/old files."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from hetier.formats.trace import FORMAT_VERSION, KINDS, EventBatch, TraceError, TraceReader, read_table, read_trace
from tests.helpers import CT, GOOD_ROWS, rows_to_batch, tiny_meta, write_tiny

ROOT = Path(__file__).resolve().parents[2]


def test_round_trip_keeps_events_and_metadata(tmp_path):
    p = write_tiny(tmp_path / "t.arrow", GOOD_ROWS)
    t = read_trace(p)
    assert t.meta["format_version"] == FORMAT_VERSION
    assert t.meta["model"]["name"] == "tiny"
    assert not t.truncated
    assert t.events.nbytes.tolist() == [r[3] for r in GOOD_ROWS]
    assert t.events.buffer.tolist() == [-1, 0, 0, 1, 0, 1, 0, -1, -1, 1, -1]
    assert not (tmp_path / "t.arrow.partial").exists()


def test_readable_columns_for_adhoc_queries(tmp_path):
    p = write_tiny(tmp_path / "t.arrow", GOOD_ROWS)
    tab = read_table(p)
    assert tab.column("event").to_pylist()[:3] == ["op_begin", "alloc", "write"]
    assert tab.column("layer").to_pylist()[-1] == "teardown"
    assert tab.column("kind").to_pylist()[1] == "ciphertext"


def _write_batches(path, n_batches):
    rows = GOOD_ROWS[:1] + [(i, "read", 0, CT) for i in range(1, 10)]
    return write_tiny(path, rows * n_batches, batch_rows=10)


def test_truncated_at_batch_boundary_is_reported(tmp_path):
    p = tmp_path / "t.arrow"
    _write_batches(p, 4)
    data = p.read_bytes()
    (tmp_path / "cut.arrow").write_bytes(data[:-8])  # drop the end-of-stream marker only
    with TraceReader(tmp_path / "cut.arrow") as r:
        n = sum(len(b) for b in r.batches())
        assert r.truncated and n == 40 and r.batches_read == 4
        assert "truncated after batch 4 (40 complete events)" in r.truncation_message()
    with pytest.raises(TraceError, match="truncated after batch 4"):
        read_trace(tmp_path / "cut.arrow")
    assert len(read_trace(tmp_path / "cut.arrow", allow_truncated=True).events) == 40


def test_truncated_inside_a_batch_keeps_complete_prefix(tmp_path):
    p = tmp_path / "t.arrow"
    _write_batches(p, 4)
    data = p.read_bytes()
    (tmp_path / "cut.arrow").write_bytes(data[: len(data) - 60])
    with TraceReader(tmp_path / "cut.arrow") as r:
        n = sum(len(b) for b in r.batches())
        assert r.truncated and n == 30


def test_foreign_and_empty_files_are_rejected(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(TraceError, match="not a hetier trace"):
        TraceReader(tmp_path / "x.txt")
    (tmp_path / "e").write_bytes(b"")
    with pytest.raises(TraceError, match="empty"):
        TraceReader(tmp_path / "e")
    with pytest.raises(TraceError, match="not found"):
        TraceReader(tmp_path / "missing.arrow")
    other = pa.table({"a": [1, 2]})
    with pa.ipc.new_stream(str(tmp_path / "o.arrow"), other.schema) as w:
        w.write_table(other)
    with pytest.raises(TraceError, match="no hetier metadata"):
        TraceReader(tmp_path / "o.arrow")


def test_unknown_format_version_is_refused(tmp_path):
    meta = tiny_meta()
    meta["format_version"] = 3
    p = write_tiny(tmp_path / "t.arrow", GOOD_ROWS, meta)
    with pytest.raises(TraceError, match="trace format 3; this hetier reads 1-2"):
        TraceReader(p)


def test_version_1_traces_still_read_and_host_buffers_round_trip(tmp_path):
    # a shipped version-1 trace: its kind and primitive dictionaries are prefixes of today's
    with TraceReader(ROOT / "tests" / "fuzz" / "corpus" / "good.arrow") as r:
        assert r.meta["format_version"] == 1
        b = EventBatch.concat(list(r.batches()))
    assert {KINDS[k] for k in np.unique(b.kind)} <= set(KINDS[:5])
    rows = [(1, "alloc", 0, 88, 1, "host", 0, 1, "constant"), (2, "free", 0, 88, 1, "host", 0, 1, "free")]
    t = read_trace(write_tiny(tmp_path / "h.arrow", rows))
    assert t.meta["format_version"] == FORMAT_VERSION == 2
    assert [KINDS[k] for k in t.events.kind] == ["host", "host"]
    assert read_table(tmp_path / "h.arrow").column("prim").to_pylist() == ["constant", "free"]


def test_writer_streams_batches_before_close(tmp_path):
    from hetier.formats.trace import TraceWriter

    w = TraceWriter(tmp_path / "t.arrow", tiny_meta(), batch_rows=4)
    w.write(rows_to_batch(GOOD_ROWS))
    assert w.rows_written >= 4  # flushed without waiting for close
    partial = w.abandon()
    with TraceReader(partial) as r:
        assert sum(len(b) for b in r.batches()) == w.rows_written
        assert r.truncated
    assert not (tmp_path / "t.arrow").exists()


def test_rows_over_the_readers_limits_are_written_as_pieces_that_add_up(tmp_path):
    # a planned tensor read of 116,214,528 ciphertexts of 786,432 B (91 TB: ResNet-50 at N=8192,
    # batch 64) is over one row's 64 TiB: written as pieces of whole ciphertexts, read back, summed
    from hetier.formats.trace import MAX_ROW_BYTES, read_trace
    from tests.helpers import write_tiny

    unit, count = 786432, 116214528
    rows = [(0, "op_begin", -1, 0, 0, "none", -1, 1), (1, "alloc", 0, unit, 1, "ciphertext", 3, 1),
            (2, "read", 0, unit * count, count, "ciphertext", 3, 1), (3, "free", 0, unit, 1, "ciphertext", 3, 1),
            (4, "op_end", -1, 0, 0, "none", -1, 1)]
    ev = read_trace(write_tiny(tmp_path / "big.arrow", rows)).events
    reads = ev.event == 2
    assert reads.sum() == 3 and (ev.nbytes[reads] <= MAX_ROW_BYTES).all()
    assert int(ev.nbytes[reads].sum()) == unit * count and int(ev.count[reads].sum()) == count
    assert (ev.nbytes[reads] == ev.count[reads] * unit).all() and (ev.ts_ns[reads] == 2).all()
