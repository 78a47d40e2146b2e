"""What a sweep worker sends back is plain Arrow bytes, checked against the task the driver sent:
a payload crafted by a worker (another configuration's result, a pickle, NaN, a foreign column)
is refused with one line, never stored."""

import hashlib
import json
import pickle

import pyarrow as pa
import pytest

from hetier.errors import HetierError
from hetier.simulator.axes import Config
from hetier.simulator.sweep import Outcome, Task, run_task
from hetier.simulator.sweep_payload import PAYLOAD_MAGIC, decode_outcome, encode_outcome
from tests.cli.test_sweep import TRACE

SHA = hashlib.sha256(open(TRACE, "rb").read()).hexdigest()


def _task(threads=1):
    return Task(Config(TRACE, "dram-only", "dram-only", (), "all-dram", threads), SHA)


@pytest.fixture(scope="module")
def outcome():
    return run_task(_task())


def _with_meta(out: Outcome, **changes) -> bytes:
    """The payload of ``out`` with its JSON description changed."""
    table = pa.ipc.open_stream(encode_outcome(out)[len(PAYLOAD_MAGIC):]).read_all()
    meta = json.loads(table.schema.metadata[b"hetier"])
    for k, v in changes.items():
        if k == "row":
            meta["row"].update(v)
        else:
            meta[k] = v
    table = table.replace_schema_metadata({b"hetier": json.dumps(meta).encode()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return PAYLOAD_MAGIC + sink.getvalue().to_pybytes()


def test_round_trip_is_exact(outcome):
    back = decode_outcome(_task(), encode_outcome(outcome))
    assert back.row == outcome.row and back.layers == outcome.layers
    assert (back.worker, back.peak_rss_bytes, back.trace_loads) == (outcome.worker, outcome.peak_rss_bytes,
                                                                   outcome.trace_loads)
    assert outcome.row["status"] == "ok" and len(back.layers["layer"]) > 0


class Boom:
    def __reduce__(self):
        return (print, ("pwned",))


def _nan_layer(out: Outcome) -> bytes:
    layers = dict(out.layers)
    layers["compute_ns"] = [float("nan")] + list(layers["compute_ns"][1:])
    return encode_outcome(Outcome(out.row, layers, out.worker, out.peak_rss_bytes, out.trace_loads))


def _foreign_layers(out: Outcome) -> bytes:
    table = pa.ipc.open_stream(encode_outcome(out)[len(PAYLOAD_MAGIC):]).read_all()
    ids = pa.array(["0123456789abcdef"] * table.num_rows)
    table = table.set_column(0, "config_id", ids)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return PAYLOAD_MAGIC + sink.getvalue().to_pybytes()


@pytest.mark.parametrize("craft, msg", [
    (lambda o: pickle.dumps(Boom()), "not a hetier sweep result"),
    (lambda o: o, "expected bytes, got a Outcome"),
    (lambda o: encode_outcome(o)[:200], "unreadable"),
    (lambda o: encode_outcome(run_task(_task(8))), "column config_id is"),  # another configuration's result
    (lambda o: _with_meta(o, row={"trace_sha256": "0" * 64}), "column trace_sha256 is"),
    (lambda o: _with_meta(o, row={"threads": 1.0}), "column threads is"),
    (lambda o: _with_meta(o, row={"stack_sha256": "0" * 64}), "column stack_sha256 is"),  # another stack profile
    (lambda o: _with_meta(o, row={"status": "pwned"}), "status 'pwned' is not one of"),
    (lambda o: _with_meta(o, row={"time_s": [1, 2]}), "column time_s holds a list"),
    (lambda o: _with_meta(o, row={"bad name\n": 1}), "is not a sweep column"),
    (lambda o: _with_meta(o, row={"time_s": 1e400}), "column time_s is not a finite number"),
    (lambda o: _with_meta(o, peak_rss_bytes=-1), "peak_rss_bytes is not a count"),
    (lambda o: _with_meta(o, extra=1), "its description is not a sweep result's"),
    (_nan_layer, "layer column compute_ns holds a value that is not a finite number"),
    (_foreign_layers, "its layer rows belong to another configuration"),
])
def test_crafted_payloads_are_refused(outcome, craft, msg, capsys):
    with pytest.raises(HetierError, match="a worker's result for configuration .* was refused") as e:
        decode_outcome(_task(), craft(outcome))
    assert msg in str(e.value)
    assert "pwned" not in capsys.readouterr().out  # nothing was unpickled
