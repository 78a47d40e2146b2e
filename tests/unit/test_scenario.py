"""Scenario and MemorySystem: one prediction, checked when built, reproducible from its results;
a memory system registered by name is all the engine needs."""

import dataclasses
import json

import numpy as np
import pytest

from hetier.errors import UsageError
from hetier.formats.results import load_results, save_results
from hetier.simulator.machines import load_machine
from hetier.simulator.memory_systems import MEMORY_SYSTEMS, OpTraffic
from hetier.simulator.memory_systems.flat import FlatTiers
from hetier.simulator.scenario import Scenario, scenario_of_run, simulate
from hetier.simulator.stack import StackProfile, load_stack
from hetier.simulator.workload import load_workload
from hetier.validation import MACHINE
from tests.helpers import random_trace, tiny_meta, write_tiny

NO_LLC = ["machine.llc_mb=0.000001"]


@pytest.fixture
def work(tmp_path):
    return load_workload(random_trace(tmp_path / "r.arrow", 7, 6))


def test_a_scenario_is_checked_when_built(work):
    m = load_machine("optane-appdirect")
    with pytest.raises(UsageError, match="threads 25 exceed machine 'optane-appdirect''s 24 cores"):
        Scenario(work, m, "all-dram", threads=25)
    with pytest.raises(UsageError, match="threads 0 must be at least 1"):
        Scenario(work, m, threads=0)
    with pytest.raises(UsageError, match="policy 'nope' not found"):
        Scenario(work, m, "nope")
    with pytest.raises(UsageError, match="machine 'optane-memory-mode' is in Memory Mode: it takes no placement "
                                         "policy \\(got 'dram-first'\\)"):
        Scenario(work, load_machine("optane-memory-mode"), "dram-first")
    assert Scenario(work, m).threads == 24  # default: the machine's cores


def test_a_stack_of_another_runtime_profile_is_refused_naming_both(work):
    m = load_machine("optane-appdirect")
    ht = load_stack("he-transformer")
    with pytest.raises(UsageError) as e:
        Scenario(work, m, stack=ht)
    assert str(e.value).startswith("stack 'he-transformer' replays traces of runtime profile 'reference', but this "
                                   "trace was recorded with runtime profile 'hetier'")
    r = simulate(Scenario(work, m, stack=ht, threads=4, allow_runtime_mismatch=True))
    assert r.notes["runtime_mismatch"].startswith("stack 'he-transformer' replays")
    assert r.scenario["allow_runtime_mismatch"] is True and r.scenario["runtime_profile"] == "hetier"


@pytest.mark.parametrize("machine, policy", [("optane-appdirect", "dram-first"), ("optane-memory-mode", None),
                                             ("optane-appdirect", "migrate")])
def test_every_run_is_reproduced_from_its_results_file(tmp_path, work, machine, policy):
    m = load_machine(machine, NO_LLC + ["dram.capacity_gb=0.02"])
    first = simulate(Scenario(work, m, policy, load_stack("hetier"), threads=3, seed=5))
    save_results(tmp_path / "res.arrow", [first])
    [run], table = load_results(tmp_path / "res.arrow")
    again = simulate(scenario_of_run(run, work))
    assert again.summary() == first.summary()
    assert again.layers == first.layers
    assert run["scenario"]["seed"] == 5 and run["scenario"]["memory_system"] == m.mode


def test_a_run_of_another_trace_is_not_reproduced_on_this_one(tmp_path, work):
    other = load_workload(random_trace(tmp_path / "o.arrow", 8, 6))
    r = simulate(Scenario(work, load_machine("dram-only"), threads=2))
    with pytest.raises(UsageError, match="the run is of trace r.arrow"):
        scenario_of_run(json.loads(json.dumps(r.summary())), other)


def test_the_machine_modes_are_the_registered_memory_systems():
    assert set(MEMORY_SYSTEMS) == set(MACHINE.fields["mode"].choices) == {"flat", "memory", "linux-tiering", "flat-memory-mode"}


