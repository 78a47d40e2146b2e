"""Recording host: per-op CPU time travels in the trace, the trace names its host's memory
preset, the replay uses both, and a trace without them says what it assumed."""

from pathlib import Path

import pytest

from hetier.formats.trace import TraceReader, TraceWriter
from hetier.simulator.machines import load_machine
from hetier.simulator.recording_host import FALLBACK_DEVICE, recording_host_from_trace
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import load_workload
from tests.helpers import CT, rows_to_batch, tiny_meta

SAMPLES = Path(__file__).resolve().parents[2] / "traces"


def op_rows(layer: int, t0: int, wall: int, buf: int) -> list[tuple]:
    return [(t0, "op_begin", -1, 0, 0, "none", -1, layer), (t0 + 1, "alloc", buf, CT, 1, "ciphertext", 3, layer),
            (t0 + 2, "write", buf, CT, 1, "ciphertext", 3, layer), (t0 + wall, "op_end", -1, 0, 0, "none", -1, layer)]


def write_trace(path, cpu: list[int] | None, walls=(1_000_000_000, 2_000_000_000), meta=None, batch_rows=3) -> str:
    """Two ops; ``cpu``: their thread CPU ns (None: a trace from before CPU times)."""
    w = TraceWriter(path, meta or tiny_meta(layers=("input", "op1", "op2")), batch_rows=batch_rows)
    t = 0
    for i, wall in enumerate(walls):
        if cpu is not None:
            w.op_cpu(cpu[i], cpu[i] + 5)
        w.write(rows_to_batch(op_rows(i + 1, t, wall, i)))
        t += wall + 10
    return str(w.close())


def test_op_cpu_times_round_trip_across_record_batches(tmp_path):
    path = write_trace(tmp_path / "t.arrow", [400_000_000, 900_000_000])
    with TraceReader(path) as r:
        batches = list(r.batches())
        assert len(batches) > 2  # the ops' events span several record batches
        assert r.op_cpu_ns == [[400_000_000, 400_000_005], [900_000_000, 900_000_005]]
    assert load_workload(path).op_cpu_ns == [[400_000_000, 400_000_005], [900_000_000, 900_000_005]]


def test_unreadable_cpu_times_are_a_one_line_trace_error(tmp_path):
    from hetier.formats.trace import TraceError

    path = tmp_path / "bad.arrow"
    w = TraceWriter(path, tiny_meta(layers=("input", "op1")))
    w._op_cpu = [["x"]]  # what a foreign writer might put there
    w.write(rows_to_batch(op_rows(1, 0, 10, 0)))
    w.close()
    with TraceReader(path) as r, pytest.raises(TraceError, match="batch 0 has unreadable per-op CPU times"):
        list(r.batches())


def test_a_trace_without_cpu_times_or_preset_falls_back_with_a_note(tmp_path):
    w = load_workload(write_trace(tmp_path / "old.arrow", None))
    rec = recording_host_from_trace(w.meta, w.op_cpu_ns, len(w.ops))
    assert rec.device == FALLBACK_DEVICE and rec.cpu_ns is None
    assert "no calibrated memory preset of its host and no per-op CPU time" in rec.note
    res = simulate(Scenario(w, load_machine("dram-only")))
    assert res.notes["recording_note"] == rec.note and res.notes["recording_cpu_time"] is False


def test_shipped_sample_traces_still_replay_with_the_note():
    w = load_workload(str(SAMPLES / "cryptonets-b64.tensor.arrow"))
    assert w.op_cpu_ns == []
    assert "assumed the FAST'20 DDR4 socket" in simulate(Scenario(w, load_machine("dram-only"))).notes["recording_note"]


def _meta_with_host(machine: str) -> dict:
    m = load_machine(machine)
    preset = {"name": m.name, "file": f"{machine}.toml", "source": {"tool": "test", "date": "2026-01-01"},
              "machine": m.to_dict()}
    return tiny_meta(layers=("input", "op1", "op2"), host={"cpu": "test", "cores": 1, "memory_preset": preset})


def test_cpu_time_replaces_wall_time_as_the_ops_busy_time(tmp_path):
    machine = load_machine("dram-only")
    walls = (1_000_000_000, 2_000_000_000)
    cpu = [400_000_000, 2_500_000_000]  # the second op's CPU time above its wall time is capped
    honest = load_workload(write_trace(tmp_path / "a.arrow", cpu, walls, _meta_with_host("optane-appdirect")))
    rec = recording_host_from_trace(honest.meta, honest.op_cpu_ns, len(honest.ops))
    assert rec.note == "" and rec.memory_device().name == "ddr4-2666-6ch" and rec.cpu_ns == (400_000_000, 2_500_000_000)
    assert [rec.busy_ns(o) for o in honest.ops] == [400_000_000, 2_000_000_000]
    wall = load_workload(write_trace(tmp_path / "b.arrow", None, walls, _meta_with_host("optane-appdirect")))
    a, b = simulate(Scenario(honest, machine)), simulate(Scenario(wall, machine))
    assert b.compute_ns - a.compute_ns == pytest.approx(600_000_000)
    assert a.notes["recording_source"].startswith("host preset 'optane-appdirect'")
    assert "no per-op CPU time" in b.notes["recording_note"] and "memory preset" not in b.notes["recording_note"]


def test_the_host_preset_sets_the_recording_memory_and_cache(tmp_path):
    w = load_workload(write_trace(tmp_path / "a.arrow", [1, 1], meta=_meta_with_host("ref-dram-only")))
    rec = recording_host_from_trace(w.meta, w.op_cpu_ns, len(w.ops))
    m = load_machine("ref-dram-only")
    assert rec.memory_device() == m.device("dram") and rec.llc_bytes == m.llc_bytes


def test_replay_and_report_show_the_fallback_note(tmp_path, capsys):
    from tests.helpers import run_cli

    trace = str(SAMPLES / "mlp-relu-b8.ciphertext.arrow")
    code, _, err = run_cli(["replay", trace, "--machine", "dram-only", "-o", str(tmp_path / "r.arrow")], capsys)
    assert code == 0 and "note: trace has no calibrated memory preset of its host" in err
    code, out, _ = run_cli(["report", trace, str(tmp_path / "r.arrow"), "--format", "text"], capsys)
    assert code == 0 and "Recording host: trace has no calibrated memory preset" in out
