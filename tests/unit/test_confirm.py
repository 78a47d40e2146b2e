"""confirm's pieces: policy -> numactl binding on fake topologies, numa_maps parsing, what a
trace must hold to be re-run, the record file, per-phase policies read back from the kernel."""

import csv
import json

import pytest

from hetier.errors import UsageError
from hetier.host import numactl
from hetier.workflow.confirm import RECORD_COLUMNS, binding_for, rerun_spec, write_records
from hetier.host.memory_preset import tier_nodes
from hetier.host.numa_maps import parse_numa_maps
from hetier.host.phase_policy import MPOL_BIND, MPOL_DEFAULT, MPOL_INTERLEAVE, get_policy, set_policy
from hetier.host.topology import read_topology
from hetier.simulator.machines import load_machine
from tests.helpers import tiny_meta
from tests.unit.test_host_memory import APP_DIRECT, fake_sysfs

TIER = """
[[tiers]]
name = "{name}"
capacity_gb = 10.0
read_latency_seq_ns = 80.0
read_curve = [[1, 10.0]]
write_curve = [[1, 8.0]]
[tiers.source]
numa_node = {node}
"""


def preset(tmp_path, tiers: list[tuple[str, int]], mode: str = "flat") -> str:
    p = tmp_path / f"m-{len(tiers)}-{mode}.toml"
    p.write_text(f'name = "host-test"\nmode = "{mode}"\ncores = 8\nllc_mb = 32\n'
                 + "".join(TIER.format(name=n, node=i) for n, i in tiers))
    return str(p)


@pytest.fixture(autouse=True)
def fake_numactl(monkeypatch):
    monkeypatch.setattr(numactl, "numactl_path", lambda: "/usr/bin/numactl")


@pytest.fixture
def app_direct(tmp_path):
    topo = read_topology(fake_sysfs(tmp_path / "sys", APP_DIRECT))
    path = preset(tmp_path, [("dram", 0), ("pmem", 2)])
    return topo, load_machine(path), tier_nodes(path)


@pytest.fixture
def one_node(tmp_path):
    topo = read_topology(fake_sysfs(tmp_path / "sys", {0: ("0-1", 23_000_000)}))
    path = preset(tmp_path, [("dram", 0)])
    return topo, load_machine(path), tier_nodes(path)


@pytest.mark.parametrize("policy, words, predicted", [
    ("all-dram", ["--cpunodebind=0", "--membind=0"], "all-dram"),
    ("all-pmem", ["--cpunodebind=0", "--membind=2"], "all-pmem"),
    ("dram-first", ["--cpunodebind=0", "--preferred=0"], "dram-first"),
    ("interleave", ["--cpunodebind=0", "--interleave=0,2"], "interleave"),
    ("interleave:0.5", ["--cpunodebind=0", "--interleave=0,2"], "interleave"),
])
def test_policies_bind_like_numactl_on_an_app_direct_layout(app_direct, policy, words, predicted):
    b = binding_for(policy, *app_direct[1:], app_direct[0])
    assert b.numactl == ["/usr/bin/numactl", *words] and b.predict_policy == predicted


@pytest.mark.parametrize("policy", ["all-pmem", "dram-first"])
def test_policies_needing_memory_only_nodes_are_refused_on_one_node(one_node, policy):
    with pytest.raises(UsageError, match=f"policy '{policy}' needs a memory-only NUMA node .*CXL.*this machine has none"):
        binding_for(policy, *one_node[1:], one_node[0])


def test_interleave_on_one_node_runs_and_predicts_all_dram(one_node):
    b = binding_for("interleave", *one_node[1:], one_node[0])
    assert b.numactl[-1] == "--interleave=0" and b.predict_policy == "all-dram"


@pytest.mark.parametrize("policy, msg", [
    ("kind-aware", "places single tensors; SEAL/TenSEAL expose no allocator hook"),
    ("interleave:0.25", "needs weighted interleave"),
    ("interleave:abc", "'abc' is not a fraction"),  # was a ValueError traceback
])
def test_placements_confirm_cannot_apply_are_refused(app_direct, policy, msg):
    with pytest.raises(UsageError, match=msg):
        binding_for(policy, *app_direct[1:], app_direct[0])


