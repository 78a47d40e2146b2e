"""The Python API (hetier/api.py): light to import, documented, its names what hetier exports, and
docs/python-api.md's examples run as written and print what the page says."""

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import hetier
from hetier import api

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs/python-api.md"
TRACE = str(ROOT / "traces/cryptonets-b64.tensor.arrow")
HEAVY = ("tenseal", "simpy", "plotly", "dask", "distributed", "scipy", "rich", "pandas", "pyarrow")


def test_importing_hetier_loads_nothing_heavy():
    code = f"import sys, hetier, hetier.api; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_package_exports_the_api_and_each_name_resolves_documented():
    assert hetier.__all__ == ["__version__", *api.__all__]
    for name in api.__all__:
        obj = getattr(hetier, name)
        assert obj is getattr(api, name)
        assert (obj.__doc__ or "").strip(), f"hetier.{name} has no docstring"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hetier.nope  # noqa: B018


def test_no_api_name_is_a_subpackage_or_module():
    """A submodule, once imported, is an attribute of the package and would hide the API name
    (``hetier.models`` the package, not a function)."""
    import pkgutil

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapped = {name.split(".")[1] for name in project["tool"]["setuptools"]["package-dir"] if "." in name}
    subs = {m.name for m in pkgutil.iter_modules(hetier.__path__)} | mapped  # hetier/* and the repo-root folders
    assert {"api", "cli", "formats", "models", "tracer", "simulator", "analysis"} <= subs
    assert set(api.__all__) & subs == set()
    for name in sorted(subs):
        __import__(f"hetier.{name}")  # the submodules, imported: none may shadow an API name

    assert all(getattr(hetier, n) is getattr(api, n) for n in api.__all__)


def test_help_lists_the_api():
    out = subprocess.run([sys.executable, "-c", "import hetier; help(hetier)"], capture_output=True, text=True,
                         check=True, env={**os.environ, "PAGER": "cat", "TERM": "dumb"}).stdout
    for name in ("advise", "simulate", "open_results", "report_figures", "semantically versioned"):
        assert name in out


def test_the_version_is_declared_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in project["dynamic"] and "version" not in project
    from importlib.metadata import version

    assert version("hetier") == hetier.__version__


def test_machine_overrides_as_keywords_are_the_set_option():
    from hetier.simulator.machines import load_machine

    by_set = load_machine("ddr5-cxl", ["dram.capacity_gb=2", "cxl.capacity_gb=64"])
    assert hetier.machine("ddr5-cxl", dram__capacity_gb=2, **{"cxl.capacity_gb": 64}).to_dict() == by_set.to_dict()
    with pytest.raises(hetier.UsageError, match="unknown tier"):
        hetier.machine("ddr5-cxl", hbm__capacity_gb=2)
    assert hetier.stack("hetier", compute_scale=1.5).compute_scale == 1.5


def test_simulate_via_the_api_is_the_replay(tmp_path):
    """The API's numbers are the CLI's: the same scenario replayed by `hetier replay -o` gives the same row."""
    from hetier.cli.main import main

    out = tmp_path / "r.arrow"
    assert main(["replay", TRACE, "--machine", "optane-appdirect", "--policy", "dram-first", "--threads", "4",
                 "--set", "dram.capacity_gb=1", "-o", str(out)]) == 0
    r = hetier.simulate(hetier.scenario(TRACE, hetier.machine("optane-appdirect", dram__capacity_gb=1), "dram-first",
                                        threads=4))
    from_cli = hetier.open_results(out).to_pylist()[0]
    mine = hetier.runs_table([r]).to_pylist()[0]
    assert mine["time_s"] == from_cli["time_s"] and mine["peak_bytes_pmem"] == from_cli["peak_bytes_pmem"]
    assert {k for k in mine} <= set(from_cli)  # runs_table: open_results' columns but source and cost
    from hetier.formats.sweep import override_keys

    table = hetier.open_results(out)  # the override is the column dram_capacity_gb, its key in the metadata
    assert from_cli["dram_capacity_gb"] == 1 and override_keys(table) == ["dram.capacity_gb"]
    assert override_keys(hetier.runs_table([r])) == []  # the API's machine was built with no --set


