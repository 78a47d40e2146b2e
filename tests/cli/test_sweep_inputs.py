"""Sweep inputs the issue found unchecked: NaN in a --vary range, a sweep file's tables of the
wrong type, and a sweep too large to list, each refused in one line before anything is written."""

import pytest

from tests.cli.test_sweep import TRACE
from tests.helpers import run_cli as run


@pytest.mark.parametrize("argv, file, msg", [
    (["--vary", "dram.capacity_gb=1:nan:1"], None, "range '1:nan:1' must be three finite numbers"),
    (["--vary", "dram.capacity_gb=inf:1:1"], None, "must be three finite numbers"),
    (["--vary", "dram.capacity_gb=1:10000:1", "--vary", "dram.write_latency_ns=1:10000:1"], None,
     "the sweep has up to 100,000,000 configurations; at most 100,000"),
    ([], 'set = "x"\n', "set must be a table"),
    ([], 'vary = [1]\n', "vary must be a table"),
    ([], 'threads = [1e9]\n', "threads[0] must be <= 4096"),
    ([], 'threads = ["8"]\n', "threads[0] must be a number"),
    ([], 'machines = [1]\n', "machines[0] must be a string"),
])
def test_bad_sweep_inputs_are_one_line(argv, file, msg, tmp_path, capsys):
    extra = []
    if file is not None:
        (tmp_path / "s.toml").write_text(file)
        extra = ["--file", str(tmp_path / "s.toml")]
    code, _, err = run(["sweep", TRACE, "--machine", "dram-only", *argv, *extra, "-o", str(tmp_path / "out")], capsys)
    assert code == 2 and msg in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()
