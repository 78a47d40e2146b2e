"""Files damaged inside (not just cut short) and option values that mean nothing: one line naming the
problem and a non-zero exit, never a traceback, never an exit 0 that did nothing or lost a file."""

from pathlib import Path

import pytest

from tests.cli.test_sweep import TRACE
from tests.helpers import run_cli as run


def _one_line_or_ok(argv: list[str], capsys) -> tuple[int, str]:
    """Run in-process; an exception escaping the CLI fails the test (it would be a traceback)."""
    code, _, err = run(argv, capsys)
    assert code == 0 or err.count("\n") == 1, err
    return code, err


def test_a_trace_zeroed_anywhere_is_refused_in_one_line(tmp_path, capsys):
    """64 zero bytes at every 16-byte step of the CryptoNets sample: a batch whose buffers no longer
    hold its columns used to reach numpy and end in a traceback (buffer is smaller than requested)."""
    data = Path(TRACE).read_bytes()
    bad = tmp_path / "bad.arrow"
    corrupt = 0
    for off in range(0, len(data) - 64, 16):
        b = bytearray(data)
        b[off:off + 64] = bytes(64)
        bad.write_bytes(b)
        code, err = _one_line_or_ok(["info", str(bad)], capsys)
        corrupt += "is corrupt" in err
    assert corrupt > 0


def test_a_results_file_flipped_anywhere_is_refused_in_one_line(tmp_path, capsys):
    """4 inverted bytes at every 64-byte step of a replay's results: short buffers, column names that
    are not UTF-8 and unreadable types used to end in tracebacks (info, report, export)."""
    res = tmp_path / "r.arrow"
    code, _, err = run(["replay", TRACE, "--machine", "optane-appdirect,dram-only", "--policy", "all-dram,all-pmem",
                        "-o", str(res)], capsys)
    assert code == 0, err
    data = res.read_bytes()
    bad = tmp_path / "bad.arrow"

    def damaged(off: int) -> str:
        b = bytearray(data)
        for j in range(4):
            b[off + j] ^= 0xFF
        bad.write_bytes(b)
        return str(bad)

    corrupt = [off for off in range(0, len(data) - 4, 64) if "are corrupt" in _one_line_or_ok(["info", damaged(off)], capsys)[1]]
    assert corrupt
    for off in corrupt:  # the same damage read by the other verbs that take results
        _one_line_or_ok(["report", TRACE, damaged(off), "--format", "text"], capsys)
        _one_line_or_ok(["export", damaged(off), "--format", "csv", "-o", str(tmp_path / "x.csv"), "--force"], capsys)


@pytest.mark.parametrize("value", [",", " , ", ",,"])
def test_an_override_with_no_value_is_refused(value, tmp_path, capsys):
    out = tmp_path / "r.arrow"
    code, _, err = run(["replay", TRACE, "--machine", "optane-appdirect", "--policy", "all-dram",
                        "--set", f"dram.capacity_gb={value}", "-o", str(out)], capsys)
    assert code == 2 and "gives no value" in err and err.count("\n") == 1, err
    assert not out.exists()


def test_a_sweep_vary_with_no_value_is_refused(tmp_path, capsys):
    code, _, err = run(["sweep", TRACE, "--machine", "optane-appdirect", "--policy", "all-dram",
                        "--vary", "dram.capacity_gb=,", "-o", str(tmp_path / "s")], capsys)
    assert code == 2 and "gives no value" in err, err


def test_advise_refuses_one_file_for_both_outputs(tmp_path, capsys):
    same = tmp_path / "same.json"
    code, _, err = run(["advise", TRACE, "--machine", "optane-appdirect", "--no-bisect",
                        "-o", str(same), "--advice", str(same)], capsys)
    assert code == 2 and "different names" in err and err.count("\n") == 1, err
    assert not same.exists()


@pytest.mark.parametrize("within", ["nan", "-1", "inf", "1e400", "101"])
def test_sweep_refuses_a_tolerance_that_is_not_one(within, tmp_path, capsys):
    code, _, err = run(["sweep", TRACE, "--machine", "optane-appdirect", "--policy", "all-dram", "--workers", "1",
                        "--within", within, "--json", "-o", str(tmp_path / "s")], capsys)
    assert code == 2 and "--within" in err and err.count("\n") == 1, err
    assert not (tmp_path / "s").exists()


def test_a_stack_override_given_twice_is_refused(capsys):
    code, _, err = run(["replay", TRACE, "--machine", "optane-appdirect", "--stack-set", "compute_scale=2",
                        "--stack-set", "compute_scale=3"], capsys)
    assert code == 2 and "compute_scale given twice" in err, err


def test_a_plan_refuses_a_host_preset(tmp_path, capsys):
    """A plan never reads this host's memory preset: naming one (even a missing file) is a mistake."""
    out = tmp_path / "p.arrow"
    code, _, err = run(["trace", "mlp", "--mode", "plan", "--batch", "8", "--host-preset",
                        str(tmp_path / "missing.toml"), "-o", str(out)], capsys)
    assert code == 2 and "--host-preset is for --mode real" in err, err
    assert not out.exists()


def test_info_refuses_a_negative_layer_count(capsys):
    code, _, err = run(["info", TRACE, "--layers", "-1"], capsys)
    assert code == 2 and "--layers -1" in err, err


def test_a_real_run_refuses_max_events(tmp_path, capsys):
    """--max-events bounds a plan; a real run used to ignore it without a word."""
    out = tmp_path / "t.arrow"
    code, _, err = run(["trace", "mlp", "--batch", "8", "--max-events", "5", "-o", str(out)], capsys)
    assert code == 2 and "--max-events is for --mode plan" in err and err.count("\n") == 1, err
    assert not out.exists()
