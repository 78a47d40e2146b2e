"""`hetier replay` and `hetier machines` through main([...])."""

from pathlib import Path

import pytest

from hetier.formats.results import load_results
from tests.helpers import GOOD_ROWS, tiny_meta, write_tiny, run_cli as run, truncated_tiny

TRACE = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")


def test_replay_compares_configs_and_writes_results(tmp_path, capsys):
    out = tmp_path / "r.arrow"
    code, stdout, err = run(["replay", TRACE, "--machine", "optane-appdirect,optane-memory-mode",
                             "--policy", "all-dram,all-pmem", "--policy", "dram-first",
                             "--set", "dram.capacity_gb=1", "-o", str(out)], capsys)
    assert code == 0, err
    assert "does not fit: needs 1.84 GB more dram" in stdout  # all-dram: 2.84 GB needed (2.01 GB live) in 1 GB
    assert "memory-mode" in stdout and "dram-first" in stdout
    runs, table = load_results(out)
    assert [r["policy"] for r in runs] == ["all-dram", "all-pmem", "dram-first", "memory-mode"]
    assert runs[0]["makespan_ns"] is None and runs[1]["makespan_ns"] > 0
    assert runs[2]["machine"]["tiers"][0]["capacity_gb"] == 1.0  # the resolved machine is embedded
    code, _, err = run(["replay", TRACE, "--machine", "dram-only", "-o", str(out)], capsys)
    assert code == 2 and "exists" in err


def test_machines_lists_presets(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(["machines"], capsys)
    assert code == 0 and "ref-memory-mode" in out and "optane-appdirect" in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    code, out, _ = run(["machines", "--devices"], capsys)
    assert code == 0 and "12.5@4" in out  # Optane 6-DIMM write peak at 4 streams
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    assert "ref-optane-12dimm-6tb" in out and "read/write" in out  # whole names; latencies say which is which


def test_dump_config_shows_overrides(capsys):
    code, out, _ = run(["replay", TRACE, "--machine", "dram-only", "--set", "dram.capacity_gb=8", "--dump-config"], capsys)
    assert code == 0 and '"capacity_gb": 8.0' in out


def _machine_file(tmp_path, body, name="m"):
    p = tmp_path / f"{name}.toml"
    p.write_text(body)
    return str(p)


@pytest.mark.parametrize("argv, msg", [
    (["--machine", "optane-x"], "machine 'optane-x' not found (known: ddr5-cxl, ddr5-dram-only, dram-only"),
    (["--machine", "optane-appdirect", "--policy", "nope"], "policy 'nope' not found (known: all-dram"),
    (["--machine", "optane-appdirect", "--set", "gpu.capacity_gb=1"], "override names unknown tier(s) gpu"),
    (["--machine", "dram-only", "--set", "dram.capacity_gb=-4"], "--set dram.capacity_gb=-4: capacity_gb must be > 0 (got -4)"),
    (["--machine", "{mfile_missing}"], "missing 'read_curve'"),
    (["--machine", "{mfile_zero}"], "z.toml tier dram: capacity_gb must be > 0 (got 0)"),  # the user's file
    (["--machine", "dram-only", "--threads", "0"], "threads 0 must be at least 1"),
    (["--machine", "dram-only", "--set", "dram.read_curve=[[1,nan]]"], "read_curve[0][1] must be a finite number"),
    (["--machine", "dram-only", "--set", "dram.read_latency_seq_ns=1e308"], "read_latency_seq_ns must be <= 1e+07"),
    (["--machine", "dram-only", "--set", "machine.foo=1"], "--set machine.foo=1: unknown machine key(s) foo"),
    (["--machine", "dram-only", "--set", "machine.cores=2.5"], "cores must be a whole number (got 2.5)"),
    (["--machine", "optane-memory-mode", "--set", "machine.cache_block_bytes=1"], "cache_block_bytes must be >= 64"),
    (["--machine", "optane-memory-mode", "--set", "machine.cache_block_bytes=100"], "must be a power of two"),
    (["--machine", "dram-only", "--set", "dram.name=5"], "name must be a string (got 5)"),
    (["--machine", "{mfile_dup}"], "tier name 'dram' appears twice"),
    (["--machine", "{mfile_nan}"], "m2.toml: llc_mb must be a finite number (got nan)"),
    (["--machine", "{mfile_dir}"], "is a directory"),
    (["--machine", "{mfile_cache}"], "unknown machine key(s) backing, cache"),
    (["--machine", "{mfile_granule}"], "unknown device key(s) granularity_bytes"),
    (["--machine", "dram-only", "--set", "machine.mode=memory"], "unknown machine key(s) mode"),
])
def test_bad_input_is_one_line(argv, msg, tmp_path, capsys):
    files = {
        "mfile_missing": _machine_file(tmp_path, 'cores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\ncapacity_gb = 4\n'
                                                 'read_latency_seq_ns = 80\nwrite_curve = [[1, 5.0]]\nwrite_latency_ns = 90\n'),
        # keys the simulator would ignore are refused: Memory Mode's tiers are [[tiers]], not cache/backing
        "mfile_cache": _machine_file(tmp_path, name="cache", body='cores = 4\nllc_mb = 8\ncache = "dram"\nbacking = "pmem"\n'
                                               '[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n'),
        "mfile_granule": _machine_file(tmp_path, name="granule", body='cores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\n'
                                                 'device = "ddr4-2666-6ch"\ngranularity_bytes = 64\n'),
    }
    files["mfile_zero"] = str(tmp_path / "z.toml")
    Path(files["mfile_zero"]).write_text('cores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\ncapacity_gb = 0\n')
    files["mfile_dup"] = str(tmp_path / "dup.toml")
    Path(files["mfile_dup"]).write_text('cores = 4\nllc_mb = 8\n' + '[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n' * 2)
    files["mfile_nan"] = str(tmp_path / "m2.toml")
    Path(files["mfile_nan"]).write_text('cores = 4\nllc_mb = nan\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n')
    files["mfile_dir"] = str(tmp_path)
    argv = [a.format(**files) for a in argv]
    code, _, err = run(["replay", TRACE, *argv], capsys)
    assert code != 0 and "Traceback" not in err and err.count("\n") == 1
    assert msg in err


def test_truncated_and_old_traces(tmp_path, capsys):
    cut = truncated_tiny(tmp_path)
    code, _, err = run(["replay", cut, "--machine", "dram-only"], capsys)
    assert code == 1 and "truncated after batch 1 (11 complete events)" in err and "--allow-truncated" in err
    code, out, err = run(["replay", cut, "--machine", "dram-only", "--allow-truncated"], capsys)
    assert code == 0 and "truncated" in err
    old = write_tiny(tmp_path / "old.arrow", GOOD_ROWS, tiny_meta(format_version=7))
    code, _, err = run(["replay", old, "--machine", "dram-only"], capsys)
    assert code == 1 and "trace format 7; this hetier reads 1-2" in err


def test_a_users_machine_file_works_like_a_preset(tmp_path, capsys):
    m = tmp_path / "mybox.toml"
    m.write_text('name = "mybox"\nmode = "flat"\ncores = 8\nllc_mb = 16\n'
                 '[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\ncapacity_gb = 1.5\n'
                 '[[tiers]]\nname = "cxl"\ndevice = "cxl-expander-x16"\n')
    code, out, err = run(["replay", TRACE, "--machine", str(m), "--policy", "dram-first", "--threads", "8",
                          "--fit-by", "live"], capsys)
    assert code == 0, err
    assert "mybox" in out and "cxl" in out and "dram 1.50 GB" in out  # spilled: DRAM full of live bytes at 1.5 GB
    code, out, err = run(["replay", TRACE, "--machine", str(m), "--policy", "dram-first", "--threads", "8"], capsys)
    # by memory needed (2.84 GB for 2.01 GB live), the DRAM holds 1.5 GB / (2.84 / 2.01) = 1.06 GB of live bytes
    assert code == 0 and "dram 1.06 GB" in out


def test_replay_axes_threads_labels_and_inapplicable_rows(capsys):
    import json

    code, out, err = run(["replay", TRACE, "--machine", "dram-only,small=optane-appdirect", "--policy", "interleave",
                          "--threads", "1,8", "--set", "small:dram.capacity_gb=2,4", "--json"], capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["machine"], r["threads"], r["status"]) for r in rows] == [
        ("dram-only", 1, "not applicable"), ("dram-only", 8, "not applicable"),
        ("small", 1, "ok"), ("small", 8, "ok"), ("small", 1, "ok"), ("small", 8, "ok")]
    assert rows[0]["reason"] == "not applicable: policy interleave needs a machine with two tiers"
    assert rows[4]["dram_capacity_gb"] == 4 and rows[4]["capacity_gb_dram"] == 4.0
    assert rows[3]["makespan_ns"] < rows[2]["makespan_ns"]  # 8 threads beat 1


