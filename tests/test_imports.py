"""Every module of the package imports; data flows one way (simulator and analysis without TenSEAL)."""

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = ("hetier", "hetier.formats", "hetier.tracer", "hetier.simulator", "hetier.analysis", "hetier.models", "hetier.cli")


def _modules() -> list[str]:
    found = set(PACKAGES)
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        found.update(m.name for m in pkgutil.walk_packages(pkg.__path__, name + "."))
    return sorted(found)


MODULES = _modules()


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports(module):
    importlib.import_module(module)


def test_the_walk_finds_every_source_file():
    # a module pkgutil cannot reach (say, a folder without __init__.py) would escape the test above;
    # scripts next to the presets (simulator/presets/*.py) are run by hand, not imported
    files = set()
    for name in PACKAGES:
        root = Path(importlib.import_module(name).__path__[0])
        for f in root.rglob("*.py"):
            if "presets" in f.relative_to(root).parts:
                continue
            parts = f.relative_to(root).with_suffix("").parts
            files.add(".".join((name,) + (parts[:-1] if parts[-1] == "__init__" else parts)))
    assert files == set(MODULES), sorted(files ^ set(MODULES))


def test_analysis_and_trace_reading_do_not_import_tenseal():
    simulator = [m for m in MODULES if m.startswith("hetier.simulator")]
    analysis = [m for m in MODULES if m.startswith("hetier.analysis")]
    code = (f"import sys, importlib; [importlib.import_module(m) for m in {simulator + analysis!r}]; "
            "import hetier.formats.trace; print('tenseal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


def test_trace_reading_imports_neither_tenseal_nor_plotly():
    code = ("import sys, hetier.simulator, hetier.analysis.check, hetier.analysis.trace_stats, "
            "hetier.formats.trace; print('tenseal' in sys.modules, 'plotly' in sys.modules)")
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
