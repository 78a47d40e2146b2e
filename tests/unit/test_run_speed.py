"""confirm's speed probe: the cost file's top-level multiply-accumulate timed between the
re-run's ops, and the factor that sets the prediction at the speed the core had then."""

import io
import json

import pytest

from hetier.tracer import costs
from hetier.tracer.params import HEParams
from hetier.workflow.confirm import run_speed


def test_each_op_takes_the_mean_of_the_probes_around_it_weighted_by_its_predicted_seconds():
    # op 1 (1 s) between probes 100 and 100, op 2 (3 s) between 100 and 300: (1 x 100 + 3 x 200) / 4
    assert run_speed([1.0, 3.0], [100.0, 100.0, 300.0], 100.0) == (1.75, 3.0)
    # a core as fast as during calibration throughout: 1
    assert run_speed([2.0, 5.0, 1.0], [80.0] * 4, 80.0) == (1.0, 1.0)


def test_the_scaled_prediction_does_not_depend_on_the_speed_calibration_happened_to_see():
    """Costs measured on a core twice as slow double the prediction and the calibrated probe
    alike: the prediction at the run's speed is the same."""
    ops, probes = [1.0, 2.0, 0.5], [120.0, 130.0, 150.0, 125.0]
    fast, _ = run_speed(ops, probes, 110.0)
    slow, _ = run_speed([2 * s for s in ops], probes, 220.0)
    assert 100.0 * fast == pytest.approx(200.0 * slow)


def test_probes_not_one_per_op_boundary_give_their_plain_mean_and_none_is_an_error():
    assert run_speed([1.0, 1.0], [100.0, 200.0], 100.0) == (1.5, 2.0)
    with pytest.raises(ValueError):
        run_speed([1.0], [], 100.0)
    with pytest.raises(ValueError):
        run_speed([1.0], [100.0, 100.0], 0.0)


def test_a_probe_times_its_calls_after_untimed_warmup_calls():
    calls = []
    ns = costs.probe_ns(lambda: calls.append(sum(range(2000))), calls=7, warmup=3)
    assert len(calls) == 10 and ns > 0


def test_the_probe_is_the_multiply_accumulate_calibrate_prices_at_the_top_level():
    params = HEParams(4096, (30, 22, 30), 22, 8)
    mac, level = costs.probe_mac(params)
    assert level == params.data_primes
    assert costs.probe_ns(mac, calls=3, warmup=1) > 0


def test_the_rerun_child_probes_before_the_first_op_and_after_every_op(monkeypatch, capsys):
    """One probe per op boundary (the mlp's ops + 1), their wall time given apart, none without
    the spec's speed_probe."""
    from hetier.formats.trace import TraceReader
    from hetier.models.zoo import build
    from hetier.tracer.session import choose_params
    from hetier.workflow import rerun

    graph = build("mlp", activation="square")
    params = choose_params(graph, 4, None, None, 22)
    spec = {"model": "mlp", "config": {"activation": "square"}, "granularity": "tensor",
            "he": {"poly_modulus": params.poly_modulus, "primes": list(params.primes), "scale_bits": params.scale_bits,
                   "batch": params.batch}, "seed": 0, "bias_copy": True}
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        for probe in (True, False):
            monkeypatch.setattr("sys.stdin", io.StringIO("go\n"))
            out = rerun.main({**spec, "trace_out": str(Path(d) / f"{probe}.arrow"), "speed_probe": probe})
            assert capsys.readouterr().out.strip() == "READY"
            with TraceReader(str(Path(d) / f"{probe}.arrow")) as r:
                ops = len(r.meta["layers"])
            if probe:
                assert len(out["speed_probe_ns"]) == ops + 1 and min(out["speed_probe_ns"]) > 0
                assert 0 < out["probe_seconds"] < out["seconds"]
            else:
                assert "speed_probe_ns" not in out and "probe_seconds" not in out
    json.dumps(out)  # the child sends it as JSON
