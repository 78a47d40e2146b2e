"""`hetier advise` through main([...]): ranking, the placement file, bad input as one line or a row."""

import json
from pathlib import Path

from tests.helpers import random_trace, run_cli as run

TRACE = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")


def test_advise_ranks_policies_and_writes_a_placement_that_replays(tmp_path, capsys):
    out = tmp_path / "p.json"
    code, stdout, err = run(["advise", TRACE, "--machine", "optane-appdirect", "--dram-gb", "1", "--threads", "4",
                             "--json", "-o", str(out)], capsys)
    assert code == 0, err
    (adv,) = json.loads(stdout)
    assert adv["machine"] == "optane-appdirect" and adv["fast_bytes"] == 10 ** 9
    assert adv["all_dram_ns"] > 0 and adv["memory_mode_ns"] > 0
    rows = adv["rows"]
    assert {r["policy"] for r in rows} >= {"ilp", "hot-cold", "lifetime", "migrate", "dram-first", "all-pmem"}
    times = [r["time_ns"] for r in rows if r["time_ns"]]
    assert times == sorted(times) and len(times) == 7  # interleave's half of a 2.01 GB peak does not fit in 1 GB
    assert rows[-1]["policy"] == "interleave:0.5" and rows[-1]["why"].startswith("does not fit")
    for r in rows[:-1]:
        assert r["vs_all_dram"] == r["time_ns"] / adv["all_dram_ns"]
    # the smallest DRAM within 5% of all-DRAM is searched for the two answers a reader acts on: the
    # fastest advisor policy and the fastest deployable one (dram-first: numactl --preferred)
    best_advisor = min((r for r in rows if r["policy"] in ("ilp", "hot-cold", "lifetime", "migrate")),
                       key=lambda r: r["time_ns"])
    searched = {r["policy"]: r["min_fast_bytes"] for r in rows if r["searched"]}
    assert set(searched) == {best_advisor["policy"], "dram-first"}
    assert all(0 < v < adv["memory_needed_bytes"] for v in searched.values())
    assert all(r["min_fast_bytes"] is None for r in rows if not r["searched"])
    _assert_smallest(searched["dram-first"], adv)
    doc = json.loads(out.read_text())
    best = min((r for r in rows if r["policy"] in ("ilp", "hot-cold", "lifetime", "migrate")), key=lambda r: r["time_ns"])
    assert doc["policy"] == best["policy"] and doc["trace"]["model"] == "cryptonets"
    assert f"recommended: {rows[0]['policy']} on optane-appdirect" in err  # the fastest of all
    if rows[0]["policy"] != best["policy"]:
        assert f"per-tensor placement (the file): {best['policy']} on optane-appdirect" in err
    code, stdout, err = run(["replay", TRACE, "--machine", "optane-appdirect", "--set", "dram.capacity_gb=1",
                             "--threads", "4", "--policy", f"placement:{out}"], capsys)
    assert code == 0, err
    assert f"{best['time_ns'] / 1e9:.3f} s" in stdout
    code, _, err = run(["advise", TRACE, "--machine", "optane-appdirect", "-o", str(out), "--no-bisect"], capsys)
    assert code == 2 and "exists" in err