def test_a_registered_memory_system_is_all_the_engine_needs(work):
    try:
        class _AllOnLastTier(FlatTiers):
            """A made-up memory system: the policy's placement decides fit, but every byte moves on the
            last tier and each slice waits 1000 ns. Registered by its mode, used by nothing else."""

            mode = "test-all-last"

            def op_traffic(self, op, traffic):
                base = super().op_traffic(op, traffic)
                last = self.tiers[-1]
                return OpTraffic({t: (sum(base.read.values()) if t == last else 0.0) for t in self.tiers},
                                 {t: (sum(base.write.values()) if t == last else 0.0) for t in self.tiers}, 1000.0)

        flat = load_machine("optane-appdirect", NO_LLC)
        made_up = dataclasses.replace(flat, mode="test-all-last")
        a = simulate(Scenario(work, flat, "all-dram", threads=1))
        b = simulate(Scenario(work, made_up, "all-dram", threads=1))
        assert b.read_bytes["dram"] == b.write_bytes["dram"] == 0.0
        assert b.read_bytes["pmem"] == pytest.approx(sum(a.read_bytes.values()))
        assert b.write_bytes["pmem"] == pytest.approx(sum(a.write_bytes.values()))
        n_ops = len(work.ops)
        assert np.sum(b.layers["stall_ns_pmem"]) >= 1000.0 * n_ops  # every op's one slice waited its latency
        assert b.peak_bytes == a.peak_bytes  # placement (fit) is the policy's, as before
    finally:
        MEMORY_SYSTEMS.pop("test-all-last", None)


def test_capacity_zero_takes_a_tier_away():
    m = load_machine("ddr5-cxl", ["cxl.capacity_gb=0"])
    assert m.tier_names == ["dram"] and m.device("dram").capacity_bytes == load_machine("ddr5-cxl").device(
        "dram").capacity_bytes
    with pytest.raises(UsageError, match="Memory Mode needs exactly two tiers"):
        load_machine("optane-memory-mode", ["pmem.capacity_gb=0"])
    with pytest.raises(UsageError, match="capacity_gb=0 removed every tier"):
        load_machine("dram-only", ["dram.capacity_gb=0"])
    with pytest.raises(UsageError, match="capacity_gb must be > 0 \\(got -1\\)"):
        load_machine("ddr5-cxl", ["cxl.capacity_gb=-1"])


def test_a_machine_too_small_for_memory_needed_is_answered_before_any_placement(work, monkeypatch):
    import hetier.simulator.scenario as sc

    def no(*a, **k):
        raise AssertionError("placed or replayed a scenario that cannot fit")

    monkeypatch.setattr(sc, "memory_stage", no)
    m = load_machine("optane-appdirect", ["dram.capacity_gb=0.001", "pmem.capacity_gb=0.001"])
    s = Scenario(work, m, "ilp", threads=2)
    r = simulate(s)
    need = s.memory_needed
    assert not r.fits and r.makespan_ns is None and r.compute_ns is None
    assert need.total_bytes == max(work.resident_peak_bytes, work.live_peak_bytes) + 536870912  # hetier's runtime
    assert r.missing_bytes["pmem"] == need.total_bytes - 2_000_000
    assert r.headline().startswith(f"does not fit: memory needed {need.total_bytes / 1e9:,.2f} GB")


def test_a_memory_mode_twin_too_large_to_simulate_is_left_out():
    from hetier.simulator.advise import memory_mode_twin

    assert memory_mode_twin(load_machine("optane-appdirect")) is not None
    assert memory_mode_twin(load_machine("optane-appdirect", ["dram.capacity_gb=4000"])) is None  # 976M sets
    assert memory_mode_twin(load_machine("ddr5-cxl")) is None  # Memory Mode needs PMem behind the DRAM