@pytest.mark.parametrize("argv, msg", [
    (["--machine", "optane-memory-mode", "--set", "optane-memory-mod:dram.capacity_gb=16"],
     "names machine 'optane-memory-mod', which is not listed (listed: optane-memory-mode)"),
    (["--machine", "dram-only", "--threads", "8", "--threads", "8"], "threads 8 listed twice"),
])
def test_replay_axis_errors(argv, msg, capsys):
    code, _, err = run(["replay", TRACE, *argv], capsys)
    assert code == 2 and msg in err and err.count("\n") == 1


def test_memory_mode_state_is_bounded(capsys):
    code, _, err = run(["replay", TRACE, "--machine", "optane-memory-mode", "--set", "machine.cache_block_bytes=64"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert ("optane-memory-mode.toml with --set machine.cache_block_bytes: a Memory Mode cache of 192 GB in 64-byte "
            "blocks has 3,000,000,000 sets, over the simulator's 134,217,728; raise cache_block_bytes") in err


def test_machines_table_prices_each_machine_with_the_price_choice(capsys, monkeypatch):
    """The table's memory cost follows --price-choice (was only in --json); estimates are marked."""
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(["machines"], capsys)
    row = next(line for line in out.splitlines() if line.lstrip("│ ").startswith("ddr5-cxl "))
    assert code == 0 and "14,279*" in row and "* priced with an estimate" in out  # 768 GB x 17.29 + one card
    assert "6,751" in next(line for line in out.splitlines() if line.lstrip("│ ").startswith("dram-only "))
    code, out, _ = run(["machines", "--price-choice", "reused-dimms"], capsys)
    row = next(line for line in out.splitlines() if line.lstrip("│ ").startswith("ddr5-cxl "))
    assert code == 0 and "9,852*" in row and "price choice reused-dimms" in out
