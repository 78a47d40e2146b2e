"""Config values that meant nothing or broke the run (found by a run of ~2,500 mutated machine,
device, stack, price, runs and placement files): one line naming the value and a non-zero exit,
never a traceback, never an exit 0 with infinite times, and never an output written over an input."""

from pathlib import Path

import pytest

from tests.cli.test_sweep import TRACE
from tests.helpers import run_cli as run

BIG = "9" * 400  # an integer no float holds: it reached float() before the range check


def one_line(argv, capsys) -> str:
    code, _, err = run(argv, capsys)
    assert code == 2 and "Traceback" not in err and len([l for l in err.splitlines() if l.strip()]) == 1, err
    return err


@pytest.mark.parametrize("argv, says", [
    (["--set", f"machine.cores={BIG}"], "cores must be <= 4096 (got 999"),
    (["--set", f"dram.dimms={BIG}"], "dimms must be <= 1024 (got 999"),
    (["--stack-set", f"compute_scale={BIG}"], "'compute_scale' must be a number in [1e-06, 1e+06] (got 999"),
])
def test_an_integer_too_large_for_a_float_is_out_of_range_not_a_traceback(argv, says, capsys):
    err = one_line(["replay", TRACE, "--machine", "optane-appdirect", *argv], capsys)
    assert says in err


@pytest.mark.parametrize("setting, says", [
    ("dram.write_bw_scale=1e-300", "write_curve reaches 4.31e-300 GB/s once scaled, below 0.001 GB/s"),
    ("dram.read_curve=[[1,1e-300]]", "read_curve reaches 1e-300 GB/s, below 0.001 GB/s"),
    ("machine.llc_mb=1e-9", "llc_mb must be >= 2^-20 (one byte) (got 1e-09)"),
])
def test_a_bandwidth_or_cache_too_small_to_simulate_is_refused(setting, says, capsys, tmp_path):
    """A bandwidth of 1e-300 GB/s gave infinite stall times with exit 0 (invalid JSON), and results
    the tool's own readers then refused; an LLC under one byte rounded to 0 bytes."""
    err = one_line(["replay", TRACE, "--machine", "optane-appdirect", "--set", setting, "-o", str(tmp_path / "r.arrow"),
                    "--json"], capsys)
    assert says in err and not (tmp_path / "r.arrow").exists()


def test_a_device_rule_broken_by_an_override_names_the_override(capsys, tmp_path):
    """A scaled curve below the floor was blamed on the device preset file alone, which holds no
    such number: the message names the machine's tier and the --set (or the machine file's key)."""
    err = one_line(["replay", TRACE, "--machine", "optane-appdirect", "--set", "dram.write_bw_scale=1e-300"], capsys)
    assert "tier dram with --set dram.write_bw_scale): write_curve reaches" in err
    machine = tmp_path / "m.toml"
    machine.write_text('name = "m"\ncores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\n'
                       'device = "ref-optane-12dimm-6tb"\nread_bw_scale = 1e-9\n')
    err = one_line(["replay", TRACE, "--machine", str(machine)], capsys)
    assert f"ref-optane-12dimm-6tb.toml (as {machine} tier dram): read_curve reaches" in err


def test_a_memory_mode_cache_smaller_than_one_block_is_refused(capsys):
    err = one_line(["replay", TRACE, "--machine", "optane-memory-mode", "--set", "dram.capacity_gb=1e-6",
                    "--set", "machine.cache_block_bytes=1073741824"], capsys)
    assert "a Memory Mode cache of 1,000 bytes is smaller than one 1,073,741,824-byte cache block" in err


def test_an_output_that_is_an_input_is_refused_even_with_force(tmp_path, capsys):
    trace = tmp_path / "t.arrow"
    trace.write_bytes(Path(TRACE).read_bytes())
    err = one_line(["replay", str(trace), "--machine", "dram-only", "-o", str(trace), "--force"], capsys)
    assert f"output '{trace}' is the input '{trace}': refused even with --force" in err
    assert trace.read_bytes() == Path(TRACE).read_bytes()
    machine = tmp_path / "m.toml"
    machine.write_text((Path(__file__).parents[2] / "simulator/presets/machines/optane-appdirect.toml").read_text())
    before = machine.read_text()
    for argv in (["advise", str(trace), "--machine", str(machine), "--no-bisect", "-o", str(machine), "--force"],
                 ["advise", str(trace), "--machine", str(machine), "--no-bisect", "--advice", str(machine)],
                 ["replay", str(trace), "--machine", f"a={machine}", "-o", str(machine), "--force"]):
        assert "is the input" in one_line(argv, capsys)
    assert machine.read_text() == before


