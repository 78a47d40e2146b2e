"""hetier confirm end to end on this machine: a tiny mlp trace re-run under all-dram and
interleave, the record written; policies needing other hardware refused in one line."""

import csv
import json

import pytest

from hetier.workflow.confirm import RECORD_COLUMNS
from tests.helpers import run_cli as run

pytestmark = pytest.mark.skipif(__import__("shutil").which("numactl") is None,
                                reason="numactl not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """This host's calibrated preset (numpy, tiny) and an mlp trace that embeds it."""
    from hetier.cli.main import main

    d = tmp_path_factory.mktemp("confirm")
    assert main(["calibrate", "--memory", "--method", "numpy", "--repeat", "1", "--size-mb", "8",
                 "-o", str(d / "host.toml")]) == 0
    assert main(["trace", "mlp", "--activation", "relu", "--batch", "4", "--host-preset", str(d / "host.toml"),
                 "-o", str(d / "mlp.arrow")]) == 0
    return d


def _predicted(host, policy: str):
    from hetier.simulator.machines import load_machine
    from hetier.simulator.scenario import Scenario, simulate
    from hetier.simulator.workload import load_workload

    return simulate(Scenario(load_workload(str(host / "mlp.arrow")), load_machine(str(host / "host.toml")), policy,
                             threads=1))


def _recorded_seconds(trace) -> float:
    from hetier.simulator.workload import load_workload

    return sum(op.duration_ns for op in load_workload(str(trace)).ops) / 1e9


@pytest.mark.parametrize("policy, binding", [("all-dram", "membind 0"), ("interleave", "interleave 0")])
def test_confirm_reruns_and_records_measured_beside_predicted(host, tmp_path, capsys, policy, binding):
    out = tmp_path / "runs.csv"
    code, stdout, err = run(["confirm", str(host / "mlp.arrow"), "--machine", str(host / "host.toml"),
                             "--policy", policy, "-o", str(out)], capsys)
    assert code == 0, err
    [row] = list(csv.DictReader(out.open()))
    assert list(row)[:len(RECORD_COLUMNS)] == list(RECORD_COLUMNS)
    assert (row["model"], row["batch"], row["primes"], row["policy"], row["binding"]) == \
        ("mlp", "4", "30;22;30", policy, binding)
    assert row["events_match"] == "True"  # the re-run made exactly the trace's events
    # the prediction is the simulator's for the same scenario, to the record's 4 decimals
    pred = _predicted(host, "all-dram")
    assert float(row["predicted_seconds"]) == round(pred.makespan_ns / 1e9, 4)
    assert float(row["predicted_peak_gb"]) == round(sum(pred.peak_bytes.values()) / 1e9, 4)
    # the record's error is of the unrounded times: the rounded ones give it to within 1e-3
    assert float(row["seconds_error"]) == pytest.approx(float(row["predicted_seconds"]) / float(row["seconds"]) - 1,
                                                        abs=1e-3)
    # the measured op time is the same run's: within a factor of 10 of the op time the trace recorded here (a unit
    # slip, ms for s or the whole process for the ops, is a factor of 1000)
    recorded = _recorded_seconds(host / "mlp.arrow")
    assert recorded / 10 < float(row["seconds"]) < recorded * 10
    assert float(row["peak_gb"]) > float(row["peak_above_start_gb"]) > 0
    from hetier.analysis.trace_stats import trace_stats
    assert float(row["pool_resident_gb"]) == round(trace_stats(str(host / "mlp.arrow")).resident_peak_bytes / 1e9, 4)
    assert row["peak_gb_by_node"].startswith("0:")
    assert "measured s" in stdout and "predicted s" in stdout


def test_confirm_records_are_fits_input(host, tmp_path, capsys):
    """confirm -> fit on this machine: the records file (appended twice) is read by fit as is, and
    names the machine by the preset's path, which fit resolves."""
    out = tmp_path / "runs.csv"
    for extra in ([], ["--append"]):
        code, _, err = run(["confirm", str(host / "mlp.arrow"), "--machine", str(host / "host.toml"),
                            "-o", str(out), *extra], capsys)
        assert code == 0, err
    rows = list(csv.DictReader(out.open()))
    assert [r["machine"] for r in rows] == [str(host / "host.toml")] * 2
    code, stdout, err = run(["fit", str(out), "--stack", "hetier", "--free", "compute_scale", "--no-loo"], capsys)
    assert code == 0, err
    assert f"stack hetier fitted to runs.csv: compute_scale = " in stdout
    assert "RMS error: fit" in stdout
    from hetier.formats.measured import load_measured

    [run1, _] = load_measured(out)  # what fit read: the traced model, not mlp's defaults
    assert dict(run1.options) == {"activation": "relu", "classes": 10, "hidden": 32, "inputs": 64, "seed": 0}


def test_per_phase_placement_is_applied_read_back_and_leaves_the_trace_unchanged(host, tmp_path, capsys):
    placement = tmp_path / "phases.toml"
    placement.write_text('default = "dram"\n[layers]\ndense_1 = "interleave"\n')
    out = tmp_path / "runs.json"
    code, _, err = run(["confirm", str(host / "mlp.arrow"), "--machine", str(host / "host.toml"),
                        "--placement", str(placement), "-o", str(out)], capsys)
    assert code == 0, err
    [rec] = json.loads(out.read_text())
    checks = {c["layer"]: c for c in rec["placement_checks"]}
    assert checks["dense_1"]["read_back"] == ["interleave", [0]] and checks["relu_1"]["read_back"] == ["bind", [0]]
    assert rec["placement_verified"] is True and rec["events_match"] is True
    assert rec["run_speed"] == rec["predicted_seconds_run_speed"] == ""  # no cost file: no probe
    assert "policy read back after every layer as set" in err


@pytest.mark.parametrize("args, msg", [
    (["--policy", "all-pmem"], "policy 'all-pmem' needs a memory-only NUMA node"),
    (["--policy", "kind-aware"], "policy 'kind-aware' places single tensors"),
    (["--machine", "dram-only"], "machine 'dram-only' is not a measurement of this host"),
])
def test_what_confirm_cannot_do_here_is_one_line_and_writes_nothing(host, tmp_path, capsys, args, msg):
    argv = ["confirm", str(host / "mlp.arrow"), "--machine", str(host / "host.toml"), "-o", str(tmp_path / "r.csv")]
    code, _, err = run(argv + args, capsys)
    assert code == 2 and err.count("\n") == 1 and msg in err
    assert not (tmp_path / "r.csv").exists()


def test_a_placement_naming_a_tier_the_machine_lacks_is_refused(host, tmp_path, capsys):
    placement = tmp_path / "phases.toml"
    placement.write_text('[layers]\ndense_1 = "pmem"\n')
    code, _, err = run(["confirm", str(host / "mlp.arrow"), "--machine", str(host / "host.toml"),
                        "--placement", str(placement)], capsys)
    assert code == 2 and "layer dense_1 names tier 'pmem'; machine has dram (or 'interleave')" in err
