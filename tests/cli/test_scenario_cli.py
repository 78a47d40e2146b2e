"""Every verb that predicts speaks the same scenario options, and a sweep over stacks gives the
numbers of the replays it stands for."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hetier.cli.main import VERBS, build_parser
from tests.helpers import run_cli as run

TRACE = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")
PREDICTING = ("replay", "sweep", "advise", "confirm", "fit")


def _help(verb: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb")
    return sub.choices[verb].format_help()


@pytest.mark.parametrize("verb", PREDICTING)
def test_every_verb_that_predicts_takes_a_stack(verb):
    assert "--stack" in _help(verb)


def test_the_verbs_that_take_a_stack_are_the_ones_that_predict():
    # report, export, info, check, machines, calibrate and trace simulate nothing: a --stack there would be ignored
    assert [v for v in VERBS if "--stack " in _help(v) or "--stack\n" in _help(v)] == \
        [v for v in VERBS if v in PREDICTING]


def test_a_sweep_over_stacks_gives_the_replays_numbers(tmp_path, capsys):
    args = ["--machine", "optane-appdirect", "--policy", "dram-first", "--threads", "4", "--set", "dram.capacity_gb=1"]
    code, out, err = run(["sweep", TRACE, *args, "--stack", "hetier,he-transformer", "--allow-runtime-mismatch",
                          "--workers", "1", "-o", str(tmp_path / "s")], capsys)
    assert code == 0, err
    rows = {r["stack"]: r for r in pq.read_table(tmp_path / "s" / "configs.parquet").to_pylist()}
    assert set(rows) == {"hetier", "he-transformer"} and all(r["status"] == "ok" for r in rows.values())
    for stack in rows:
        code, out, err = run(["replay", TRACE, *args, "--stack", stack, "--allow-runtime-mismatch", "--json"], capsys)
        assert code == 0, err
        [replayed] = json.loads(out)
        assert rows[stack]["makespan_ns"] == replayed["makespan_ns"]
        assert rows[stack]["runtime_profile"] == "hetier"
        # one results schema: every field replay --json prints is a column of the sweep's table, same value
        assert {k: v for k, v in replayed.items() if k in rows[stack]} == replayed
    # the two stacks really differ (sequential schedule, compute scale 4.1): the test compares something
    assert rows["he-transformer"]["makespan_ns"] > 2 * rows["hetier"]["makespan_ns"]


def test_a_stack_of_another_runtime_profile_is_one_line_or_a_row(tmp_path, capsys):
    code, out, err = run(["replay", TRACE, "--machine", "dram-only", "--stack", "he-transformer"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "stack 'he-transformer' replays traces of runtime profile 'reference'" in err and "'hetier'" in err
    code, out, err = run(["sweep", TRACE, "--machine", "dram-only", "--stack", "hetier,he-transformer",
                          "--workers", "1", "-o", str(tmp_path / "s")], capsys)
    assert code == 0, err
    rows = {r["stack"]: r for r in pq.read_table(tmp_path / "s" / "configs.parquet").to_pylist()}
    assert rows["hetier"]["status"] == "ok"
    assert rows["he-transformer"]["status"] == "not applicable"
    assert rows["he-transformer"]["reason"].startswith("stack 'he-transformer' replays traces of runtime profile")
