"""Advice files keep what Linux tiering and Flat Memory Mode moved at each op (`hetier advise
--tiering --advice FILE`), and `hetier report --advice` draws it with the results' tiering figure:
the bars add up to the runs' totals. Advice files written before these columns still report (a
line says there are none); a malformed column is refused in one line."""

import html
import json

import pytest

import hetier
from hetier.simulator.machines import load_machine
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import load_workload
from tests.helpers import hot_cold_trace, run_cli

SETS = ["dram.capacity_gb=1", "cxl.capacity_gb=2", "machine.llc_mb=0.000001"]
LT = "Advice: Tiering over time: xeon-ddr5-cxl-a as linux-tiering / linux-tiering"
FMM = "Advice: Tiering over time: xeon-ddr5-cxl-a as flat-memory-mode / flat-memory-mode"


@pytest.fixture(scope="module")
def advised(tmp_path_factory):
    from hetier.cli.main import main

    d = tmp_path_factory.mktemp("advice-tiering")
    trace = hot_cold_trace(d / "hc.arrow")
    sets = [a for s in SETS for a in ("--set", s)]
    # no advisor policy, and Linux tiering is the fastest: the recommendation is a tiering row, which names
    # the machine's twin ("... as linux-tiering"); advise found its machine by that name (StopIteration) before
    assert main(["advise", trace, "--machine", "xeon-ddr5-cxl-a", *sets, "--policy", "all-pmem", "--threads", "1",
                 "--tiering", "--no-bisect", "-o", str(d / "p.json"), "--advice", str(d / "a.json")]) == 0
    return trace, d / "a.json"


def test_the_advice_figures_add_up_to_the_runs_totals(advised):
    trace, advice = advised
    w = load_workload(trace)
    lt = simulate(Scenario(w, load_machine("xeon-ddr5-cxl-a-tiering", SETS), threads=1))  # the same devices
    fmm = simulate(Scenario(w, load_machine("xeon6-ddr5-cxl-a-fmm", [*SETS[:1], "cxl.capacity_gb=1", SETS[2]]),
                            threads=1))
    t, swap = lt.notes["tiering"], fmm.notes["flat_memory_mode"]
    assert t["promoted_bytes"] > 0 and t["demoted_bytes"] > 0 and swap["swapped_in_bytes"] > 0  # not vacuous
    doc = json.loads(advice.read_text())
    entries = {e["policy"]: e for e in doc["tiering"]}
    assert len(entries) == 3 and "linux-tiering" in entries and "flat-memory-mode" in entries  # and the tuned one
    ops = entries["linux-tiering"]["ops"]
    assert sum(ops["promoted_bytes"]) == t["promoted_bytes"] and sum(ops["demoted_bytes"]) == t["demoted_bytes"]
    assert ops["resident_bytes"] == lt.layers["live_end_bytes_dram"] and ops["name"] == lt.layers["name"]
    assert "resident_bytes" not in entries["flat-memory-mode"]["ops"]  # DRAM is always full under FMM
    rows = {r["policy"]: r for r in doc["machines"][0]["rows"]}
    assert rows["linux-tiering"]["migrated_bytes"] == t["promoted_bytes"] + t["demoted_bytes"]

    figs = hetier.report_figures(trace, advice=advice)
    up, down, resident, capacity = figs[LT].data
    assert sum(up.y) * 1e9 == pytest.approx(t["promoted_bytes"], rel=1e-12)
    assert -sum(down.y) * 1e9 == pytest.approx(t["demoted_bytes"], rel=1e-12)
    assert list(up.width) == [(e - s) / 1e9 for s, e in zip(lt.layers["start_ns"], lt.layers["end_ns"])]
    assert [round(v * 1e9) for v in resident.y[1:]] == lt.layers["live_end_bytes_dram"]
    assert list(capacity.y) == [1.0, 1.0]
    f = figs[FMM]
    assert len(f.data) == 2
    assert sum(f.data[0].y) * 1e9 == pytest.approx(swap["swapped_in_bytes"], rel=1e-12)
    assert -sum(f.data[1].y) * 1e9 == pytest.approx(swap["swapped_out_bytes"], rel=1e-12)


