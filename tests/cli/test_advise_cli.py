"""`hetier advise` through main([...]): ranking, the placement file, bad input as one line or a row."""

import json
from pathlib import Path

from tests.helpers import random_trace, run_cli as run

TRACE = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")


def test_advise_ranks_policies_and_writes_a_placement_that_replays(tmp_path, capsys):
    out = tmp_path / "p.json"
    code, stdout, err = run(["advise", TRACE, "--machine", "optane-appdirect", "--dram-gb", "1", "--threads", "4",
                             "--format", "json", "-o", str(out)], capsys)
    assert code == 0, err
    (adv,) = json.loads(stdout)
    assert adv["machine"] == "optane-appdirect" and adv["fast_bytes"] == 10 ** 9
    assert adv["all_dram_ns"] > 0 and adv["memory_mode_ns"] > 0
    rows = adv["rows"]
    assert {r["policy"] for r in rows} >= {"optimal", "hot-cold", "lifetime", "migrate", "dram-first", "all-pmem"}
    times = [r["time_ns"] for r in rows if r["time_ns"]]
    assert times == sorted(times) and len(times) == 7  # interleave's half of a 2.01 GB peak does not fit in 1 GB
    assert rows[-1]["policy"] == "interleave:0.5" and rows[-1]["why"].startswith("does not fit")
    for r in rows[:-1]:
        assert r["vs_all_dram"] == r["time_ns"] / adv["all_dram_ns"]
        assert r["min_fast_bytes"] is None or 0 <= r["min_fast_bytes"] <= adv["peak_live_bytes"]
    doc = json.loads(out.read_text())
    best = min((r for r in rows if r["policy"] in ("optimal", "hot-cold", "lifetime", "migrate")), key=lambda r: r["time_ns"])
    assert doc["policy"] == best["policy"] and doc["trace"]["model"] == "cryptonets"
    assert f"recommended: {best['policy']}" in err
    code, stdout, err = run(["replay", TRACE, "--machine", "optane-appdirect", "--set", "dram.capacity_gb=1",
                             "--threads", "4", "--policy", f"placement:{out}"], capsys)
    assert code == 0, err
    assert f"{best['time_ns'] / 1e9:.3f} s" in stdout
    code, _, err = run(["advise", TRACE, "--machine", "optane-appdirect", "-o", str(out), "--no-bisect"], capsys)
    assert code == 2 and "exists" in err


def test_advise_text_names_the_comparisons(tmp_path, capsys):
    code, stdout, err = run(["advise", TRACE, "--machine", "ref-app-direct", "--policy", "optimal,all-pmem",
                             "--no-bisect", "--layers", "-o", str(tmp_path / "p.json")], capsys)
    assert code == 0, err
    assert "all-DRAM" in stdout and "Memory Mode" in stdout and "optimal" in stdout and "all-pmem" in stdout
    assert "optimal on ref-app-direct: live bytes at each layer's peak" in stdout and "conv2d_1" in stdout


def _one_line_error(capsys, argv, code=2):
    c, _, err = run(argv, capsys)
    # (replay's transient progress bar leaves an empty line on stderr before the message)
    assert c == code and err.strip().count("\n") == 0 and "Traceback" not in err
    return err


def test_bad_input_is_one_line(tmp_path, capsys):
    o = ["-o", str(tmp_path / "p.json"), "--no-bisect"]
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", "optane-appdirect", "--policy", "nope"] + o)
    assert "policy 'nope' not found" in err
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", "dram-only", "--policy", "optimal"] + o)
    assert "needs a machine with two tiers" in err
    small = tmp_path / "small.toml"
    small.write_text('name = "small"\ncores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n'
                     'capacity_gb = 0.5\n[[tiers]]\nname = "pmem"\ndevice = "optane-100-6dimm"\ncapacity_gb = 0.5\n')
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", str(small), "--policy", "hot-cold"] + o)
    assert "does not fit: peak live 2.01 GB exceeds the 1.00 GB of all tiers" in err
    err = _one_line_error(capsys, ["advise", TRACE, "--machine", "optane-appdirect", "--dram-gb", "-1"] + o)
    assert "--dram-gb" in err
    err = _one_line_error(capsys, ["replay", TRACE, "--machine", "optane-appdirect", "--policy", "placement:/nonexistent.json"])
    assert "not found" in err


def test_a_bad_config_is_a_row_and_the_others_run(tmp_path, capsys):
    small = tmp_path / "small.toml"
    small.write_text('name = "small"\ncores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n'
                     'capacity_gb = 0.5\n[[tiers]]\nname = "pmem"\ndevice = "optane-100-6dimm"\ncapacity_gb = 0.5\n')
    code, stdout, err = run(["advise", TRACE, "--machine", f"optane-appdirect,dram-only,{small}", "--format", "json",
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
    code, _, err = run(["advise", other, "--machine", "optane-appdirect", "--policy", "optimal", "--no-bisect",
                        "-o", str(out)], capsys)
    assert code == 0, err
    err = _one_line_error(capsys, ["replay", TRACE, "--machine", "optane-appdirect", "--policy", f"placement:{out}"], 1)
    assert "made for trace other.arrow" in err and "not for cryptonets-b64.tensor.arrow" in err


def test_report_renders_the_advice(tmp_path, capsys):
    adv = tmp_path / "a.json"
    code, stdout, err = run(["advise", TRACE, "--machine", "optane-appdirect", "--dram-gb", "1", "--threads", "4",
                             "--no-bisect", "--format", "json", "-o", str(tmp_path / "p.json"), "--advice", str(adv)],
                            capsys)
    assert code == 0, err
    (ranked,) = json.loads(stdout)
    ran = [r for r in ranked["rows"] if r["time_ns"]]
    best = json.loads(adv.read_text())["recommended"]
    assert best["policy"] in ("optimal", "hot-cold", "lifetime", "migrate") and best["time_ns"] == ran[0]["time_ns"]
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
    code, _, err = run(["advise", other, "--machine", "optane-appdirect", "--policy", "optimal", "--no-bisect",
                        "-o", str(tmp_path / "p.json"), "--advice", str(adv)], capsys)
    assert code == 0, err
    err = _one_line_error(capsys, ["report", TRACE, "--advice", str(adv), "--format", "text"], 1)
    assert "advice" in err and "made for trace other.arrow" in err and "not for cryptonets-b64.tensor.arrow" in err
    err = _one_line_error(capsys, ["report", TRACE, "--advice", str(tmp_path / "p.json"), "--format", "text"], 1)
    assert "is not a hetier advice file" in err
