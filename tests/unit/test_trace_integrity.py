"""Traces: corruption is reported as corruption, never read as other events; ranges enforced."""

import numpy as np
import pytest

from hetier.formats.trace import TraceError, TraceReader, TraceWriter, read_trace
from tests.helpers import GOOD_ROWS, rows_to_batch, tiny_meta, write_tiny


def _events(path):
    t = read_trace(path, allow_truncated=True)
    return t.meta, {c: getattr(t.events, c).tolist() for c in ("ts_ns", "event", "buffer", "nbytes", "layer")}


def test_every_single_bit_flip_is_caught_or_harmless(tmp_path):
    good = write_tiny(tmp_path / "t.arrow", GOOD_ROWS, batch_rows=4)
    data = open(good, "rb").read()
    want = _events(good)
    outcomes = {"caught": 0, "same events": 0}
    bad = tmp_path / "bad.arrow"
    for pos in range(0, len(data), 4):  # every 4th byte, a different bit each time (the fuzz run does all)
        flipped = bytearray(data)
        flipped[pos] ^= 1 << (pos % 8)
        bad.write_bytes(bytes(flipped))
        try:
            got = _events(bad)
        except TraceError:
            outcomes["caught"] += 1
            continue
        assert got == want, f"a flip at byte {pos} changed the trace silently"
        outcomes["same events"] += 1
    assert outcomes["caught"] > len(data) // 8


def test_corrupt_batch_is_not_called_truncated(tmp_path):
    good = write_tiny(tmp_path / "t.arrow", GOOD_ROWS, batch_rows=4)
    data = bytearray(open(good, "rb").read())
    msgs = set()
    for pos in range(len(data) // 2, len(data) - 8, 5):
        d = bytearray(data)
        d[pos] ^= 0x04
        (tmp_path / "b.arrow").write_bytes(bytes(d))
        try:
            read_trace(tmp_path / "b.arrow")
        except TraceError as e:
            msgs.add("corrupt" in str(e) or "invalid" in str(e))
    assert msgs == {True}


def test_bytes_after_the_end_marker_are_refused(tmp_path):
    good = write_tiny(tmp_path / "t.arrow", GOOD_ROWS)
    with open(good, "ab") as f:
        f.write(open(good, "rb").read()[:100])
    with pytest.raises(TraceError, match="100 bytes after its end-of-stream marker"):
        read_trace(good)


def test_partial_killed_before_its_first_batch(tmp_path):
    p = tmp_path / "run.arrow.abc123.partial"
    p.write_bytes(b"")
    with pytest.raises(TraceError, match="stopped before the first batch"):
        TraceReader(p)


def test_two_writers_cannot_interleave(tmp_path):
    w = TraceWriter(tmp_path / "c.arrow", tiny_meta())
    with pytest.raises(TraceError.__mro__[1], match="another hetier is writing"):
        TraceWriter(tmp_path / "c.arrow", tiny_meta(layers=("a", "b", "c", "d")))
    w.write(rows_to_batch(GOOD_ROWS))
    w.close()
    assert len(read_trace(tmp_path / "c.arrow").events) == len(GOOD_ROWS)


@pytest.mark.parametrize("column, value, what", [
    ("event", 9, "event code out of range"),
    ("layer", 7, "layer out of range"),
    ("nbytes", -5, "negative size or count"),
    ("nbytes", 1 << 62, "bytes over"),
    ("buffer", -7, "buffer or tensor id out of range"),
    ("ts_ns", -1, "timestamp out of range"),
])
def test_values_out_of_range_are_refused_by_readers(tmp_path, column, value, what):
    b = rows_to_batch(GOOD_ROWS)
    getattr(b, column)[3] = value
    w = TraceWriter(tmp_path / "t.arrow", tiny_meta())
    w.write(b)
    w.close()
    with pytest.raises(TraceError, match=f"{what}.* at event 3"):
        read_trace(tmp_path / "t.arrow")


@pytest.mark.parametrize("meta_change, msg", [
    (lambda m: m.pop("layers"), "missing 'layers'"),
    (lambda m: m.update(he=[1, 2]), "he must be a table"),
    (lambda m: m["model"].update(name="x" * 100_000), "model.name is longer than 200"),
    (lambda m: m.update(granularity="banana"), "granularity must be one of ciphertext, tensor"),
    (lambda m: m["he"].update(batch=float("nan")), "he.batch must be a finite number"),
])
def test_bad_metadata_is_one_error(tmp_path, meta_change, msg):
    meta = tiny_meta()
    meta_change(meta)
    import json

    import pyarrow as pa

    from hetier.formats.trace import schema

    good = tiny_meta()
    good.update(magic="hetier-trace", format_version=1)
    meta.update(magic="hetier-trace", format_version=1)
    sch = schema(good).with_metadata({b"hetier": json.dumps(meta).encode()})
    with pa.OSFile(str(tmp_path / "m.arrow"), "wb") as f:
        pa.ipc.new_stream(f, sch).close()
    with pytest.raises(TraceError, match=msg.replace("(", r"\(")):
        TraceReader(tmp_path / "m.arrow")


def test_sample_traces_without_checksums_stay_readable():
    with TraceReader("traces/cryptonets-b64.tensor.arrow") as r:
        assert not r.checksummed
        assert sum(len(b) for b in r.batches()) > 0 and not r.truncated
    assert np.all(read_trace("traces/mlp-relu-b8.ciphertext.arrow").events.nbytes >= 0)
