"""hetier confirm --cost-file: the prediction priced with this host's HE primitive costs (a
`calibrate --he` file, reused or measured now), said so, and kept beside the trace-cost one."""

import json
import shutil

import pytest

from tests.helpers import run_cli as run

pytestmark = pytest.mark.skipif(shutil.which("numactl") is None, reason="numactl not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """This host's memory preset, an mlp trace that embeds it, and a cost file of this host's CPU
    (the shipped costs relabelled: what matters here is which costs the prediction uses)."""
    from hetier.cli.main import main
    from hetier.tracer.costs import DEFAULT_COST_FILE
    from hetier.tracer.host import host_info

    d = tmp_path_factory.mktemp("confirm-costs")
    assert main(["calibrate", "--memory", "--method", "numpy", "--repeat", "1", "--size-mb", "8",
                 "-o", str(d / "host.toml")]) == 0
    assert main(["trace", "mlp", "--activation", "relu", "--batch", "8", "--host-preset", str(d / "host.toml"),
                 "-o", str(d / "mlp.arrow")]) == 0
    doc = json.loads(DEFAULT_COST_FILE.read_text())
    doc["machine"]["cpu"] = host_info()["cpu"]
    (d / "costs.json").write_text(json.dumps(doc))
    doc["machine"]["cpu"] = "Another CPU 9000"
    (d / "other-costs.json").write_text(json.dumps(doc))
    return d


def _host_prediction(host, costs_path) -> float:
    """The re-run priced with ``costs_path``, composed here from the library: plan the trace's model
    with the cost file, replay it on the host preset with the host's memory as recording host."""
    from hetier.formats.trace import TraceReader
    from hetier.simulator.machines import load_machine
    from hetier.simulator.recording_host import RecordingHost
    from hetier.simulator.scenario import Scenario, simulate
    from hetier.simulator.workload import load_workload
    from hetier.tracer.session import choose_params, plan_run
    from hetier.models.zoo import build

    with TraceReader(str(host / "mlp.arrow")) as r:
        meta = r.meta
    graph = build("mlp", **meta["model"]["config"])
    he = meta["he"]
    params = choose_params(graph, he["batch"], he["poly_modulus"], he["primes"], he["scale_bits"])
    planned = plan_run(graph, params, host / f"planned-{costs_path.stem}.arrow", "tensor", str(costs_path)).path
    m = load_machine(str(host / "host.toml"))
    rec = RecordingHost(m.device("dram"), m.llc_bytes, None, source="test")
    return simulate(Scenario(load_workload(planned), m, "all-dram", threads=1, recording=rec)).makespan_ns / 1e9


def test_the_prediction_uses_this_hosts_costs_says_so_and_keeps_both(host, tmp_path, capsys):
    from hetier.simulator.machines import load_machine
    from hetier.simulator.scenario import Scenario, simulate
    from hetier.simulator.workload import load_workload

    out = tmp_path / "runs.json"
    code, stdout, err = run(["confirm", str(host / "mlp.arrow"), "--machine", str(host / "host.toml"),
                             "--cost-file", str(host / "costs.json"), "-o", str(out)], capsys)
    assert code == 0, err
    [rec] = json.loads(out.read_text())
    assert rec["predicted_with"].startswith("this host's HE costs (costs.json, reused;")
    assert "predicted with this host's HE costs (costs.json, reused" in err
    assert rec["predicted_seconds"] == rec["predicted_seconds_host_costs"] == round(_host_prediction(host, host / "costs.json"), 4)
    by_trace = simulate(Scenario(load_workload(str(host / "mlp.arrow")), load_machine(str(host / "host.toml")),
                                 "all-dram", threads=1)).makespan_ns / 1e9
    assert rec["predicted_seconds_trace_costs"] == round(by_trace, 4) != rec["predicted_seconds"]
    assert abs(rec["cpu_seconds_error"] - (rec["predicted_seconds"] / rec["cpu_seconds"] - 1)) < 1e-3
    assert "with trace's times s" in stdout
    # the core's speed through the re-run against calibration: the prediction scaled by it beside
    assert rec["run_speed"] > 0 and rec["run_speed_spread"] >= 1
    assert rec["predicted_seconds_run_speed"] == pytest.approx(rec["predicted_seconds"] * rec["run_speed"], rel=1e-3)
    assert rec["cpu_seconds_error_run_speed"] == pytest.approx(rec["predicted_seconds_run_speed"] / rec["cpu_seconds"] - 1,
                                                               abs=1e-3)
    assert "at run's speed s" in stdout and "the core ran at" in err


def test_costs_twice_as_high_predict_a_longer_run(host, tmp_path):
    """The prediction follows the cost file: every primitive twice as dear -> a longer run, at
    most twice as long (the cold-traffic costs and the memory time, from the host preset this
    machine measured under whatever load it had, do not double: how much less than twice
    depends on that load, so no tighter bound)."""
    doc = json.loads((host / "costs.json").read_text())
    for e in doc["entries"]:
        e["ns"] = {t: {lvl: 2 * v for lvl, v in per.items()} for t, per in e["ns"].items()}
    (tmp_path / "double.json").write_text(json.dumps(doc))
    base, double = _host_prediction(host, host / "costs.json"), _host_prediction(host, tmp_path / "double.json")
    assert 1.05 * base < double <= 2.0 * base * (1 + 1e-6)  # ~2.0 when compute-bound: rounding either side


def test_a_cost_file_of_another_cpu_is_refused_before_any_run(host, tmp_path, capsys):
    out = tmp_path / "runs.csv"
    code, _, err = run(["confirm", str(host / "mlp.arrow"), "--machine", str(host / "host.toml"),
                        "--cost-file", str(host / "other-costs.json"), "-o", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "was measured on Another CPU 9000, not on this host's CPU" in err
    assert "run 1/1" not in err and not out.exists()


@pytest.mark.slow
def test_a_new_cost_file_is_measured_here_for_the_traces_parameters(host, tmp_path, capsys):
    costs = tmp_path / "measured.json"
    code, _, err = run(["confirm", str(host / "mlp.arrow"), "--machine", str(host / "host.toml"),
                        "--cost-file", str(costs), "--cost-reps", "2", "--cost-seconds", "0", "-o", str(tmp_path / "r.json")],
                       capsys)
    assert code == 0, err
    doc = json.loads(costs.read_text())
    assert [(e["poly_modulus"], e["primes"], e["batch"]) for e in doc["entries"]] == [(4096, [30, 22, 30], 8)]
    [rec] = json.loads((tmp_path / "r.json").read_text())
    assert "measured.json, measured now; mean of 5 rounds over " in rec["predicted_with"]
