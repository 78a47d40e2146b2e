"""The layers import one way: formats <- tracer, formats <- simulator <- analysis, and the file
formats need nothing but the standard library, numpy and pyarrow (checked on the source's imports)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# hetier's dependency-free base modules, which the formats may use
BASE = ("hetier.version", "hetier.errors", "hetier.atomic", "hetier.validation", "hetier.vocabulary")


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
    files = {"hetier/version.py", "hetier/errors.py", "hetier/atomic.py", "hetier/validation.py", "hetier/vocabulary.py",
             "hetier/available_memory.py"}
    imports = {f: n for f, n in _imports("hetier").items() if f in files}
    assert set(imports) == files
    assert [f"{f}: {n}" for f, names in imports.items() for n in names if not (_stdlib(n) or n in BASE)] == []


# The package graph, lowest layer first: a module may import its own layer and the layers below,
# never a layer above, and never a sibling on its own rank (the tracer and the simulator know
# nothing of each other: data flows between them through trace files).
LAYERS = [
    ("base", 0, ("hetier.version", "hetier.errors", "hetier.atomic", "hetier.validation", "hetier.vocabulary",
                 "hetier.terminal", "hetier.text_table", "hetier.heap_thresholds", "hetier.available_memory")),
    ("formats", 1, ("hetier.formats",)),
    ("models", 2, ("hetier.models",)),
    ("tracer", 3, ("hetier.tracer",)),
    ("simulator", 3, ("hetier.simulator",)),
    ("analysis", 4, ("hetier.analysis",)),
    ("host", 5, ("hetier.host",)),
    ("workflow", 6, ("hetier.workflow",)),
    # the public Python API (hetier/api.py, re-exported lazily by hetier/__init__.py)
    ("api", 7, ("hetier.api", "hetier.__init__")),
    ("cli", 8, ("hetier.cli",)),
]
PACKAGE_FOLDERS = ("hetier", "tracer", "simulator", "analysis", "models")


def _layer_of(module: str) -> tuple[str, int]:
    if module == "hetier":
        module = "hetier.__init__"
    for name, rank, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name, rank
    raise AssertionError(f"module {module} belongs to no layer: add it to LAYERS")


def _package_graph() -> dict[str, set[str]]:
    """Every module of the package (all folders) -> the hetier modules it imports, lazy ones included."""
    graph = {}
    for folder in PACKAGE_FOLDERS:
        for file, names in _imports(folder).items():
            graph[_module_of(file)] = {n for n in names if n == "hetier" or n.startswith("hetier.")}
    return graph


def _layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for m, names in sorted(graph.items()):
        mine, rank = _layer_of(m)
        for n in sorted(names):
            other, r = _layer_of(n)
            if r > rank or (r == rank and other != mine):
                bad.append(f"{m} ({mine}) imports {n} ({other})")
    return bad


def test_every_module_imports_only_its_own_layer_and_below():
    assert _layer_violations(_package_graph()) == []


def test_the_layer_check_catches_upward_and_sideways_imports():
    # the check itself must be able to fail: an upward, a sideways and an allowed import
    graph = {"hetier.simulator.x": {"hetier.analysis.metrics", "hetier.tracer.session", "hetier.formats.trace"}}
    assert _layer_violations(graph) == ["hetier.simulator.x (simulator) imports hetier.analysis.metrics (analysis)",
                                        "hetier.simulator.x (simulator) imports hetier.tracer.session (tracer)"]


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


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
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
    return cycles


def test_no_import_cycles():
    """No module of the whole package reaches itself through imports (lazy ones included)."""
    assert _cycles(_package_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})[0] == ["a", "b", "c", "a"]


def test_the_real_path_has_nothing_of_plan_mode():
    """A real run's modules (the graph walk, kernels, SEAL backend, recorder) import no plan module."""
    plan = ("hetier.tracer.plan", "hetier.tracer.planner", "hetier.tracer.plan_timing", "hetier.tracer.symbolic",
            "hetier.tracer.costs")
    real = ("tracer/executor.py", "tracer/kernels.py", "tracer/runtime.py", "tracer/recorder.py", "tracer/geometry.py")
    imports = _imports("tracer")
    assert [f"{f}: {n}" for f in real for n in sorted(imports[f]) if n in plan] == []
