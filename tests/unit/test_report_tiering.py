"""The report's tiering section: promotions and demotions (Linux tiering) and swaps (Flat Memory
Mode) over simulated time, drawn from the results' per-op columns; the bars add up to the totals
the runs report, and the resident curve is the results' DRAM live bytes."""

import pytest

import hetier
from hetier.formats.results import load_results, save_results
from hetier.simulator.machines import load_machine
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import load_workload
from tests.helpers import hot_cold_trace


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiering-report")
    trace = hot_cold_trace(d / "hc.arrow")
    w = load_workload(trace)
    sets = ["dram.capacity_gb=1", "machine.llc_mb=0.000001"]
    tiering = simulate(Scenario(w, load_machine("xeon-ddr5-cxl-a-tiering", [*sets, "cxl.capacity_gb=2"]), threads=1))
    fmm = simulate(Scenario(w, load_machine("xeon6-ddr5-cxl-a-fmm", [*sets, "cxl.capacity_gb=1"]), threads=1))
    flat = simulate(Scenario(w, load_machine("xeon-ddr5-cxl-a", [*sets, "cxl.capacity_gb=2"]), "dram-first", threads=1))
    save_results(d / "res.arrow", [flat, tiering, fmm])
    return trace, d / "res.arrow", tiering, fmm


def test_the_figures_add_up_to_the_runs_totals(runs):
    trace, results, tiering, fmm = runs
    t, swap = tiering.notes["tiering"], fmm.notes["flat_memory_mode"]
    assert t["promoted_bytes"] > 0 and t["demoted_bytes"] > 0 and swap["swapped_in_bytes"] > 0  # not vacuous
    figs = hetier.report_figures(trace, [results])
    mine = {k: v for k, v in figs.items() if k.startswith("Tiering over time")}
    assert sorted(mine) == ["Tiering over time: xeon-ddr5-cxl-a-tiering / linux-tiering",
                            "Tiering over time: xeon6-ddr5-cxl-a-fmm / flat-memory-mode"]  # not the dram-first run
    lt = mine["Tiering over time: xeon-ddr5-cxl-a-tiering / linux-tiering"]
    up, down, resident, capacity = lt.data
    assert sum(up.y) * 1e9 == pytest.approx(t["promoted_bytes"], rel=1e-12)
    assert -sum(down.y) * 1e9 == pytest.approx(t["demoted_bytes"], rel=1e-12)
    assert up.name == "promoted (dram)" and down.name == "demoted (to cxl)"
    # the resident curve is DRAM's live bytes after each op, stepping at each op's end
    assert [round(v * 1e9) for v in resident.y[1:]] == tiering.layers["live_end_bytes_dram"]
    assert list(resident.x[1:]) == [e / 1e9 for e in tiering.layers["end_ns"]]
    assert list(capacity.y) == [1.0, 1.0]
    # each bar spans its op's simulated time
    assert list(up.width) == [(e - s) / 1e9 for s, e in zip(tiering.layers["start_ns"], tiering.layers["end_ns"])]
    assert list(up.customdata) == tiering.layers["name"]
    f = mine["Tiering over time: xeon6-ddr5-cxl-a-fmm / flat-memory-mode"]
    assert len(f.data) == 2  # swaps in and out; DRAM is always full, no resident curve
    assert sum(f.data[0].y) * 1e9 == pytest.approx(swap["swapped_in_bytes"], rel=1e-12)
    assert -sum(f.data[1].y) * 1e9 == pytest.approx(swap["swapped_out_bytes"], rel=1e-12)
    assert f.data[0].name == "swapped in (dram)"


def test_the_html_report_has_the_tiering_section(runs, tmp_path):
    from hetier.cli.main import main

    trace, results, tiering, _ = runs
    out = tmp_path / "r.html"
    assert main(["report", trace, str(results), "-o", str(out), "--plotlyjs", "cdn"]) == 0
    page = out.read_text()
    assert "<h2>Tiering over time: xeon-ddr5-cxl-a-tiering / linux-tiering</h2>" in page
    assert f"({tiering.notes['tiering']['promoted_bytes'] / 1e9:,.2f} GB in all)" in page


def test_a_report_without_such_runs_has_no_tiering_figure(runs, tmp_path):
    trace, *_ = runs
    plain = simulate(Scenario(load_workload(trace), load_machine("dram-only"), threads=1))
    save_results(tmp_path / "plain.arrow", [plain])
    assert "promoted_bytes" not in load_results(tmp_path / "plain.arrow")[1].column_names
    assert not [k for k in hetier.report_figures(trace, [tmp_path / "plain.arrow"]) if k.startswith("Tiering")]
