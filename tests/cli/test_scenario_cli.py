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
    rows = {r["stack"]: r for r in pq.read_table(tmp_path / "s" / "configs.parquet").to_pylist()
            if not r["reference_added"]}
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


@pytest.fixture(scope="module")
def m96(tmp_path_factory):
    """MobileNetV2 1.0 @ 96, batch 2048, planned (the issue's buyer example): ~63 GB live, ~78 GB needed."""
    from hetier.cli.main import main

    path = tmp_path_factory.mktemp("m96") / "m96.arrow"
    assert main(["trace", "mobilenetv2", "--width", "1.0", "--resolution", "96", "--batch", "2048", "--mode", "plan",
                 "-o", str(path)]) == 0
    return str(path)


def test_memory_needed_decides_fit_and_is_named(m96, capsys):
    args = ["replay", m96, "--machine", "ddr5-dram-only", "--set", "dram.capacity_gb=64", "--policy", "all-dram", "--json"]
    code, out, err = run(args, capsys)
    assert code == 0, err
    [row] = json.loads(out)
    assert row["status"] == "does not fit" and row["live_peak_bytes"] < 64e9 < row["memory_needed_bytes"]
    assert row["reason"].startswith("does not fit: memory needed 78.")
    assert "exceeds the 64.00 GB machine 'ddr5-dram-only' can hold" in row["reason"]
    code, out, err = run([*args, "--fit-by", "live"], capsys)  # the optimistic figure, on request
    [row] = json.loads(out)
    assert row["status"] == "ok"


def test_a_hybrid_box_checks_each_tier_by_memory_needed(m96, capsys):
    # 64 GB DRAM + 256 GB CXL holds the process, but all-DRAM puts it all in 64 GB of DRAM
    code, out, err = run(["replay", m96, "--machine", "ddr5-cxl", "--set", "dram.capacity_gb=64", "--policy",
                          "all-dram,dram-first", "--json"], capsys)
    assert code == 0, err
    rows = {r["policy"]: r for r in json.loads(out)}
    assert rows["all-dram"]["status"] == "does not fit"
    assert rows["all-dram"]["missing_bytes_dram"] == pytest.approx(rows["all-dram"]["memory_needed_bytes"] - 64e9,
                                                                   rel=0.002)
    assert rows["dram-first"]["status"] == "ok"


def test_a_sweep_prices_a_hybrid_box_against_a_dram_only_box_sized_to_memory_needed(m96, tmp_path, capsys):
    import json as _json

    code, out, err = run(["sweep", m96, "--machine", "ddr5-cxl", "--policy", "dram-first", "--vary",
                          "dram.capacity_gb=16,32,64", "--workers", "1", "-o", str(tmp_path / "s"), "--json"], capsys)
    assert code == 0, err
    rows = pq.read_table(tmp_path / "s" / "configs.parquet").to_pylist()
    [ref] = [r for r in rows if r["reference_added"]]
    need_gb = -(-ref["memory_needed_bytes"] // 10 ** 9)
    assert (ref["machine"], ref["policy"], ref["status"]) == ("ddr5-cxl-dram-only", "all-dram", "ok")
    assert ref["capacity_gb_dram"] == need_gb and ref["capacity_gb_cxl"] is None  # no idle expander
    # prices add up to the listed capacities: each row's cost is its tiers' GB times their price per GB,
    # plus, for the CXL tier, one 1,000 USD controller card per 512 GB (prices.toml)
    for r in rows:
        tiers = _json.loads(r["machine_json"])["tiers"]
        cards = sum(-(-t["capacity_gb"] // 512) * 1000.0 for t in tiers if t["name"] == "cxl-expander-x16")
        assert r["cost_usd"] == pytest.approx(sum(_price(t) * t["capacity_gb"] for t in tiers) + cards,
                                              abs=0.01 * len(tiers))
    summary = _json.loads(out)
    [pick] = summary["cheapest_within"]
    assert pick["reference"].startswith("ddr5-cxl-dram-only all-dram")
    assert pick["reference_capacities"] == f"dram {need_gb:,} GB"
    assert pick["capacities"].startswith("dram ")


def test_the_reused_dimms_choice_prices_the_expander_as_its_card_and_says_so(m96, tmp_path, capsys):
    import json as _json

    code, out, err = run(["sweep", m96, "--machine", "ddr5-cxl", "--policy", "dram-first", "--vary",
                          "dram.capacity_gb=32,64", "--workers", "1", "--price-choice", "reused-dimms",
                          "-o", str(tmp_path / "s")], capsys)
    assert code == 0, err
    rows = pq.read_table(tmp_path / "s" / "configs.parquet").to_pylist()
    hybrid = [r for r in rows if not r["reference_added"]]
    assert sorted(r["cost_usd"] for r in hybrid) == [round(32 * 17.29 + 1000.0, 2), round(64 * 17.29 + 1000.0, 2)]
    assert all(r["cost_note"].startswith("price choice reused-dimms: ") for r in rows)
    [line] = [x for x in out.splitlines() if "cheapest within 10%" in x]
    # even with the expander's DIMMs free, its card costs more than the DDR5 the DRAM-only box adds:
    # the answer is the DRAM-only box sized to memory needed, priced without any estimate
    ref_gb = int([r for r in rows if r["reference_added"]][0]["capacity_gb_dram"])
    assert f"ddr5-cxl-dram-only all-dram cxl.capacity_gb=0 dram.capacity_gb={ref_gb} x32 (dram {ref_gb} GB" in line
    assert "estimate" not in line and ref_gb * 17.29 < 32 * 17.29 + 1000.0
    # exported, the rows keep the prices they were swept with, unless export is given other ones
    code, _, err = run(["export", str(tmp_path / "s"), "--format", "parquet", "-o", str(tmp_path / "kept.parquet")],
                       capsys)
    assert code == 0, err
    kept = pq.read_table(tmp_path / "kept.parquet").to_pylist()
    assert [r["cost_usd"] for r in kept] == [r["cost_usd"] for r in rows]
    from hetier.simulator.prices import DEFAULT_PRICES

    code, _, err = run(["export", str(tmp_path / "s"), "--format", "parquet", "--prices", str(DEFAULT_PRICES),
                        "-o", str(tmp_path / "repriced.parquet")], capsys)
    assert code == 0, err
    repriced = pq.read_table(tmp_path / "repriced.parquet").to_pylist()
    assert not any(r["cost_note"].startswith("price choice") for r in repriced)
    assert [r["cost_usd"] for r in repriced if not r["reference_added"]] != [r["cost_usd"] for r in hybrid]
    assert [r["cost_usd"] for r in repriced if r["reference_added"]] == [r["cost_usd"] for r in rows if r["reference_added"]]
    code, _, err = run(["sweep", m96, "--machine", "ddr5-cxl", "--price-choice", "nope", "-o", str(tmp_path / "t")],
                       capsys)
    assert code == 2 and "no price choice 'nope' (choices: reused-dimms)" in err and not (tmp_path / "t").exists()


def _price(tier: dict) -> float:
    """USD per GB of a tier's device in the shipped price file."""
    from hetier.simulator.prices import load_prices

    entries, devices = load_prices()
    return entries[devices[tier["name"]]].usd_per_gb