def test_an_advice_fast_tier_of_zero_is_refused(capsys):
    """--dram-gb 0 is capacity_gb=0, which removes a tier: the advice ranked all-PMem as all-DRAM."""
    err = one_line(["advise", TRACE, "--machine", "optane-appdirect", "--dram-gb", "0", "--no-bisect"], capsys)
    assert "--dram-gb 0.0 must be a size in GB above 0" in err


PRICES = Path(__file__).parents[2] / "simulator/presets/prices.toml"


@pytest.mark.parametrize("old, new, says", [
    ("gb_per_card = 512", "gb_per_card = 1e-300", "cards.cxl-x16-aic.gb_per_card must be >= 1 (got 1e-300)"),
    ('date = "2019-04"', "date = nan", "prices.ddr4-rdimm.date must be text or a date (got nan)"),
    ("estimate = false", 'estimate = "false"', "estimate must be true or false (got 'false')"),
])
def test_price_values_of_the_wrong_kind_are_refused(old, new, says, tmp_path, capsys):
    """A card of 1e-300 GB overflowed (a traceback) or priced at 1e305 USD; a string "false" counted as
    an estimate and a NaN date was printed in the cost note."""
    text = PRICES.read_text()
    assert old in text
    bad = tmp_path / "p.toml"
    bad.write_text(text.replace(old, new, 1))
    err = one_line(["sweep", TRACE, "--machine", "ddr5-cxl", "--prices", str(bad), "-o", str(tmp_path / "s"),
                    "--workers", "1"], capsys)
    assert says in err


@pytest.mark.parametrize("body, says", [
    ('name = [1, 2]\n', "'name' must be text (got '[1, 2]')"),
    ('name = "x"\nload_visible = {bogus = 0.5}\n', "'load_visible' names unknown layer kind 'bogus'"),
    ('', "holds no stack profile keys"),
])
def test_stack_profile_values_of_the_wrong_kind_are_refused(body, says, tmp_path, capsys):
    stack = tmp_path / "s.toml"
    stack.write_text(body)
    assert says in one_line(["replay", TRACE, "--machine", "dram-only", "--stack", str(stack)], capsys)


RUNS_HEADER = "model,width,resolution,batch,poly_modulus,primes,machine,policy,threads,peak_gb,seconds"


@pytest.mark.parametrize("header, row, says", [
    (RUNS_HEADER, "mlp,,,8,8192,30;22;22;22;30,ref-dram-only,all-dram,4_8,1,10", "threads '4_8' is not a number"),
])
def test_measured_runs_with_odd_numbers_are_refused(header, row, says, tmp_path, capsys):
    runs = tmp_path / "runs.csv"
    runs.write_text(f"{header}\n{row}\n")
    assert says in one_line(["fit", str(runs), "--free", "compute_scale", "--no-loo"], capsys)


def test_device_kinds_tier_names_and_relative_device_paths(tmp_path, capsys, monkeypatch):
    dev = (Path(__file__).parents[2] / "simulator/presets/devices/optane-100-6dimm.toml").read_text()
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "pm.toml").write_text(dev.replace('kind = "pmem"', 'kind = "PMem"'))
    machine = ('name = "m"\ncores = 4\nllc_mb = 8\n[[tiers]]\nname = "{first}"\ndevice = "ddr4-2666-6ch"\n'
               '[[tiers]]\nname = "pmem"\ndevice = "pm.toml"\n')
    (sub / "m.toml").write_text(machine.format(first="dram"))
    monkeypatch.chdir(tmp_path)  # pm.toml is beside the machine file, not here
    err = one_line(["replay", TRACE, "--machine", "sub/m.toml"], capsys)  # a typo dropped the Memory Mode advice
    assert "kind must be one of dram, pmem, cxl, hbm, memory-only (got 'PMem')" in err and "sub/pm.toml" in err
    (sub / "pm.toml").write_text(dev)
    code, _, err = run(["replay", TRACE, "--machine", "sub/m.toml"], capsys)
    assert code == 0, err
    (sub / "m.toml").write_text(machine.format(first="machine"))
    assert "tier name 'machine' is taken" in one_line(["replay", TRACE, "--machine", "sub/m.toml"], capsys)


def test_an_input_named_in_a_list_is_kept_too(tmp_path, capsys):
    machine = tmp_path / "m.toml"
    machine.write_text((Path(__file__).parents[2] / "simulator/presets/machines/optane-appdirect.toml").read_text())
    err = one_line(["replay", TRACE, "--machine", f"dram-only,a={machine}", "-o", str(machine), "--force"], capsys)
    assert "is the input" in err and machine.read_text().startswith("#")