def test_open_results_refuses_a_sweep_directory_by_name(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    with pytest.raises(hetier.HetierError, match="is a directory, not a regular file"):
        hetier.open_results(d)


def _blocks() -> list[tuple[str, str]]:
    return re.findall(r"```python\n(.*?)```\n(?:(?!```python).)*?```text\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_example_shows_its_output():
    assert len(_blocks()) == DOC.read_text().count("```python") >= 8


def test_the_examples_print_what_the_doc_says(tmp_path, monkeypatch):
    """Run every block in order in one namespace (later blocks use earlier names), from a folder
    that has the repository's traces/, and compare each block's output with the text under it."""
    (tmp_path / "traces").symlink_to(ROOT / "traces")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no host preset of this machine
    ns: dict = {}
    for i, (code, expected) in enumerate(_blocks()):
        if code.startswith("# needs numactl") and shutil.which("numactl") is None:
            continue  # confirm binds the re-run with numactl (.ci/run installs it)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(code, f"python-api.md block {i}", "exec"), ns)
        assert buf.getvalue() == expected, f"block {i}"


def test_the_readme_example_prints_what_its_comment_says(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API\n", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    (tmp_path / "traces").symlink_to(ROOT / "traces")
    monkeypatch.chdir(tmp_path)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "README.md Python API", "exec"), {})
    [printed] = re.findall(r"print\(run.headline\(\)\)\s+# (.*)", code)
    assert buf.getvalue() == printed + "\n"


def test_trace_refuses_bad_options_and_overwriting_before_running(tmp_path):
    existing = tmp_path / "t.arrow"
    existing.write_text("mine")
    with pytest.raises(hetier.UsageError, match="mode 'fast' unknown"):
        hetier.trace("mlp", tmp_path / "x.arrow", mode="fast")
    with pytest.raises(hetier.UsageError, match="cost_file is for mode='plan'"):
        hetier.trace("mlp", tmp_path / "x.arrow", cost_file="c.json")
    with pytest.raises(hetier.HetierError, match="exists"):
        hetier.trace("mlp", existing, mode="plan")
    assert existing.read_text() == "mine" and not (tmp_path / "x.arrow").exists()


def test_export_model_via_the_api_writes_the_clis_file(tmp_path):
    from hetier.cli.main import main

    assert main(["export-model", "cryptonets", "--seed", "3", "-o", str(tmp_path / "cli.onnx")]) == 0
    got = hetier.export_model("cryptonets", tmp_path / "api.onnx", seed=3)
    assert (tmp_path / "api.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    assert got.nbytes == (tmp_path / "api.onnx").stat().st_size and got.model == "cryptonets"


def test_fit_via_the_api_writes_the_clis_profile(tmp_path):
    from hetier.cli.main import main

    runs = tmp_path / "runs.csv"
    runs.write_text("model,width,resolution,batch,poly_modulus,primes,machine,policy,threads,peak_gb,seconds\n"
                    "mlp,,,8,8192,30;22;22;22;30,dram-only,all-dram,4,0.1,0.15\n"
                    "mlp,,,8,8192,30;22;22;22;30,optane-appdirect,all-pmem,4,0.1,0.2\n")
    assert main(["fit", str(runs), "--stack", "hetier", "--free", "compute_scale", "-o", str(tmp_path / "cli.toml")]) == 0
    got = hetier.fit(runs, stack="hetier", free=["compute_scale"], output=tmp_path / "api.toml")
    body = lambda p: [l for l in p.read_text().splitlines() if "Generated by" not in l]  # noqa: E731
    assert body(tmp_path / "api.toml") == body(tmp_path / "cli.toml")
    assert "Generated by `hetier.fit('runs.csv', stack='hetier')`" in (tmp_path / "api.toml").read_text()
    assert got.table().column("measured_s").to_pylist() == [0.15, 0.2]
    assert got.loo_rms_error is None  # one configuration: nothing to leave out


def test_the_measuring_wrappers_refuse_bad_input_before_working(tmp_path):
    with pytest.raises(hetier.UsageError, match="cannot fit nope"):
        hetier.fit(free=["nope"])
    with pytest.raises(hetier.UsageError, match="model option\\(s\\) depht unknown"):
        hetier.export_model("resnet", tmp_path / "r.onnx", depht=18)
    with pytest.raises(hetier.UsageError, match="must look like N:PRIMES:BATCH"):
        hetier.calibrate(tmp_path / "c.json", ["4096"])
    with pytest.raises(hetier.UsageError, match="must end in .csv or .json"):
        hetier.confirm(TRACE, "host.toml", output=tmp_path / "runs.txt")
    assert not list(tmp_path.iterdir())