def test_a_numa_node_that_is_not_one_number_is_refused(app_direct):
    topo, m, nodes = app_direct
    with pytest.raises(UsageError, match=r"numa_node of tier dram must be one node number \(got \[0\]\)"):
        binding_for("all-dram", m, {**nodes, "dram": [0]}, topo)  # was "unhashable type: 'list'"


def test_memory_mode_only_runs_and_compares(tmp_path, app_direct):
    path = preset(tmp_path, [("dram", 0), ("pmem", 2)], mode="memory")
    m = load_machine(path)
    assert binding_for("memory-mode", m, tier_nodes(path), app_direct[0]).numactl == []
    with pytest.raises(UsageError, match="Memory Mode .* cannot apply 'all-pmem'"):
        binding_for("all-pmem", m, tier_nodes(path), app_direct[0])


def test_a_preset_node_this_host_lacks_is_refused(tmp_path, one_node):
    path = preset(tmp_path, [("dram", 3)])
    with pytest.raises(UsageError, match="tier dram on NUMA node 3, which this host does not have"):
        binding_for("all-dram", load_machine(path), tier_nodes(path), one_node[0])


def test_missing_numactl_is_one_line(one_node, monkeypatch):
    monkeypatch.setattr(numactl, "numactl_path", lambda: None)
    with pytest.raises(Exception, match=r"numactl is missing: install it \(Debian: apt-get install -y numactl\)"):
        binding_for("all-dram", *one_node[1:], one_node[0])


def test_numa_maps_pages_times_page_size_per_node():
    text = ("00400000 default file=/usr/bin/python3.11 mapped=300 N0=200 N2=100 kernelpagesize_kB=4\n"
            "7f0000000000 interleave:0,2 anon=1024 dirty=1024 N0=512 N2=512 kernelpagesize_kB=4\n"
            "7f2000000000 default anon=2 N1=2 kernelpagesize_kB=2048\n")
    assert parse_numa_maps(text) == {0: 712 * 4096, 2: 612 * 4096, 1: 2 * 2 ** 21}


def test_only_real_traces_of_known_models_with_an_input_seed_are_rerun():
    meta = tiny_meta(model={"name": "mlp", "config": {"activation": "relu"}, "depth": 1},
                     runtime={"bias_copy": False, "input_seed": 3})
    spec = rerun_spec(meta, "t.arrow")
    assert spec["seed"] == 3 and spec["bias_copy"] is False and spec["he"]["primes"] == [30, 22, 22, 30]
    with pytest.raises(UsageError, match="is a plan trace"):
        rerun_spec({**meta, "mode": "plan"}, "t.arrow")
    with pytest.raises(UsageError, match=r"cannot rebuild its model \(model 'vgg' unknown"):
        rerun_spec({**meta, "model": {"name": "vgg", "config": {}}}, "t.arrow")
    with pytest.raises(UsageError, match=r"cannot rebuild its HE parameters \(poly modulus N=5000"):
        rerun_spec({**meta, "he": {**meta["he"], "poly_modulus": 5000}}, "t.arrow")
    with pytest.raises(UsageError, match="does not record its input seed"):
        rerun_spec({**meta, "runtime": {}}, "t.arrow")


REC = {"model": "mlp", "width": "", "resolution": "", "batch": 4, "poly_modulus": 4096, "primes": "30;22;30",
       "machine": "dram-only", "policy": "all-dram", "threads": 1, "peak_gb": 0.25, "seconds": 0.5, "repeat": 1,
       "placement_checks": [{"ok": True}]}


def test_records_are_the_measured_runs_columns_and_append(tmp_path):
    from hetier.formats.measured import load_measured

    out = tmp_path / "runs.csv"
    write_records(out, [REC], append=False)
    write_records(out, [REC | {"repeat": 2}], append=True)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[:len(RECORD_COLUMNS)] == list(RECORD_COLUMNS)
    assert [r["repeat"] for r in rows] == ["1", "2"]
    runs = load_measured(out)  # exactly fit's input
    assert [(r.model, r.primes, r.machine, r.seconds) for r in runs] == [("mlp", (30, 22, 30), "dram-only", 0.5)] * 2
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="other columns than a confirm record"):
        write_records(other, [REC], append=True)
    shuffled = tmp_path / "shuffled.csv"  # a confirm record's columns in another order: not one
    shuffled.write_text(",".join(list(RECORD_COLUMNS) + ["cpu_seconds", "repeat"]) + "\n")
    with pytest.raises(UsageError, match="other columns than a confirm record"):
        write_records(shuffled, [REC], append=True)


