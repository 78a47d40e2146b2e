"""Axis parsing shared by replay and sweep: lists, ranges, labels, inapplicable pairs."""

import pytest

from hetier.errors import UsageError
from hetier.simulator.axes import axes_from_args, parse_overrides, parse_threads


def test_threads_lists_and_repeats_combine():
    assert parse_threads(["1,8", "24"]) == [1, 8, 24]
    assert parse_threads(None) == []  # none given: each machine's cores
    with pytest.raises(UsageError, match="threads 8 listed twice"):
        parse_threads(["1,8", "8"])
    with pytest.raises(UsageError, match="threads 'x' is not a whole number"):
        parse_threads(["x"])


def test_ranges_are_inclusive_and_exact():
    [o] = parse_overrides(["dram.capacity_gb=16:192:16"], [])
    assert o.texts == tuple(str(16 * i) for i in range(1, 13))
    [o] = parse_overrides(["pmem.read_bw_scale=0.1:0.3:0.1"], [])
    assert o.texts == ("0.1", "0.2", "0.3")  # decimal steps, no 0.30000000000000004
    [o] = parse_overrides(["dram.read_curve=[[1, 2.9], [4, 11.6]]"], [])
    assert o.texts == ("[[1, 2.9], [4, 11.6]]",)  # a TOML list is one value


def test_a_prefix_must_name_a_listed_machine():
    with pytest.raises(UsageError, match="names machine 'optane-memory-mod', which is not listed"):
        parse_overrides(["optane-memory-mod:dram.capacity_gb=16"], ["optane-memory-mode"])


def test_same_preset_twice_under_labels_with_different_overrides():
    axes = axes_from_args(["t.arrow"], ["small=optane-appdirect,big=optane-appdirect"], ["dram-first"], ["1,8"],
                          ["small:dram.capacity_gb=16,32", "big:dram.capacity_gb=512"])
    got = [(c.machine, c.overrides, c.threads) for c in axes.configs()]
    assert got == [("small", (("dram.capacity_gb", "16"),), 1), ("small", (("dram.capacity_gb", "16"),), 8),
                   ("small", (("dram.capacity_gb", "32"),), 1), ("small", (("dram.capacity_gb", "32"),), 8),
                   ("big", (("dram.capacity_gb", "512"),), 1), ("big", (("dram.capacity_gb", "512"),), 8)]
    assert axes.configs()[4].load().device("dram").capacity_bytes == 512 * 10 ** 9
    with pytest.raises(UsageError, match="machine 'optane-appdirect' listed twice; give each variant a label"):
        axes_from_args(["t"], ["optane-appdirect", "optane-appdirect"], None, None, None)


def test_inapplicable_pairs_are_configs_with_a_reason():
    axes = axes_from_args(["t"], ["dram-only,optane-appdirect,optane-memory-mode"], ["all-pmem,interleave"],
                          None, ["pmem.capacity_gb=512"])
    got = [(c.machine, c.policy, c.skip, c.overrides) for c in axes.configs()]
    assert got == [
        ("dram-only", "all-dram", None, ()),  # one tier: one placement
        ("dram-only", "interleave", "not applicable: policy interleave needs a machine with two tiers", ()),
        ("optane-appdirect", "all-pmem", None, (("pmem.capacity_gb", "512"),)),
        ("optane-appdirect", "interleave:0.5", None, (("pmem.capacity_gb", "512"),)),
        ("optane-memory-mode", "memory-mode", None, (("pmem.capacity_gb", "512"),)),
    ]


@pytest.mark.parametrize("sets, msg", [
    (["gpu.capacity_gb=1"], "override names unknown tier(s) gpu"),
    (["dram.capacity_gb=16,16"], "lists a value twice"),
    (["dram.capacity_gb=64:16:16"], "STOP >= START"),
    (["dram.capacity_gb=1", "dram.capacity_gb=2"], "override dram.capacity_gb given twice"),
])
def test_bad_overrides(sets, msg):
    with pytest.raises(UsageError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        axes_from_args(["t"], ["dram-only"], None, None, sets).configs()


def test_threads_default_to_the_machines_cores_and_more_is_a_row_saying_why():
    configs = axes_from_args(["t.arrow"], ["dram-only", "ref-dram-only"], ["all-dram"], None, []).configs()
    assert [(c.machine, c.threads, c.skip) for c in configs] == [("dram-only", 24, None), ("ref-dram-only", 48, None)]
    [c] = axes_from_args(["t.arrow"], ["dram-only"], ["all-dram"], ["32"], []).configs()
    assert c.skip == "32 threads exceed the machine's 24 cores"
