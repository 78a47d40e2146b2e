"""Every input hetier reads, on every verb, refuses a FIFO, a directory or a device before it is
opened for reading (a FIFO used to block the verb forever): one line, no traceback, no hang."""

import json
import os
import signal

import pytest

from tests.cli.test_sweep import TRACE
from tests.helpers import run_cli as run

# {in}: the non-regular input; .toml/.json/.csv names so that each loader, not the name, decides
CASES = [
    ("replay machine", ["replay", TRACE, "--machine", "{in}.toml"]),
    ("replay trace", ["replay", "{in}.arrow", "--machine", "dram-only"]),
    ("replay stack", ["replay", TRACE, "--machine", "dram-only", "--stack", "{in}.toml"]),
    ("replay placement", ["replay", TRACE, "--machine", "dram-only", "--policy", "placement:{in}.json"]),
    ("info trace", ["info", "{in}.arrow"]),
    ("check trace", ["check", "{in}.arrow"]),
    ("export results", ["export", TRACE, "{in}.arrow", "--format", "perfetto", "-o", "{d}/x.csv"]),
    ("report advice", ["report", TRACE, "--advice", "{in}.json", "--format", "text"]),
    ("report results", ["report", TRACE, "{in}.arrow", "--format", "text"]),
    ("advise machine", ["advise", TRACE, "--machine", "{in}.toml"]),
    ("fit csv", ["fit", "{in}.csv", "--stack", "he-transformer"]),
    ("fit stack", ["fit", "--stack", "{in}.toml"]),
    ("sweep file", ["sweep", "--file", "{in}.toml", "-o", "{d}/s"]),
    ("sweep trace", ["sweep", "{in}.arrow", "--machine", "dram-only", "-o", "{d}/s"]),
    ("sweep prices", ["sweep", TRACE, "--machine", "dram-only", "--prices", "{in}.toml", "-o", "{d}/s"]),
    ("trace cost file", ["trace", "mlp", "--mode", "plan", "--cost-file", "{in}.json", "-o", "{d}/t.arrow"]),
]


class Hang(Exception):
    pass


def _alarm(*_):
    raise Hang()


@pytest.mark.parametrize("kind", ["fifo", "dir"])
@pytest.mark.parametrize("name, argv", CASES, ids=[c[0] for c in CASES])
def test_non_regular_inputs_are_refused(name, argv, kind, tmp_path, capsys):
    base = tmp_path / "in"
    for ext in (".toml", ".json", ".csv", ".arrow"):
        p = tmp_path / f"in{ext}"
        os.mkfifo(p) if kind == "fifo" else p.mkdir()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(20)
    try:
        code, out, err = run([a.format(**{"in": base, "d": tmp_path}) for a in argv], capsys)
    except Hang:
        pytest.fail(f"{name}: hung on a {kind}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert code != 0 and "Traceback" not in err and err.count("\n") == 1, err
    words = "FIFO (named pipe), not a regular file" if kind == "fifo" else "directory"
    assert words in err, err
    assert not (tmp_path / "s").exists() and not (tmp_path / "t.arrow").exists() and not (tmp_path / "x.csv").exists()


def test_device_is_refused(capsys):
    from hetier.errors import UsageError
    from hetier.formats.input_file import read_input

    with pytest.raises(UsageError, match="'/dev/zero' is a character device, not a regular file"):
        read_input("/dev/zero", "machine")


def test_a_stack_for_another_runtime_profile_is_refused_or_noted(capsys):
    code, _, err = run(["replay", TRACE, "--machine", "dram-only", "--stack", "he-transformer"], capsys)
    assert code == 2 and err.count("\n") == 1 and ("stack 'he-transformer' replays traces of runtime profile "
                                                   "'reference', but this trace was recorded with runtime profile "
                                                   "'hetier'") in err
    code, out, err = run(["replay", TRACE, "--machine", "dram-only", "--stack", "he-transformer",
                          "--allow-runtime-mismatch", "--json"], capsys)
    assert code == 0 and json.loads(out)[0]["status"] == "ok"
    code, _, err = run(["replay", TRACE, "--machine", "dram-only", "--stack", "hetier"], capsys)
    assert code == 0 and "runtime profile" not in err
