"""Outputs: exclusive temporary files, never through a link, one writer, nothing left on error."""

import errno
import os

import pytest

from hetier.atomic import AtomicOutput, check_output, lock_path, write_bytes_atomic
from hetier.errors import HetierError, UsageError
from hetier.formats.trace import TraceReader, TraceWriter
from tests.helpers import GOOD_ROWS, rows_to_batch, tiny_meta


def test_write_replaces_and_leaves_only_the_output(tmp_path):
    out = tmp_path / "o.json"
    write_bytes_atomic(out, b"one")
    write_bytes_atomic(out, b"two")
    assert out.read_bytes() == b"two"
    assert sorted(os.listdir(tmp_path)) == ["o.json"]


def test_a_symlink_named_like_the_old_partial_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "o.json.partial").symlink_to(victim)
    write_bytes_atomic(tmp_path / "o.json", b"data")
    assert victim.read_text() == "keep me"
    assert (tmp_path / "o.json").read_bytes() == b"data"


def test_a_symlink_target_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "o.json").symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link"):
        check_output(tmp_path / "o.json", force=True)
    with pytest.raises(UsageError, match="symbolic link"):
        write_bytes_atomic(tmp_path / "o.json", b"x")
    assert victim.read_text() == "keep me"


def test_a_fifo_target_is_refused_and_kept(tmp_path):
    fifo = tmp_path / "out.html"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        check_output(fifo, force=True)
    with pytest.raises(UsageError, match="not a regular file"):
        write_bytes_atomic(fifo, b"x")
    assert os.path.exists(fifo) and not os.path.isfile(fifo)
    assert sorted(os.listdir(tmp_path)) == ["out.html"]


def test_empty_output_name_is_refused():
    with pytest.raises(UsageError, match="empty"):
        check_output("", force=False)


def test_one_writer_per_output(tmp_path):
    out = tmp_path / "c.arrow"
    w = TraceWriter(out, tiny_meta())
    with pytest.raises(UsageError, match="another hetier is writing"):
        TraceWriter(out, tiny_meta())
    with pytest.raises(UsageError, match="another hetier is writing"):
        write_bytes_atomic(out, b"x")
    w.write(rows_to_batch(GOOD_ROWS))
    w.close()
    write_bytes_atomic(tmp_path / "other", b"x")  # other outputs are free
    assert not lock_path(out).exists()
    assert sorted(os.listdir(tmp_path)) == ["c.arrow", "other"]


def test_a_stale_lock_file_does_not_block(tmp_path):
    out = tmp_path / "o.json"
    lock_path(out).write_text("")  # left by a killed run: nobody holds its flock
    write_bytes_atomic(out, b"x")
    assert sorted(os.listdir(tmp_path)) == ["o.json"]


def test_disk_full_removes_the_temporary_and_keeps_the_old_file(tmp_path, monkeypatch):
    out = tmp_path / "o.json"
    out.write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(HetierError, match="No space left"):
        write_bytes_atomic(out, b"new")
    assert out.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["o.json"]


def test_an_error_inside_the_block_discards(tmp_path):
    with pytest.raises(ValueError):
        with AtomicOutput(tmp_path / "o") as o:
            o.file.write(b"half")
            raise ValueError("boom")
    assert os.listdir(tmp_path) == []


def test_abandoned_trace_keeps_a_readable_prefix_under_a_unique_name(tmp_path):
    w = TraceWriter(tmp_path / "t.arrow", tiny_meta(), batch_rows=4)
    w.write(rows_to_batch(GOOD_ROWS))
    partial = w.abandon()
    assert partial.name.startswith("t.arrow.") and partial.name.endswith(".partial")
    with TraceReader(partial) as r:
        assert sum(len(b) for b in r.batches()) == len(GOOD_ROWS)
        assert r.truncated
    assert sorted(os.listdir(tmp_path)) == [partial.name]
