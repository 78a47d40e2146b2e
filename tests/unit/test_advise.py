"""Whole-workload policies: the MILP against brute force, heuristics against the MILP, capacity
at every instant, migration, placement files. Random workloads have at most 12 tensors."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hetier.errors import HetierError
from hetier.formats.trace import EV, read_trace
from hetier.simulator.demands import schedule
from hetier.simulator.recording_host import RecordingHost
from hetier.simulator.machines import load_machine
from hetier.simulator.memory_time import plan_memory_ns
from hetier.formats.placement import placement_document, read_placement, write_placement
from hetier.simulator.policies import get_policy
from hetier.simulator.scenario import Scenario, memory_stage, simulate
from hetier.simulator.tensor_lifetimes import tensor_lifetimes
from hetier.simulator.workload import load_workload
from tests.helpers import random_trace, tiny_meta, write_tiny

TRACES = Path(__file__).resolve().parents[2] / "traces"
NO_LLC = ["machine.llc_mb=0.000001"]  # every access goes to memory
# these tests hold the placement algorithms to exact live-byte arithmetic: fit is judged on live bytes
# here (memory needed, the default, scales capacities by needed / live: tests/unit/test_scenario.py)
STATIC_WHOLE = ["hot-cold", "lifetime", "lifetime:1", "all-pmem", "all-dram"]  # whole tensors, never moved
slow_settings = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _machine(cap_mb: int):
    return load_machine("optane-appdirect", NO_LLC + [f"dram.capacity_gb={cap_mb / 1000}"])


def _modelled(w, m, policy: str, threads: int):
    """The simulator's own view of a placement: its plans' bytes / bandwidth at ``threads`` streams."""
    sc = Scenario(w, m, policy, threads=threads, recording=RecordingHost(), fit_by="live")
    mem = memory_stage(sc)
    return plan_memory_ns(schedule(mem.demands, w, sc.stack, threads), m, threads), mem.placement, mem.system.policy


def _brute_force(path: str, m, threads: int) -> float:
    """Best whole-tensor placement by trying all 2**n, from the raw trace events: live bytes after
    every allocation event, bytes read and written per tensor."""
    ev = read_trace(path).events
    tensors = sorted(set(ev.tensor[ev.event == EV["alloc"]].tolist()))
    idx = {t: i for i, t in enumerate(tensors)}
    live = np.zeros(len(tensors))
    instants = []
    rd, wr = np.zeros(len(tensors)), np.zeros(len(tensors))
    for e, t, b in zip(ev.event.tolist(), ev.tensor.tolist(), ev.nbytes.tolist()):
        if e == EV["alloc"]:
            live[idx[t]] += b
            instants.append(live.copy())
        elif e == EV["free"]:
            live[idx[t]] -= b
        elif e == EV["read"]:
            rd[idx[t]] += b
        elif e == EV["write"]:
            wr[idx[t]] += b
    fast, slow = m.device("dram"), m.device("pmem")
    cost = {d: rd / d.bandwidth(threads) + wr * d.write_amplification / d.bandwidth(threads, write=True) for d in (fast, slow)}
    L = np.array(instants)
    best = np.inf
    for x in itertools.product((0, 1), repeat=len(tensors)):  # 1: in DRAM
        x = np.array(x, dtype=bool)
        if (L[:, x].sum(axis=1) <= fast.capacity_bytes).all():
            best = min(best, cost[fast][x].sum() + cost[slow][~x].sum())
    return best


@slow_settings
@given(seed=st.integers(0, 10 ** 6), n_ops=st.integers(1, 11), cap_mb=st.integers(1, 60),
       threads=st.sampled_from([1, 4, 24]))
def test_milp_objective_equals_brute_force_and_no_heuristic_beats_it(tmp_path, seed, n_ops, cap_mb, threads):
    path = random_trace(tmp_path / f"r{seed}.arrow", seed, n_ops)  # n_ops + 1 tensors
    w = load_workload(path)
    m = _machine(cap_mb)
    opt_ns, pl, pol = _modelled(w, m, "ilp", threads)
    assert pl.fits
    assert pol.objective_ns == pytest.approx(_brute_force(path, m, threads), rel=1e-9)
    assert opt_ns == pytest.approx(pol.objective_ns, rel=1e-9)  # the MILP's model is the simulator's
    for h in STATIC_WHOLE:
        ns, hpl, _ = _modelled(w, m, h, threads)
        if hpl.fits:
            assert ns >= opt_ns * (1 - 1e-9), h


@slow_settings
@given(seed=st.integers(0, 10 ** 6), n_ops=st.integers(1, 11), cap_mb=st.integers(1, 60),
       policy=st.sampled_from(["ilp", "ilp:site", "hot-cold", "lifetime", "migrate", "migrate:0", "migrate:0.1"]))
def test_every_placement_respects_capacity_at_every_instant(tmp_path, seed, n_ops, cap_mb, policy):
    w = load_workload(random_trace(tmp_path / f"r{seed}.arrow", seed, n_ops))
    m = _machine(cap_mb)
    r = simulate(Scenario(w, m, policy, threads=2, fit_by="live"))
    assert r.fits and r.makespan_ns > 0
    assert r.peak_bytes["dram"] <= m.device("dram").capacity_bytes


@slow_settings
@given(seed=st.integers(0, 10 ** 6), n_ops=st.integers(1, 11), cap_mb=st.integers(1, 60))
def test_migrate_with_infinite_copy_cost_is_its_static_start(tmp_path, seed, n_ops, cap_mb):
    w = load_workload(random_trace(tmp_path / f"r{seed}.arrow", seed, n_ops))
    m = _machine(cap_mb)
    still, start = simulate(Scenario(w, m, "migrate:inf", threads=3, fit_by="live")), simulate(Scenario(w, m, "ilp", threads=3, fit_by="live"))
    assert still.notes["migrated_bytes"] == 0
    assert (still.makespan_ns, still.read_bytes, still.write_bytes, still.peak_bytes) == \
        (start.makespan_ns, start.read_bytes, start.write_bytes, start.peak_bytes)
    assert still.layers == start.layers


def _swap_trace(path) -> str:
    """Two equal tensors live all run, DRAM for one: A is read hard in op 1, B in ops 3 and 4."""
    CT = 1 << 20
    rows, ts = [], 0
    layers = ("input", "useA", "idle", "useB", "useB2", "teardown")
    for layer in range(len(layers)):
        rows.append((ts := ts + 1, "op_begin", -1, 0, 0, "none", -1, layer))
        if layer == 0:
            for t in (0, 1):
                rows.append((ts := ts + 1, "alloc", t, 10 * CT, 10, "ciphertext", 3, 0))
                rows.append((ts := ts + 1, "write", t, 10 * CT, 10, "ciphertext", 3, 0))
        elif layer in (1, 3, 4):
            t = 0 if layer == 1 else 1
            rows.append((ts := ts + 1, "read", t, 400 * CT, 400, "ciphertext", 3, layer))
        elif layer == 5:
            for t in (0, 1):
                rows.append((ts := ts + 1, "free", t, 10 * CT, 10, "ciphertext", 3, layer))
        rows.append((ts := ts + 10 ** 6, "op_end", -1, 0, 0, "none", -1, layer))
    return write_tiny(path, rows, tiny_meta(layers=layers, granularity="tensor"))


def test_migrate_swaps_tensors_when_the_copy_pays_and_replays_the_copies(tmp_path):
    w = load_workload(_swap_trace(tmp_path / "swap.arrow"))
    m = load_machine("optane-appdirect", NO_LLC + ["dram.capacity_gb=0.0110"])  # one 10.5 MB tensor
    still, moving = simulate(Scenario(w, m, "migrate:inf", threads=1, fit_by="live")), simulate(Scenario(w, m, "migrate", threads=1, fit_by="live"))
    assert moving.fits and moving.peak_bytes["dram"] <= m.device("dram").capacity_bytes
    # the static optimum keeps B (read in two ops) in DRAM; migrate swaps A in for op 1, then B back
    assert moving.notes["migrated_bytes"] == 4 * 10 * (1 << 20)
    assert moving.makespan_ns < still.makespan_ns
    # copies are traffic: reads and writes grow by the migrated bytes, on both tiers
    assert sum(moving.read_bytes.values()) == sum(still.read_bytes.values()) + moving.notes["migrated_bytes"]
    assert sum(moving.write_bytes.values()) == sum(still.write_bytes.values()) + moving.notes["migrated_bytes"]


def test_profile_sums_the_trace(tmp_path):
    path = random_trace(tmp_path / "p.arrow", 7, 9)
    ev = read_trace(path).events
    p = tensor_lifetimes(load_workload(path), 1)
    assert sum(s.read_bytes for s in p.tensors) == ev.nbytes[ev.event == EV["read"]].sum()
    assert sum(s.write_bytes for s in p.tensors) == ev.nbytes[ev.event == EV["write"]].sum()
    for s in p.tensors:
        assert s.first_op <= s.alloc_op <= s.last_op and s.nbytes == s.live.max()
    assert p.peak_live.max() == max(sum(s.live_at(o) for s in p.tensors) for o in range(p.n_ops))


def test_placement_file_replays_and_refuses_another_trace(tmp_path):
    a = load_workload(random_trace(tmp_path / "a.arrow", 1, 6))
    b = load_workload(random_trace(tmp_path / "b.arrow", 2, 6))
    m = _machine(20)
    pol = get_policy("ilp", m.tier_names)
    pol.prepare(a, m, 1)
    f = tmp_path / "a.placement.json"
    write_placement(f, placement_document(a.trace_id, m.name, pol.label, pol.start, pol.moves))
    assert read_placement(f)["trace"]["sha256"] == a.trace_id["sha256"]
    assert simulate(Scenario(a, m, f"placement:{f}", fit_by="live")).makespan_ns == simulate(Scenario(a, m, "ilp", fit_by="live")).makespan_ns
    with pytest.raises(HetierError) as e:
        simulate(Scenario(b, m, f"placement:{f}", fit_by="live"))
    msg = str(e.value)
    assert "a.arrow" in msg and "b.arrow" in msg and a.trace_id["sha256"][:12] in msg and b.trace_id["sha256"][:12] in msg
    f.write_text("{}")
    with pytest.raises(HetierError, match="not a hetier placement file"):
        get_policy(f"placement:{f}", m.tier_names)


def test_two_tier_policies_refuse_one_tier_machines():
    for p in ("ilp", "hot-cold", "lifetime", "migrate"):
        with pytest.raises(HetierError, match="needs a machine with two tiers"):
            get_policy(p, ["dram"])


def test_ilp_reports_an_infeasible_machine(tmp_path):
    # the tiers hold 1.02 x the peak together, but no whole-tensor split of the peak's tensors fits them
    w = load_workload(random_trace(tmp_path / "i.arrow", 3, 5))
    half = 0.51 * w.live_peak_bytes / 1e9
    m = load_machine("optane-appdirect", NO_LLC + [f"dram.capacity_gb={half}", f"pmem.capacity_gb={half}"])
    with pytest.raises(HetierError, match="no static placement fits"):
        simulate(Scenario(w, m, "ilp", fit_by="live"))


@pytest.mark.parametrize("spec, msg", [("lifetime:x", "is not a whole number"), ("lifetime:0", "must be at least 1"),
                                       ("migrate:-1", "must be at least 0"), ("ilp:pages", "granularity 'pages' unknown"),
                                       ("placement", "needs a file")])
def test_bad_policy_arguments_name_the_value(spec, msg):
    with pytest.raises(HetierError, match=msg):
        get_policy(spec, ["dram", "pmem"])


def test_memory_mode_twin_of_the_app_direct_preset_is_the_memory_mode_preset():
    from hetier.simulator.advise import memory_mode_twin

    twin = memory_mode_twin(load_machine("ref-app-direct")).to_dict()
    mm = load_machine("ref-memory-mode").to_dict()
    for d in (twin, mm):
        d.pop("name"), d.pop("description")
    assert twin == mm
    assert memory_mode_twin(load_machine("dram-only")) is None


def test_advice_is_deterministic(tmp_path):
    from hetier.simulator.advise import advise_machine, placement_for

    w = load_workload(random_trace(tmp_path / "d.arrow", 11, 8))
    m = _machine(15)
    a, b = (advise_machine(w, m, ["ilp", "migrate", "hot-cold"], 4) for _ in range(2))
    assert a == b and all(r.ok for r in a.rows)
    assert placement_for(w, m, "migrate", 4) == placement_for(w, m, "migrate", 4)
