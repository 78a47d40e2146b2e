"""The layers import one way: formats <- tracer, formats <- simulator <- analysis, and the file
formats need nothing but the standard library, numpy and pyarrow (checked on the source's imports)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# hetier's dependency-free base modules, which the formats may use
BASE = ("hetier", "hetier.errors", "hetier.atomic", "hetier.validation", "hetier.vocabulary")


def _imports(folder: str) -> dict[str, set[str]]:
    """Every module imported anywhere in the .py files under ``folder`` (lazy imports included),
    by file."""
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: relative import"
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _offenders(folder: str, allowed) -> list[str]:
    return [f"{file}: {name}" for file, names in _imports(folder).items() for name in sorted(names)
            if not allowed(name)]


def _stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names or name == "__future__"


def _within(name: str, packages) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_scan_sees_imports():
    # the checks below are only as good as the scan: it must find known imports, lazy ones too
    assert "hetier.formats.trace" in _imports("simulator")["simulator/workload.py"]
    assert "pyarrow.parquet" in _imports("analysis")["analysis/export.py"]  # imported inside a function
    assert "hetier.formats.granularity" in _imports("tracer")["tracer/recorder.py"]


def test_formats_import_only_numpy_pyarrow_and_the_base_modules():
    def allowed(name):
        return (_stdlib(name) or _within(name, ("numpy", "pyarrow", "hetier.formats")) or name in BASE)

    assert _offenders("hetier/formats", allowed) == []


def test_base_modules_import_only_the_standard_library_and_each_other():
    files = {"hetier/__init__.py", "hetier/errors.py", "hetier/atomic.py", "hetier/validation.py", "hetier/vocabulary.py"}
    imports = {f: n for f, n in _imports("hetier").items() if f in files}
    assert set(imports) == files
    assert [f"{f}: {n}" for f, names in imports.items() for n in names if not (_stdlib(n) or n in BASE)] == []


@pytest.mark.parametrize("folder, forbidden", [
    ("simulator", ("hetier.tracer", "hetier.analysis", "hetier.cli")),
    ("analysis", ("hetier.tracer", "hetier.cli")),
    ("tracer", ("hetier.simulator", "hetier.analysis", "hetier.cli")),
    ("hetier/formats", ("hetier.tracer", "hetier.simulator", "hetier.analysis", "hetier.models", "hetier.cli")),
])
def test_no_upward_or_sideways_imports(folder, forbidden):
    assert _offenders(folder, lambda name: not _within(name, forbidden)) == []


def test_reading_formats_loads_no_heavy_dependency():
    heavy = ("tenseal", "simpy", "plotly", "scipy", "dask", "distributed", "rich")
    code = ("import sys, hetier.formats.trace, hetier.formats.results, hetier.formats.granularity, "
            f"hetier.formats.identity; print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _module_of(file: str) -> str:
    """hetier's import name of a repository file (tracer/x.py -> hetier.tracer.x)."""
    parts = Path(file).with_suffix("").parts
    name = ".".join(parts if parts[0] == "hetier" else ("hetier",) + parts)
    return name.removesuffix(".__init__")


def test_no_import_cycles():
    """No module reaches itself through imports (lazy ones included)."""
    graph = {}
    for folder in ("hetier", "tracer", "simulator", "analysis", "models"):
        for file, names in _imports(folder).items():
            graph[_module_of(file)] = {n for n in names if n.startswith("hetier.")}
    modules = set(graph)
    edges = {m: {n for n in graph[m] if n in modules and n != m} for m in modules}
    cycles = []

    def visit(m, path, seen):
        for n in sorted(edges[m]):
            if n in path:
                cycles.append(path[path.index(n):] + [n])
            elif n not in seen:
                seen.add(n)
                visit(n, path + [n], seen)

    for m in sorted(modules):
        visit(m, [m], {m})
    assert cycles == [], cycles


def test_the_real_path_has_nothing_of_plan_mode():
    """A real run's modules (the graph walk, kernels, SEAL backend, recorder) import no plan module."""
    plan = ("hetier.tracer.plan", "hetier.tracer.planner", "hetier.tracer.plan_timing", "hetier.tracer.symbolic",
            "hetier.tracer.costs")
    real = ("tracer/executor.py", "tracer/kernels.py", "tracer/runtime.py", "tracer/recorder.py", "tracer/geometry.py")
    imports = _imports("tracer")
    assert [f"{f}: {n}" for f in real for n in sorted(imports[f]) if n in plan] == []
