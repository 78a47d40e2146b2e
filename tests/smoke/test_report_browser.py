"""The HTML report in a real browser: headless Chromium draws every plot without a JS error."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hetier.cli.main import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TRACE = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (Debian package 'chromium'; .ci/run installs it)")
def test_report_renders_in_chromium(tmp_path):
    res = tmp_path / "r.arrow"
    assert main(["replay", TRACE, "--machine", "dram-only,optane-memory-mode", "--set",
                 "optane-memory-mode:dram.capacity_gb=1", "-o", str(res)]) == 0
    report = tmp_path / "report.html"
    assert main(["report", TRACE, str(res), "-o", str(report)]) == 0
    n_figures = report.read_text().count('class="plotly-graph-div"')
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000",
                          "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120).stdout
    errors = re.search(r'<div id="hetier-js-errors"[^>]*>(.*?)</div>', dom, flags=re.S)
    assert errors is not None and errors.group(1).strip() == ""
    drawn = re.findall(r'<div id="fig\d+" class="plotly-graph-div js-plotly-plot"', dom)
    # 8 views + per fitting run a per-layer split and a busy-threads curve; plotly marks each div it has drawn
    assert n_figures == 8 + 2 * 2 and len(drawn) == n_figures
    assert dom.count('class="main-svg"') >= 2 * n_figures
    figs = dom.split('<div id="fig')[1:]
    assert len(figs) == n_figures
    for i, fig in enumerate(figs):
        titles = {axis: _texts(fig, axis) for axis in ("xtitle", "ytitle")}
        assert all(titles.values()), f"figure {i} lacks an axis title: {titles}"
        for t in titles["xtitle"] + titles["ytitle"] + _texts(fig, "y2title"):
            assert t in CATEGORICAL or UNIT.search(t), f"figure {i}: axis title '{t}' has no unit"


# Axis titles: a unit in parentheses, or one of the categorical axes (which have none).
UNIT = re.compile(r"\((s|GB|%)[\s,;)]")
CATEGORICAL = {"layer (in execution order)", "HE primitive", "machine / policy"}


def _texts(fig_html: str, cls: str) -> list[str]:
    import html

    return [html.unescape(t).strip() for t in re.findall(rf'<text class="{cls}"[^>]*>(.*?)</text>', fig_html, flags=re.S)]
