"""Data flows one way: simulator and analysis read traces without TenSEAL."""

import subprocess
import sys


def test_analysis_and_trace_reading_do_not_import_tenseal():
    code = ("import sys, hetier.simulator, hetier.analysis.check, hetier.analysis.trace_stats, "
            "hetier.tracer.format; print('tenseal' in sys.modules, 'plotly' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_cli_help_does_not_import_tenseal():
    code = "import sys; from hetier.cli.main import build_parser; build_parser(); print('tenseal' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_sweep_modules_import_neither_dask_nor_plotly():
    code = ("import sys, hetier.simulator.sweep, hetier.simulator.sweep_store, hetier.simulator.axes, "
            "hetier.analysis.sweep, hetier.analysis.reports.sweep, hetier.analysis.results_table, hetier.cli.sweep; "
            "print('distributed' in sys.modules, 'dask' in sys.modules, 'plotly' in sys.modules, 'tenseal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False", "False"]
