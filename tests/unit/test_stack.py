"""Stack profiles: scheduling rules with exact answers, the closed form against SimPy, the fit."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetier.errors import UsageError
from hetier.simulator.demands import OpDemand, schedule
from hetier.simulator.engine import run, run_in_order, transfer_ns
from hetier.simulator.recording_host import RecordingHost
from hetier.formats.results import load_results, save_results
from hetier.simulator.scenario import Scenario, memory_stage, simulate
from hetier.simulator.fit import Case, Predictor, fit, reference_runs_path
from hetier.simulator.machines import load_machine
from hetier.simulator.memory_systems.dram_cache import miss_penalty_per_line
from hetier.simulator.policies import get_policy
from hetier.formats.measured import MeasuredRun, load_measured
from hetier.simulator.stack import StackProfile, load_stack, profile_toml
from hetier.simulator.workload import load_workload
from tests.helpers import random_trace, tiny_meta, write_tiny

MACHINE = load_machine("optane-appdirect")
NO_TRAFFIC = {"dram": 0.0, "pmem": 0.0}


def _op(compute, items, slices, serial=0.0, deps=None):
    return OpDemand(compute, dict(NO_TRAFFIC), dict(NO_TRAFFIC), slices, deps=deps or [], serial_ns=serial, items=items)


@pytest.mark.parametrize("n,t", [(10, 4), (8, 4), (3, 8), (48, 48), (49, 48)])
def test_parallel_op_takes_ceil_n_over_t_items(n, t):
    # n equal items of 100 ns on t threads: the busiest thread holds ceil(n / t) of them
    plans = [_op(100.0 * n, n, min(n, t))]
    assert run(plans, MACHINE, t).makespan_ns == pytest.approx(100.0 * math.ceil(n / t), rel=1e-12)
    assert run_in_order(plans, MACHINE).makespan_ns == pytest.approx(100.0 * math.ceil(n / t), rel=1e-12)


def test_contended_lock_serialises_what_it_guards():
    # two independent ops, each with a 1000 ns serial part and 400 ns of parallel work on 4 items:
    # with 8 threads the parallel parts overlap, the serial parts cannot
    plans = [_op(400.0, 4, 4, serial=1000.0), _op(400.0, 4, 4, serial=1000.0)]
    assert run(plans, MACHINE, 8).makespan_ns == pytest.approx(1000 + 1000 + 100, rel=1e-12)
    free = [_op(1400.0, 1, 1), _op(1400.0, 1, 1)]  # the same time as ordinary compute overlaps
    assert run(free, MACHINE, 8).makespan_ns == pytest.approx(1400, rel=1e-12)


def _tiny_workload(tmp_path, kind: str, n: int, dur: int):
    rows = [(0, "op_begin", -1, 0, 0, "none", -1, 1), (1, "alloc", 0, n * 1000, n, "ciphertext", 3, 1),
            (dur, "op_end", -1, 0, 0, "none", -1, 1),
            (dur + 1, "op_begin", -1, 0, 0, "none", -1, 2), (dur + 2, "free", 0, n * 1000, n, "ciphertext", 3, 2),
            (dur + 2, "op_end", -1, 0, 0, "none", -1, 2)]
    return load_workload(write_tiny(tmp_path / "w.arrow", rows, tiny_meta(layers=("input", kind, "teardown"),
                                                                           granularity="tensor")))


@pytest.mark.parametrize("threads", [1, 4, 16])
def test_single_thread_op_takes_the_sum_of_its_parts(tmp_path, threads):
    w = _tiny_workload(tmp_path, "maxpool", 8, 800)
    m = load_machine("dram-only")
    base = memory_stage(Scenario(w, m, "all-dram", recording=RecordingHost())).demands
    serial = schedule(base, w, StackProfile("s", single_thread_kinds=("maxpool",)), threads)
    parallel = schedule(base, w, StackProfile("p"), threads)
    rs = run(serial, m, threads)
    assert rs.end_ns[0] - rs.start_ns[0] == pytest.approx(800)  # op 0: layer 1, recorded 800 ns
    # the same op data-parallel: 8 items over min(8, threads) slices; then the 1 ns teardown
    assert run(parallel, m, threads).makespan_ns == pytest.approx(800 * math.ceil(8 / min(8, threads)) / 8 + 1)


def test_serial_part_per_output_and_compute_scale(tmp_path):
    w = _tiny_workload(tmp_path, "conv2d", 8, 800)
    m = load_machine("dram-only")
    base = memory_stage(Scenario(w, m, "all-dram", recording=RecordingHost())).demands
    stack = StackProfile("r", schedule="sequential", compute_scale=2.0, serial_ns_per_output=50.0,
                         serial_output_kinds=("conv2d",))
    rs = run(schedule(base, w, stack, 8), m, 8)
    # serial 8 outputs x 50 ns, then 2 x 800 ns of compute over 8 slices
    assert rs.end_ns[0] - rs.start_ns[0] == pytest.approx(8 * 50 + 2 * 800 / 8)


def test_teardown_destroys_freed_host_objects_on_one_thread(tmp_path):
    """An op that frees host buffers (unpacked constants) pays their destruction on the executor
    thread: teardown_ns_per_host_byte x bytes of CPU with one stream reading them under it (the
    longer of the two); pool buffers freed beside them cost nothing."""
    rows = [(0, "op_begin", -1, 0, 0, "none", -1, 1), (1, "alloc", 0, 4000, 4, "host", 0, 1),
            (2, "alloc", 1, 8000, 2, "ciphertext", 3, 1), (3, "write", 0, 4000, 4, "host", 0, 1),
            (100, "op_end", -1, 0, 0, "none", -1, 1),
            (101, "op_begin", -1, 0, 0, "none", -1, 2), (102, "free", 0, 4000, 4, "host", 0, 2),
            (102, "free", 1, 8000, 2, "ciphertext", 3, 2), (103, "op_end", -1, 0, 0, "none", -1, 2)]
    w = load_workload(write_tiny(tmp_path / "w.arrow", rows, tiny_meta(layers=("input", "bias", "teardown"),
                                                                       granularity="tensor")))
    m = load_machine("dram-only")
    base = memory_stage(Scenario(w, m, "all-dram", recording=RecordingHost())).demands
    assert [d.teardown_bytes for d in base] == [0.0, 4000.0]
    plans = schedule(base, w, StackProfile("t", schedule="sequential", teardown_ns_per_host_byte=2.0), 4)
    p = plans[1]
    assert p.serial_ns == 8000.0 and p.serial_read == {"dram": 4000.0} and p.read["dram"] == 0.0
    dram = dict(m.tiers)["dram"]
    one_stream = dram.media_bytes(4000, False) / dram.bandwidth(1) + dram.latency_ns(False)
    rs = run(plans, m, 4)
    assert 0 < one_stream < 8000  # the reads run under the CPU work: no wait of their own
    assert rs.end_ns[1] - rs.start_ns[1] == pytest.approx(8000 + p.compute_ns / p.slices, rel=1e-9)
    assert run_in_order(plans, m).makespan_ns == pytest.approx(rs.makespan_ns, rel=1e-9)
    assert rs.stall_ns["dram"][1] == 0.0
    # the serial part's wall time (what an op timer that stops before the teardown leaves out)
    assert rs.serial_ns[0] == 0.0 and rs.serial_ns[1] == pytest.approx(8000, rel=1e-9)
    assert np.allclose(run_in_order(plans, m).serial_ns, rs.serial_ns, rtol=1e-9)
    # reads that outlast the CPU work: the part takes as long as they do, and waits the difference
    quick = schedule(base, w, StackProfile("q", schedule="sequential", teardown_ns_per_host_byte=0.01), 4)
    for rq in (run(quick, m, 4), run_in_order(quick, m)):
        assert rq.serial_ns[1] == pytest.approx(one_stream, rel=1e-9)
        assert rq.stall_ns["dram"][1] == pytest.approx(one_stream - 40, rel=1e-9)
    # a replay keeps it per layer, and a results file keeps it
    res = simulate(Scenario(w, m, "all-dram", StackProfile("t", schedule="sequential", teardown_ns_per_host_byte=2.0),
                            threads=4, recording=RecordingHost()))
    assert res.layers["serial_ns"] == pytest.approx([0.0, 8000], rel=1e-9)
    assert res.layers["teardown_read_bytes"] == [0.0, 4000.0]  # of the op's reads, the teardown's
    save_results(tmp_path / "r.arrow", [res])
    saved = load_results(tmp_path / "r.arrow")[1]
    assert saved.column("serial_ns").to_pylist() == pytest.approx(res.layers["serial_ns"])
    assert saved.column("teardown_read_bytes").to_pylist() == [0.0, 4000.0]
    plain = simulate(Scenario(w, m, "all-dram", StackProfile("t", schedule="sequential"), threads=4,
                              recording=RecordingHost()))
    assert plain.layers["serial_ns"] == pytest.approx([0.0, one_stream], rel=1e-9)  # the reads alone


def test_teardown_reads_run_after_the_op_and_are_served_where_they_are(tmp_path):
    """The teardown reads the host objects after the op, on one thread, where they are then: a
    constant pushed out of a DRAM cache since it was built misses in full while the op's own
    reads, of a tensor it has just written, hit (no share of one moved onto the other)."""
    blk = 65536
    rows = [(0, "op_begin", -1, 0, 0, "none", -1, 1), (1, "alloc", 0, 4 * blk, 4, "host", 0, 1),
            (2, "write", 0, 4 * blk, 4, "host", 0, 1), (50, "op_end", -1, 0, 0, "none", -1, 1),
            (51, "op_begin", -1, 0, 0, "none", -1, 2), (52, "alloc", 1, 64 * blk, 64, "ciphertext", 3, 2),
            (53, "write", 1, 64 * blk, 64, "ciphertext", 3, 2), (100, "op_end", -1, 0, 0, "none", -1, 2),
            (101, "op_begin", -1, 0, 0, "none", -1, 3), (102, "alloc", 2, 2 * blk, 2, "ciphertext", 3, 3),
            (103, "write", 2, 2 * blk, 2, "ciphertext", 3, 3), (104, "read", 2, 2 * blk, 2, "ciphertext", 3, 3),
            (105, "free", 0, 4 * blk, 4, "host", 0, 3), (106, "op_end", -1, 0, 0, "none", -1, 3)]
    w = load_workload(write_tiny(tmp_path / "w.arrow", rows, tiny_meta(layers=("input", "bias", "conv2d", "bias"),
                                                                       granularity="tensor")))
    m = load_machine("ref-memory-mode", ["dram.capacity_gb=0.001"])  # 15 sets of 64 KiB: the 4 MB tensor evicts all
    stack = StackProfile("t", schedule="sequential", teardown_ns_per_host_byte=1.0)
    st_ = memory_stage(Scenario(w, m, None, stack, threads=4, recording=RecordingHost()))
    p = st_.demands[2]
    dram, pmem = m.tier_names
    assert p.teardown_bytes == 4 * blk
    assert p.serial_read == {dram: 4 * blk, pmem: 4 * blk}  # tag and data read, and every line from PMem
    # the op's own: its fresh output's store fills (read for ownership) miss; its read of it hits
    assert p.read[pmem] == 2 * blk
    per_line = miss_penalty_per_line(m)
    assert per_line > 0
    assert p.latency_ns == pytest.approx(per_line * 2 * blk / 64)  # shared by the op's slices
    assert p.serial_latency_ns == pytest.approx(per_line * 4 * blk / 64)  # one thread waits every miss
    devs = dict(m.tiers)
    reads = transfer_ns(devs[dram], 4 * blk, False, 1) + transfer_ns(devs[pmem], 4 * blk, False, 1)
    for ns_per_byte in (0.0, 1.0, 100.0):  # the reads and their misses' wait alone, or under the CPU work
        s_ = StackProfile("t", schedule="sequential", teardown_ns_per_host_byte=ns_per_byte)
        rs = run(schedule(st_.demands, w, s_, 4), m, 4)
        assert rs.serial_ns[2] == pytest.approx(max(ns_per_byte * 4 * blk, reads + p.serial_latency_ns), rel=1e-9)


plan_strategy = st.lists(st.tuples(st.floats(0, 1e6), st.floats(0, 1e9), st.floats(0, 1e9), st.floats(0, 1e9),
                                   st.floats(0, 1e9), st.integers(1, 50), st.integers(1, 48), st.floats(0, 1e5),
                                   st.integers(0, 3), st.floats(0, 1e9)), min_size=1, max_size=6)


@settings(max_examples=30, deadline=None)
@given(ops=plan_strategy)
def test_closed_form_equals_simpy_for_sequential_plans(ops):
    m = load_machine("optane-memory-mode")
    plans = []
    for i, (c, rd, rp, wd, wp, items, threads, serial, misses, alone) in enumerate(ops):
        latency = m.mm_miss_penalty_ns if misses else 0.0
        plans.append(OpDemand(c, {"dram": rd, "pmem": rp}, {"dram": wd, "pmem": wp}, min(items, threads), latency,
                            deps=[i - 1] if i else [], serial_ns=serial, items=items,
                            serial_read={"dram": alone, "pmem": alone / 3} if misses > 1 else {}))
    threads = max(p.slices for p in plans)
    a, b = run(plans, m, threads), run_in_order(plans, m)
    # SimPy's channels call a transfer done within 1e-9 x now (sharing._due): at most that per transfer
    tol = 1e-9 * a.makespan_ns * 4 * threads + 1e-6
    assert b.makespan_ns == pytest.approx(a.makespan_ns, abs=tol)
    for t in ("dram", "pmem"):
        assert np.allclose(a.stall_ns[t], b.stall_ns[t], rtol=0, atol=tol)
    assert np.allclose(a.compute_ns, b.compute_ns, rtol=1e-12)
    assert np.allclose(a.serial_ns, b.serial_ns, rtol=0, atol=tol)


def test_profile_file_round_trips(tmp_path):
    s = load_stack("he-transformer")
    f = tmp_path / "p.toml"
    f.write_text(profile_toml(s, {"runs": "x.csv", "free": ["compute_scale"]}, "test"))
    back = load_stack(str(f))
    assert back.to_dict() == {**s.to_dict(), "fit": {"runs": "x.csv", "free": ["compute_scale"]}}


@pytest.mark.parametrize("text,msg", [("nope = 1", "unknown stack profile key(s) nope"),
                                      ('schedule = "random"', "schedule 'random' unknown"),
                                      ("compute_scale = 0", "'compute_scale' must be a number in [1e-06, 1e+06] (got 0)"),
                                      ("compute_scale = 1e300", "'compute_scale' must be a number in [1e-06, 1e+06]"),
                                      ("serial_ns_per_output = nan", "'serial_ns_per_output' must be a number in [0, "),
                                      ('runtime_profile = "tf"', "runtime_profile 'tf' unknown (known: hetier, reference)"),
                                      ("single_thread_kinds = 3", "'single_thread_kinds' must be a list of layer kinds")])
def test_bad_profiles_are_refused(tmp_path, text, msg):
    f = tmp_path / "bad.toml"
    f.write_text(text + "\n")
    with pytest.raises(UsageError, match=re.escape(f"{f}: {msg}")):
        load_stack(str(f))
    with pytest.raises(UsageError, match="stack 'missing' not found"):
        load_stack("missing")


def test_shipped_measurements_load_with_their_source():
    runs = load_measured(reference_runs_path())
    assert len(runs) == 7 and {r.machine for r in runs} == {"ref-dram-only", "ref-memory-mode"}
    assert {r.config_label for r in runs if r.model == "resnet50"} and "APPROXIMATE" in reference_runs_path().read_text()
    assert "IEEE Transactions on Computers 2021" in reference_runs_path().read_text()


def test_bad_measurements_name_file_and_line(tmp_path):
    f = tmp_path / "m.csv"
    head = "model,width,resolution,batch,poly_modulus,primes,machine,policy,threads,peak_gb,seconds\n"
    f.write_text(head + "mobilenetv2,0.35,96,2048,4096,30;22;22;30,ref-dram-only,all-dram,48,71,-5\n")
    with pytest.raises(UsageError, match=r"m.csv:2: seconds must be >= 1e-06"):
        load_measured(f)
    f.write_text("model,width\nx,1\n")
    with pytest.raises(UsageError, match="missing column"):
        load_measured(f)


@pytest.mark.parametrize("scale,teardown,seed", [(2.5, 20.0, 3), (0.6, 5.0, 11)])
def test_fit_recovers_known_parameters(tmp_path, scale, teardown, seed):
    """Measurements generated by the model itself (with 1% noise) give back its parameters (the
    teardown is set where it is a fair share of the time, so both are identifiable)."""
    m = load_machine("optane-appdirect")
    truth = StackProfile("t", schedule="sequential", compute_scale=scale, teardown_ns_per_host_byte=teardown)
    cases = []
    for i in range(4):
        w = load_workload(random_trace(tmp_path / f"w{seed}-{i}.arrow", seed + i, host=True))
        run_ = MeasuredRun("random", (("width", float(i + 1)),), 1, 4096, (30, 22, 30), "optane-appdirect",
                           "all-dram", 4, 1.0, 1.0)
        cases.append(Case(run_, w, m))
    truth_s = Predictor(cases, truth).seconds({})
    noise = np.random.default_rng(seed).normal(0, 0.01, len(cases))
    cases = [Case(MeasuredRun(**{**c.run.__dict__, "seconds": s * (1 + e)}), c.workload, c.machine)
             for c, s, e in zip(cases, truth_s, noise)]
    start = truth.with_values(compute_scale=1.0, teardown_ns_per_host_byte=1.0)
    res = fit(cases, start, ["compute_scale", "teardown_ns_per_host_byte"])
    assert res.values["compute_scale"] == pytest.approx(scale, rel=0.1)
    assert res.values["teardown_ns_per_host_byte"] == pytest.approx(teardown, rel=0.25)
    assert all(abs(e) < 0.05 for e in res.errors([c.run.seconds for c in cases]))
    assert all(x is not None for x in res.loo)


def test_fit_refuses_what_it_cannot_do(tmp_path):
    w = load_workload(random_trace(tmp_path / "w.arrow", 1))
    c = Case(MeasuredRun("random", (), 1, 4096, (30, 22, 30), "optane-appdirect", "all-dram", 4, 1.0, 1.0),
             w, load_machine("optane-appdirect"))
    with pytest.raises(UsageError, match="cannot fit nope"):
        fit([c], StackProfile("t"), ["nope"])
    with pytest.raises(UsageError, match="1 measured run\\(s\\) cannot determine 2"):
        fit([c], StackProfile("t"), ["compute_scale", "teardown_ns_per_host_byte"])
    with pytest.raises(UsageError, match="cannot fit serial_ns_per_output"):  # no mechanism: not fitted
        fit([c], StackProfile("t"), ["serial_ns_per_output"])
    big = Case(MeasuredRun("random", (), 1, 4096, (30, 22, 30), "optane-appdirect", "all-dram", 99, 1.0, 1.0),
               w, load_machine("optane-appdirect"))
    with pytest.raises(UsageError, match="99 threads exceed"):
        fit([big], StackProfile("t"), ["compute_scale"])


def test_a_fit_that_does_not_converge_is_one_error(tmp_path, monkeypatch):
    import hetier.simulator.fit as fit_mod

    class Failed:
        success, message, x, nfev = False, "The maximum number of function evaluations is exceeded.", None, 60
        fun = np.array([0.1])

    monkeypatch.setattr(fit_mod, "least_squares", lambda *a, **k: Failed())
    w = load_workload(random_trace(tmp_path / "w.arrow", 2))
    c = Case(MeasuredRun("random", (), 1, 4096, (30, 22, 30), "optane-appdirect", "all-dram", 4, 1.0, 1.0),
             w, load_machine("optane-appdirect"))
    from hetier.errors import HetierError

    with pytest.raises(HetierError, match="the fit did not converge \\(The maximum number of function evaluations"):
        fit([c], StackProfile("t"), ["compute_scale"])


def test_leave_one_out_keeps_the_better_of_two_starts(monkeypatch):
    """Leave-one-out solves from the full fit's values and from the profile's own and keeps the
    solution of lower cost (a time that takes the longer of two parts is flat in a parameter while
    the other part is longer, where a local solver stops); a start that does not converge is dropped."""
    import types

    import hetier.simulator.fit as fitmod
    from hetier.errors import HetierError

    class FakePredictor:
        def __init__(self, cases, stack):
            self.cases = cases

        def seconds(self, values, which=None):
            return [values["compute_scale"]] * len(self.cases if which is None else which)

    starts = []

    def solve(pred, free, start, which):
        starts.append((start["compute_scale"], tuple(which)))
        if start["compute_scale"] == 1.0:  # the profile's own value leads to the better optimum
            if fail_from_profile and len(which) < len(pred.cases):
                raise HetierError("did not converge")
            return {"compute_scale": 7.0}, 3, 0.5
        return {"compute_scale": 5.0}, 2, 0.9

    monkeypatch.setattr(fitmod, "Predictor", FakePredictor)
    monkeypatch.setattr(fitmod, "_solve", solve)
    cases = [types.SimpleNamespace(run=types.SimpleNamespace(config=c)) for c in ("a", "a", "b")]
    fail_from_profile = False
    res = fitmod.fit(cases, StackProfile("s", compute_scale=1.0), ["compute_scale"])
    assert res.values == {"compute_scale": 7.0} and res.loo == [7.0, 7.0, 7.0]
    assert starts == [(1.0, (0, 1, 2)), (7.0, (2,)), (1.0, (2,)), (7.0, (0, 1)), (1.0, (0, 1))]
    assert res.evaluations == 3 + 2 * (2 + 3)
    fail_from_profile = True
    res = fitmod.fit(cases, StackProfile("s", compute_scale=1.0), ["compute_scale"])
    assert res.loo == [5.0, 5.0, 5.0]  # the full fit's start alone
