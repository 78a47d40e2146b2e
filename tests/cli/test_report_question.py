"""Reports keep the question: tables name each run's overrides, every figure has axis titles,
and plotly.js can be inlined, linked or shared beside the report."""

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli as run

TRACE = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from hetier.cli.main import main

    d = tmp_path_factory.mktemp("rq")
    assert main(["replay", TRACE, "--machine", "dram-only,optane-appdirect,optane-memory-mode", "--policy",
                 "all-pmem,dram-first", "--threads", "8", "--set", "optane-appdirect:dram.capacity_gb=2",
                 "--set", "optane-memory-mode:dram.capacity_gb=2", "-o", str(d / "r.arrow")]) == 0
    assert main(["advise", TRACE, "--machine", "optane-appdirect", "--dram-gb", "1", "--threads", "4", "--policy",
                 "ilp,dram-first", "--no-bisect", "-o", str(d / "p.json"), "--advice", str(d / "a.json")]) == 0
    assert main(["sweep", TRACE, "--machine", "optane-appdirect", "--policy", "dram-first,all-dram", "--threads", "4",
                 "--vary", "dram.capacity_gb=1,3", "--workers", "1", "-o", str(d / "s")]) == 0
    return d


def test_the_report_names_every_runs_overrides(results, capsys):
    code, out, err = run(["report", TRACE, str(results / "r.arrow"), "--format", "text"], capsys)
    assert code == 0, err
    # optane-appdirect (all-pmem, dram-first) and optane-memory-mode were given 2 GB of DRAM; dram-only nothing
    assert out.count("dram.capacity_gb=2") == 3


def _axis_title(axis) -> str:
    return (axis.title.text or "") if axis is not None and axis.title is not None else ""


def _all_figures(results):
    from hetier.analysis.comparison import load_comparison
    from hetier.analysis.metrics import analyze
    from hetier.analysis.reports.advice import advice_figures
    from hetier.analysis.reports.html import _figures
    from hetier.analysis.reports.sweep import build_report, figures
    from hetier.analysis.trace_pass import TracePass
    from hetier.formats.identity import trace_identity

    with TracePass(TRACE, require_events=True) as tp:
        ident = trace_identity(TRACE, tp.meta)
        comp = load_comparison([str(results / "r.arrow")], ident["sha256"], ident["file"])
        an = analyze(tp)
    figs = _figures(an, comp) + advice_figures(json.loads((results / "a.json").read_text()))
    return figs + figures(build_report(str(results / "s")))


def test_every_figure_has_axis_titles(results):
    figs = _all_figures(results)
    assert len(figs) >= 12
    missing = [title for title, fig, _ in figs
               if not (_axis_title(fig.layout.xaxis) and _axis_title(fig.layout.yaxis))]
    assert missing == []


@pytest.mark.parametrize("mode", ["inline", "cdn", "directory"])
def test_plotlyjs_inline_cdn_or_beside_the_report(results, tmp_path, capsys, mode):
    out = tmp_path / "r.html"
    code, _, err = run(["report", TRACE, str(results / "r.arrow"), "-o", str(out), "--plotlyjs", mode], capsys)
    assert code == 0, err
    page = out.read_text()
    beside = tmp_path / "plotly.min.js"
    if mode == "inline":
        assert out.stat().st_size > 3_000_000 and "<script src=" not in page and not beside.exists()
    elif mode == "cdn":
        import plotly

        assert out.stat().st_size < 1_500_000 and f"https://cdn.plot.ly/plotly-{plotly.__version__}.min.js" in page
    else:
        assert out.stat().st_size < 1_500_000 and '<script src="plotly.min.js"' in page
        assert beside.stat().st_size > 3_000_000