def test_records_of_an_earlier_hetier_with_fewer_columns_are_appended_to_under_todays_header(tmp_path):
    """A record file written before the speed-probe columns existed takes new records: its rows
    are kept (their new columns empty) and the file gets today's header."""
    from hetier.formats.measured import load_measured
    from hetier.workflow.confirm import EXTRA_COLUMNS

    new = ("run_speed", "run_speed_spread", "predicted_seconds_run_speed", "cpu_seconds_error_run_speed")
    older = [c for c in RECORD_COLUMNS + EXTRA_COLUMNS if c not in new]
    out = tmp_path / "runs.csv"
    write_records(out, [REC], append=False)
    rows = list(csv.DictReader(out.open()))
    with out.open("w", newline="") as f:  # as the earlier hetier wrote it
        w = csv.DictWriter(f, fieldnames=older, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    write_records(out, [REC | {"repeat": 2, "run_speed": 1.25}], append=True)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == list(RECORD_COLUMNS + EXTRA_COLUMNS)
    assert [(r["repeat"], r["run_speed"]) for r in rows] == [("1", ""), ("2", "1.25")]
    assert len(load_measured(out)) == 2


def test_record_file_is_checked_and_locked_before_the_runs(tmp_path):
    from hetier.errors import HetierError
    from hetier.workflow.confirm import RecordFile

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe not text")
    with pytest.raises(UsageError, match="is not UTF-8 text; write to a new file"):
        RecordFile(bad, append=True)  # refused when the file is opened, before any re-run
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(UsageError, match="is not JSON"):
        RecordFile(broken, append=True)
    out = tmp_path / "runs.csv"
    first = RecordFile(out, append=True)
    with pytest.raises(UsageError, match="another hetier is writing"):
        RecordFile(out, append=True)  # a concurrent confirm is refused before it measures anything
    first.write([REC])
    RecordFile(out, append=True).write([REC | {"repeat": 2}])  # the lock was released
    assert [r["repeat"] for r in csv.DictReader(out.open())] == ["1", "2"]
    # a write that fails keeps the new records beside the file
    gone = tmp_path / "gone.csv"
    rf = RecordFile(gone, append=False)
    gone.mkdir()
    with pytest.raises(HetierError, match=r"the 1 new record\(s\) are in .*gone\.csv\.unsaved-.*\.json"):
        rf.write([REC])
    [saved] = tmp_path.glob("gone.csv.unsaved-*.json")
    assert json.loads(saved.read_text())[0]["seconds"] == 0.5


def test_memory_policy_set_and_read_back_through_libnuma():
    try:
        set_policy(MPOL_BIND, [0])
        assert get_policy() == (MPOL_BIND, [0])
        set_policy(MPOL_INTERLEAVE, [0])
        assert get_policy() == (MPOL_INTERLEAVE, [0])
    finally:
        set_policy(MPOL_DEFAULT, [])
    assert get_policy() == (MPOL_DEFAULT, [])


def _tiering_tree(tmp_path, numa_balancing: str | None, demotion: str | None):
    proc, sys = tmp_path / "proc", tmp_path / "sysroot"
    (proc / "sys/kernel").mkdir(parents=True)
    (sys / "kernel/mm/numa").mkdir(parents=True)
    if numa_balancing is not None:
        (proc / "sys/kernel/numa_balancing").write_text(numa_balancing + "\n")
    if demotion is not None:
        (sys / "kernel/mm/numa/demotion_enabled").write_text(demotion + "\n")
    (proc / "vmstat").write_text("nr_free_pages 100\npgpromote_success 10\npgpromote_candidate 12\n"
                                 "pgdemote_kswapd 7\npgdemote_direct 0\nnuma_hint_faults 40\nnuma_pages_migrated 10\n")
    return proc, sys


@pytest.mark.parametrize("nb, dem, msg", [
    ("1", "true", "Linux tiering needs sysctl kernel.numa_balancing = 2 (it is 1); hetier does not change kernel "
                  "settings: set it yourself to confirm with --policy linux-tiering"),
    ("2", "false", "Linux tiering needs /sys/kernel/mm/numa/demotion_enabled = true (it is false)"),
    (None, "true", "Linux tiering needs sysctl kernel.numa_balancing = 2, and this kernel has no "),
])
def test_linux_tiering_runs_only_if_the_kernel_already_has_it_on(tmp_path, app_direct, nb, dem, msg):
    topo, m, nodes = app_direct
    proc, sys = _tiering_tree(tmp_path, nb, dem)
    with pytest.raises(UsageError) as e:
        binding_for("linux-tiering", m, nodes, topo, proc, sys)
    assert str(e.value).startswith(msg) and "\n" not in str(e.value)
    assert (proc / "sys/kernel/numa_balancing").read_text().strip() == (nb or "") if nb else True  # never written


@pytest.mark.parametrize("nb", ["2", "3"])  # 3 = NUMA balancing and tiering both on (a bit mask)
def test_linux_tiering_binds_cpus_only_and_predicts_in_tiering_mode(tmp_path, app_direct, nb):
    topo, m, nodes = app_direct
    proc, sys = _tiering_tree(tmp_path, nb, "true")
    b = binding_for("linux-tiering", m, nodes, topo, proc, sys)
    assert b.numactl[1:] == ["--cpunodebind=0"] and b.predict_policy == "linux-tiering"
    assert b.predict_mode == "linux-tiering" and b.predicts


def test_linux_tiering_needs_a_memory_only_node(tmp_path, one_node):
    topo, m, nodes = one_node
    proc, sys = _tiering_tree(tmp_path, "2", "true")
    with pytest.raises(UsageError, match="needs a memory-only NUMA node"):
        binding_for("linux-tiering", m, nodes, topo, proc, sys)


def test_the_kernels_tiering_counters_are_read_and_set_beside_the_prediction(tmp_path):
    from types import SimpleNamespace

    from hetier.host.tiering import read_vmstat
    from hetier.workflow.confirm import tiering_fields

    proc, _ = _tiering_tree(tmp_path, "2", "true")
    before = read_vmstat(proc)
    assert before == {"pgpromote_success": 10, "pgpromote_candidate": 12, "pgdemote_kswapd": 7, "pgdemote_direct": 0,
                      "numa_hint_faults": 40, "numa_pages_migrated": 10}
    (proc / "vmstat").write_text("pgpromote_success 25\npgpromote_candidate 30\npgdemote_kswapd 9\n"
                                 "numa_hint_faults 41\nnuma_pages_migrated 25\n")  # pgdemote_direct: not in this kernel
    pred = SimpleNamespace(notes={"tiering": {"pgpromote_success": 14, "pgdemote_kswapd": 3, "numa_hint_faults": 2,
                                              "page_bytes": 4096}})
    f = tiering_fields(before, read_vmstat(proc), pred)
    assert f["vmstat_delta"] == {"pgpromote_success": 15, "pgpromote_candidate": 18, "pgdemote_kswapd": 2,
                                 "pgdemote_direct": 0, "numa_hint_faults": 1, "numa_pages_migrated": 15}
    assert f["predicted_vmstat"] == {"pgpromote_success": 14, "pgdemote_kswapd": 3, "numa_hint_faults": 2}


def test_the_residency_sampler_waits_long_enough_to_stay_within_its_budget():
    """A sample that takes 50 ms is followed by a 0.95 s wait (5% of a core); a fast one by the
    interval; peaks are kept across samples."""
    from hetier.host.numa_maps import PeakSampler

    t = [0.0]
    costs = iter([0.05, 0.001, 0.2])
    sizes = iter([{0: 100}, {0: 300, 1: 5}, {0: 200, 1: 50}])

    def read(pid):
        t[0] += next(costs)
        return next(sizes)

    s = PeakSampler(1, interval=0.1, budget=0.05, read=read, clock=lambda: t[0])
    s.sample()
    assert s.wait == pytest.approx(0.95)
    s.sample()
    assert s.wait == 0.1
    s.sample()
    assert s.wait == pytest.approx(3.8)
    assert (s.peak_total, s.peak_by_node, s.samples) == (305, {0: 300, 1: 50}, 3)
    assert s.sampling_s == pytest.approx(0.251)