def _assert_smallest(nbytes: int, adv: dict) -> None:
    """dram-first with ``nbytes`` of DRAM is within 5% of all-DRAM, one bisection step less is not."""
    from hetier.simulator.advise import BISECT_STEPS, WITHIN, with_fast_capacity
    from hetier.simulator.machines import load_machine
    from hetier.simulator.scenario import Scenario, simulate
    from hetier.simulator.workload import load_workload

    w, m = load_workload(TRACE), load_machine("optane-appdirect")
    target = adv["all_dram_ns"] * (1 + WITHIN)
    time_at = lambda b: simulate(Scenario(w, with_fast_capacity(m, b), "dram-first", threads=4)).makespan_ns
    assert time_at(nbytes) <= target < time_at(nbytes - adv["memory_needed_bytes"] // 2 ** BISECT_STEPS)


def test_advise_text_names_the_comparisons(tmp_path, capsys):
    code, stdout, err = run(["advise", TRACE, "--machine", "ref-app-direct", "--policy", "ilp,all-pmem",
                             "--no-bisect", "--layers", "-o", str(tmp_path / "p.json")], capsys)
    assert code == 0, err
    assert "all-DRAM" in stdout and "Memory Mode" in stdout and "ilp" in stdout and "all-pmem" in stdout
    assert "ilp on ref-app-direct: live bytes at each layer's peak" in stdout and "conv2d_1" in stdout


def _one_line_error(capsys, argv, code=2):
    c, _, err = run(argv, capsys)
    # (replay's transient progress bar leaves an empty line on stderr before the message)
    assert c == code and err.strip().count("\n") == 0 and "Traceback" not in err
    return err


def test_bad_input_is_one_line(tmp_path, capsys):
    o = ["-o", str(tmp_path / "p.json"), "--no-bisect"]
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", "optane-appdirect", "--policy", "nope"] + o)
    assert "policy 'nope' not found" in err
    # found by make fuzz: a policy given twice (or on two machines) printed a progress line first
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", "optane-appdirect", "--policy", "nope,nope"] + o)
    assert "policy 'nope' not found" in err
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", "optane-appdirect", "--policy", "nope,ilp:x"] + o)
    assert err.startswith("hetier advise: no policy ran on any machine given (policy 'nope' not found") and "ilp" in err
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", "dram-only", "--policy", "ilp"] + o)
    assert "needs a machine with two tiers" in err
    small = tmp_path / "small.toml"
    small.write_text('name = "small"\ncores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n'
                     'capacity_gb = 0.5\n[[tiers]]\nname = "pmem"\ndevice = "optane-100-6dimm"\ncapacity_gb = 0.5\n')
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", str(small), "--policy", "hot-cold"] + o)
    assert ("does not fit: memory needed 2.84 GB (live 2.01 GB, pool and host 2.30 GB, runtime 0.54 GB) exceeds the "
            "1.00 GB machine 'small' can hold") in err
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", "optane-appdirect", "--dram-gb", "-1"] + o)
    assert "--dram-gb" in err
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", "optane-appdirect", "--dram-gb", "0"] + o)
    assert "--dram-gb 0.0 must be a size in GB above 0" in err  # 0 removed the DRAM tier and advised all-PMem
    err = _one_line_error(capsys, ["replay", TRACE, "--machine", "optane-appdirect", "--policy", "placement:/nonexistent.json"])
    assert "not found" in err


def test_a_bad_config_is_a_row_and_the_others_run(tmp_path, capsys):
    small = tmp_path / "small.toml"
    small.write_text('name = "small"\ncores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n'
                     'capacity_gb = 0.5\n[[tiers]]\nname = "pmem"\ndevice = "optane-100-6dimm"\ncapacity_gb = 0.5\n')
    code, stdout, err = run(["advise", TRACE, "--machine", f"optane-appdirect,dram-only,{small}", "--json",
                             "--policy", "hot-cold,nope", "--no-bisect", "-o", str(tmp_path / "p.json")], capsys)
    assert code == 0, err
    rows = {(r["machine"], r["policy"]): r for a in json.loads(stdout) for r in a["rows"]}
    assert rows[("optane-appdirect", "hot-cold")]["time_ns"] > 0
    assert "not found" in rows[("optane-appdirect", "nope")]["why"]
    assert "two tiers" in rows[("dram-only", "hot-cold")]["why"]
    assert "does not fit" in rows[("small", "hot-cold")]["why"]


def test_placement_of_another_trace_is_refused_naming_both(tmp_path, capsys):
    other = random_trace(tmp_path / "other.arrow", 5, 6)
    out = tmp_path / "p.json"
    code, _, err = run(["advise", other, "--machine", "optane-appdirect", "--policy", "ilp", "--no-bisect",
                        "-o", str(out)], capsys)
    assert code == 0, err
    err = _one_line_error(capsys, ["replay", TRACE, "--machine", "optane-appdirect", "--policy", f"placement:{out}"], 1)
    assert "made for trace other.arrow" in err and "not for cryptonets-b64.tensor.arrow" in err


def test_report_renders_the_advice(tmp_path, capsys):
    adv = tmp_path / "a.json"
    code, stdout, err = run(["advise", TRACE, "--machine", "optane-appdirect", "--dram-gb", "1", "--threads", "4",
                             "--no-bisect", "--json", "-o", str(tmp_path / "p.json"), "--advice", str(adv)],
                            capsys)
    assert code == 0, err
    (ranked,) = json.loads(stdout)
    ran = [r for r in ranked["rows"] if r["time_ns"]]
    best = json.loads(adv.read_text())["recommended"]
    advisor = [r for r in ran if r["policy"] in ("ilp", "hot-cold", "lifetime", "migrate")]
    assert best["policy"] == advisor[0]["policy"] and best["time_ns"] == advisor[0]["time_ns"]
    out = tmp_path / "r.html"
    code, _, err = run(["report", TRACE, "--advice", str(adv), "-o", str(out)], capsys)
    assert code == 0, err
    page = out.read_text()
    section = page[page.index("<h2>Placement advice</h2>"):]
    positions = [section.index(f"<td>{r['policy']}</td>") for r in ran]
    assert positions == sorted(positions)  # the ranking, fastest first, with the exact policy names
    assert f"<td>{ran[0]['vs_all_dram']:.3f}x</td><td>{ran[0]['vs_memory_mode']:.3f}x</td>" in section
    assert "interleave:0.5" in section and "does not fit" in section
    assert "Advice: live bytes by tier per layer" in section and "conv2d_1" in section
    assert f"Recommended placement: {best['policy']} on optane-appdirect" in section
    code, stdout, err = run(["report", TRACE, "--advice", str(adv), "--format", "text"], capsys)
    assert code == 0, err
    lines = [next(ln for ln in stdout.splitlines() if f" {r['policy']} " in ln and "│" in ln) for r in ran]
    assert [stdout.index(ln) for ln in lines] == sorted(stdout.index(ln) for ln in lines)
    assert f"{ran[-1]['time_ns'] / 1e9:.3f} s" in stdout and "moved in before it" in stdout
    assert "live bytes at each layer's peak, by tier" in stdout


def test_advice_of_another_trace_is_refused(tmp_path, capsys):
    other = random_trace(tmp_path / "other.arrow", 5, 6)
    adv = tmp_path / "a.json"
    code, _, err = run(["advise", other, "--machine", "optane-appdirect", "--policy", "ilp", "--no-bisect",
                        "-o", str(tmp_path / "p.json"), "--advice", str(adv)], capsys)
    assert code == 0, err
    err = _one_line_error(capsys, ["report", TRACE, "--advice", str(adv), "--format", "text"], 1)
    assert "advice" in err and "made for trace other.arrow" in err and "not for cryptonets-b64.tensor.arrow" in err
    err = _one_line_error(capsys, ["report", TRACE, "--advice", str(tmp_path / "p.json"), "--format", "text"], 1)
    assert "is not a hetier advice file" in err


def test_advise_speaks_replays_options_and_threads(tmp_path, capsys):
    from hetier.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "verb").choices["advise"].format_help()
    assert "--set" in sub and "--json" in sub and "--stack" in sub and "--dram-gb" in sub
    # the same trace and machine: the same default thread count and the same all-DRAM time as replay
    code, stdout, err = run(["advise", TRACE, "--machine", "optane-appdirect", "--set", "dram.capacity_gb=4",
                             "--policy", "dram-first", "--no-bisect", "--json", "-o", str(tmp_path / "p.json")], capsys)
    assert code == 0, err
    assert "optane-appdirect with 24 simulated thread(s) (its cores)" in err
    (adv,) = json.loads(stdout)
    assert adv["threads"] == 24
    code, stdout, _ = run(["replay", TRACE, "--machine", "optane-appdirect", "--set", "dram.capacity_gb=4",
                           "--policy", "all-dram", "--json"], capsys)
    (rep,) = json.loads(stdout)
    assert rep["threads"] == 24 and rep["makespan_ns"] == adv["all_dram_ns"]