def test_the_html_report_draws_it_in_the_advice_section(advised, tmp_path, capsys):
    trace, advice = advised
    out = tmp_path / "r.html"
    code, _, err = run_cli(["report", trace, "--advice", str(advice), "-o", str(out), "--plotlyjs", "cdn"], capsys)
    assert code == 0, err
    page = out.read_text()
    section = page[page.index("<h2>Placement advice</h2>"):]
    assert f"<h2>{LT}</h2>" in section and f"<h2>{FMM}</h2>" in section
    assert "Tiering over time: 3 run(s) of Linux tiering or Flat Memory Mode" in section


def test_an_advice_file_from_before_the_columns_still_reports(advised, tmp_path, capsys):
    from hetier.analysis.reports.advice import NO_TIERING_COLUMNS

    trace, advice = advised
    doc = json.loads(advice.read_text())
    del doc["tiering"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    code, out, err = run_cli(["report", trace, "--advice", str(old), "--format", "text"], capsys)
    assert code == 0 and NO_TIERING_COLUMNS in " ".join(out.split()), err
    assert not [k for k in hetier.report_figures(trace, advice=old) if "Tiering over time" in k]
    code, _, err = run_cli(["report", trace, "--advice", str(old), "-o", str(tmp_path / "r.html"), "--plotlyjs", "cdn"],
                           capsys)
    assert code == 0 and html.escape(NO_TIERING_COLUMNS) in (tmp_path / "r.html").read_text(), err


def _ops(edit):
    def apply(doc):
        edit(doc["tiering"][0]["ops"])
    return apply


@pytest.mark.parametrize("edit, msg", [
    (_ops(lambda o: o["promoted_bytes"].__setitem__(0, float("nan"))),
     "tiering[0].ops.promoted_bytes[0] must be a finite number"),
    (_ops(lambda o: o["demoted_bytes"].__setitem__(0, -1.0)), "tiering[0].ops.demoted_bytes[0] must be >= 0"),
    (_ops(lambda o: o.__setitem__("demoted_bytes", o["demoted_bytes"][:1])),
     "tiering[0].ops.demoted_bytes has 1 values for 10 ops"),
    (_ops(lambda o: o.pop("promoted_bytes")), "missing 'promoted_bytes' in tiering[0].ops"),
    (_ops(lambda o: o.__setitem__("swapped", [])), "unknown tiering column(s) swapped in tiering[0].ops"),
    (_ops(lambda o: o.__setitem__("end_ns", [0.0] * len(o["end_ns"]))), "tiering[0].ops: op 1 ends before it starts"),
    (_ops(lambda o: o.__setitem__("start_ns", [1.0] * 200_001)), "tiering[0].ops.start_ns must have 0 to 200000 items"),
    (lambda doc: doc["tiering"][0]["machine"].__setitem__("mode", "memory-mode"),
     "tiering[0].machine.mode must be one of linux-tiering, flat-memory-mode"),
    (lambda doc: doc["tiering"][0].__setitem__("extra", 1), "unknown tiering key(s) extra in tiering[0]"),
    (lambda doc: doc.__setitem__("tiering", {}), "tiering must be a list"),
])
def test_a_malformed_tiering_column_is_one_line(advised, edit, msg, tmp_path, capsys):
    trace, advice = advised
    doc = json.loads(advice.read_text())
    edit(doc)
    f = tmp_path / "a.json"
    f.write_text(json.dumps(doc))
    code, _, err = run_cli(["report", trace, "--advice", str(f), "--format", "text"], capsys)
    assert code in (1, 2) and msg in err and err.count("\n") == 1 and "Traceback" not in err, err
