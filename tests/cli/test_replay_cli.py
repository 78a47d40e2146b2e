"""`hetier replay` and `hetier machines` through main([...])."""

from pathlib import Path

import pytest

from hetier.simulator.results import load_results
from tests.helpers import GOOD_ROWS, tiny_meta, write_tiny, run_cli as run, truncated_tiny

TRACE = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")


def test_replay_compares_configs_and_writes_results(tmp_path, capsys):
    out = tmp_path / "r.arrow"
    code, stdout, err = run(["replay", TRACE, "--machine", "optane-appdirect,optane-memory-mode",
                             "--policy", "all-dram,all-pmem", "--policy", "dram-first",
                             "--set", "dram.capacity_gb=1", "-o", str(out)], capsys)
    assert code == 0, err
    assert "does not fit: needs 1.01 GB more dram" in stdout  # all-dram: 2.01 GB peak in 1 GB
    assert "memory-mode" in stdout and "dram-first" in stdout
    runs, table = load_results(out)
    assert [r["policy"] for r in runs] == ["all-dram", "all-pmem", "dram-first", "memory-mode"]
    assert runs[0]["makespan_ns"] is None and runs[1]["makespan_ns"] > 0
    assert runs[2]["machine"]["tiers"][0]["capacity_gb"] == 1.0  # the resolved machine is embedded
    code, _, err = run(["replay", TRACE, "--machine", "dram-only", "-o", str(out)], capsys)
    assert code == 2 and "exists" in err


def test_machines_lists_presets(capsys):
    code, out, _ = run(["machines"], capsys)
    assert code == 0 and "ref-memory-mode" in out and "optane-appdirect" in out
    code, out, _ = run(["machines", "--devices"], capsys)
    assert code == 0 and "12.5 @4" in out  # Optane 6-DIMM write peak at 4 streams


def test_dump_config_shows_overrides(capsys):
    code, out, _ = run(["replay", TRACE, "--machine", "dram-only", "--set", "dram.capacity_gb=8", "--dump-config"], capsys)
    assert code == 0 and '"capacity_gb": 8.0' in out


def _machine_file(tmp_path, body):
    p = tmp_path / "m.toml"
    p.write_text(body)
    return str(p)


@pytest.mark.parametrize("argv, msg", [
    (["--machine", "optane-x"], "machine 'optane-x' not found (known: ddr5-cxl, dram-only"),
    (["--machine", "optane-appdirect", "--policy", "hot-cold"], "policy 'hot-cold' not found (known: all-dram"),
    (["--machine", "optane-appdirect", "--set", "gpu.capacity_gb=1"], "override names unknown tier(s) gpu"),
    (["--machine", "dram-only", "--set", "dram.capacity_gb=-4"], "--set dram.capacity_gb=-4: capacity_gb must be > 0 (got -4)"),
    (["--machine", "{mfile_missing}"], "missing 'read_curve'"),
    (["--machine", "{mfile_zero}"], "z.toml tier dram: capacity_gb must be > 0 (got 0)"),  # the user's file
    (["--machine", "dram-only", "--threads", "0"], "threads 0 must be between 1 and 4096"),
    (["--machine", "dram-only", "--threads", "1000000000"], "threads 1000000000 must be between 1 and 4096"),
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
    (["--machine", ",,,"], "no machine given"),
])
def test_bad_input_is_one_line(argv, msg, tmp_path, capsys):
    files = {
        "mfile_missing": _machine_file(tmp_path, 'cores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\ncapacity_gb = 4\n'
                                                 'read_latency_seq_ns = 80\nwrite_curve = [[1, 5.0]]\ngranularity_bytes = 64\n'),
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
    assert code == 1 and "trace format 7; this hetier reads 1-1" in err


def test_a_users_machine_file_works_like_a_preset(tmp_path, capsys):
    m = tmp_path / "mybox.toml"
    m.write_text('name = "mybox"\nmode = "flat"\ncores = 8\nllc_mb = 16\n'
                 '[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\ncapacity_gb = 1.5\n'
                 '[[tiers]]\nname = "cxl"\ndevice = "cxl-expander-x16"\n')
    code, out, err = run(["replay", TRACE, "--machine", str(m), "--policy", "dram-first", "--threads", "8"], capsys)
    assert code == 0, err
    assert "mybox" in out and "cxl" in out and "dram 1.50 GB" in out  # spilled: DRAM full at 1.5 GB


def test_memory_mode_state_is_bounded(capsys):
    code, _, err = run(["replay", TRACE, "--machine", "optane-memory-mode", "--set", "machine.cache_block_bytes=64"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert ("optane-memory-mode.toml with --set machine.cache_block_bytes: a Memory Mode cache of 192 GB in 64-byte "
            "blocks has 3,000,000,000 sets, over the simulator's 134,217,728; raise cache_block_bytes") in err