def test_a_cxl_machine_has_no_memory_mode_and_takes_the_names_hetier_prints(tmp_path, capsys):
    code, stdout, err = run(["advise", TRACE, "--machine", "ddr5-cxl", "--dram-gb", "1", "--policy",
                             "all-cxl,dram-first,ilp", "--no-bisect", "-o", str(tmp_path / "p.json")], capsys)
    assert code == 0, err
    assert "Memory Mode" not in stdout and "all-pmem" in stdout  # all-cxl is the all-pmem policy (named by kind in reports)
    assert "numactl --preferred=DRAM_NODE" in stdout and "simulation only" in stdout
    # dram-first (a whole-process policy) replays faster than ilp here: it is the recommendation, with
    # how to deploy it, and ilp is named as the per-tensor placement written to the file
    lines = {line.split(":")[0]: line for line in err.splitlines() if ":" in line}
    assert lines["recommended"].startswith("recommended: dram-first on ddr5-cxl")
    assert "deploy: numactl --preferred=DRAM_NODE" in lines["recommended"] and "x all-DRAM" in lines["recommended"]
    assert lines["per-tensor placement (the file)"].startswith("per-tensor placement (the file): ilp on ddr5-cxl")
    assert "simulation only" in lines["per-tensor placement (the file)"] and "best deployable" not in lines


def test_threads_above_cores_are_a_row_as_in_replay(tmp_path, capsys):
    """More threads than a machine's cores: each verb shows that configuration as a row saying why
    (replay and sweep always did; advise used to refuse the whole command) and advises the others."""
    big = tmp_path / "big.toml"
    big.write_text('name = "big"\ncores = 48\nllc_mb = 8\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n'
                   'capacity_gb = 1\n[[tiers]]\nname = "pmem"\ndevice = "optane-100-6dimm"\n')
    code, stdout, err = run(["advise", TRACE, "--machine", f"optane-appdirect,{big}", "--threads", "30", "--json",
                             "--policy", "dram-first", "--no-bisect", "-o", str(tmp_path / "p.json")], capsys)
    assert code == 0, err
    small, large = json.loads(stdout)
    assert [(r["policy"], r["time_ns"], r["why"]) for r in small["rows"]] == [
        ("dram-first", None, "30 threads exceed the machine's 24 cores")]
    assert small["all_dram_ns"] is None and large["rows"][0]["time_ns"] > 0
    assert "recommended: dram-first on big" in err
    code, stdout, _ = run(["replay", TRACE, "--machine", "optane-appdirect", "--threads", "30", "--json"], capsys)
    assert code == 0 and [r["reason"] for r in json.loads(stdout)] == ["30 threads exceed the machine's 24 cores"]
    # one machine, nothing can run: one line saying why, before any output (nothing to rank)
    code, stdout, err = run(["advise", TRACE, "--machine", "optane-appdirect", "--threads", "30", "--policy",
                             "dram-first,ilp", "--no-bisect", "-o", str(tmp_path / "q.json")], capsys)
    assert code == 2 and stdout == ""
    assert err.splitlines() == ["hetier advise: 30 threads exceed the machine's 24 cores"]
    assert not (tmp_path / "q.json").exists()
