"""`hetier report` and `hetier export` through main([...])."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hetier.cli.main import main
from tests.helpers import run_cli as run, truncated_tiny

TRACES = Path(__file__).resolve().parents[2] / "traces"
CRYPTONETS = str(TRACES / "cryptonets-b64.tensor.arrow")
MLP = str(TRACES / "mlp-relu-b8.ciphertext.arrow")


def _ratio(results: str, policy: str) -> float:
    """Makespan of ``policy``'s run over the all-dram run's, from the results file itself."""
    from hetier.formats.results import load_results

    runs, _ = load_results(results)
    t = {r["policy"]: r["makespan_ns"] for r in runs if r["makespan_ns"]}
    return t[policy] / t["all-dram"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    p = tmp_path_factory.mktemp("r") / "r.arrow"
    assert main(["replay", CRYPTONETS, "--machine", "dram-only,optane-appdirect,optane-memory-mode",
                 "--policy", "all-pmem,dram-first", "--set", "optane-appdirect:dram.capacity_gb=1",
                 "--set", "optane-memory-mode:dram.capacity_gb=1", "-o", str(p)]) == 0
    return str(p)


def test_html_report(tmp_path, results, capsys):
    out = tmp_path / "report.html"
    code, stdout, err = run(["report", CRYPTONETS, results, "-o", str(out)], capsys)
    assert code == 0, err
    page = out.read_text()
    assert "Peak 2.01 GB live at layer square_1" in page
    assert "Against dram-only / all-dram: " in page
    assert f"optane-memory-mode / memory-mode {_ratio(results, 'memory-mode'):.2f}x" in page
    assert "Best: dram-only / all-dram" in page and "% ahead of " in page
    # 8 views + per fitting run one per-layer split and one busy-threads curve
    assert page.count('class="plotly-graph-div"') == 8 + 4 * 2
    assert "<h2>Per layer: optane-memory-mode / memory-mode</h2>" in page
    assert "<h2>Busy threads: optane-memory-mode / memory-mode</h2>" in page
    assert "<script src=" not in page and "<link " not in page  # self-contained: plotly.js is inline
    assert out.stat().st_size > 3e6
    assert out.stat().st_size < 20e6
    assert "wrote" in stdout
    code, _, err = run(["report", CRYPTONETS, results, "-o", str(out)], capsys)
    assert code == 2 and "exists (use --force" in err


def test_text_report(results, capsys):
    code, out, _ = run(["report", CRYPTONETS, results, "--format", "text"], capsys)
    assert code == 0
    assert "90% of the" in out and "memory-mode" in out and f"{_ratio(results, 'all-pmem'):.2f}x" in out


def test_results_of_another_trace_are_refused(results, capsys):
    code, _, err = run(["report", MLP, results, "--format", "text"], capsys)
    assert code == 1
    assert "belong to trace 'cryptonets-b64.tensor.arrow'" in err and "not to 'mlp-relu-b8.ciphertext.arrow'" in err


def test_truncated_trace_is_reported_as_such(tmp_path, capsys):
    cut = truncated_tiny(tmp_path)
    code, out, _ = run(["report", cut, "--format", "text"], capsys)
    assert code == 0
    assert out.splitlines()[0].startswith("- Truncated trace: trace")


def test_perfetto_export_structure(tmp_path, results, capsys):
    out = tmp_path / "t.json"
    code, stdout, err = run(["export", CRYPTONETS, results, "--format", "perfetto", "-o", str(out)], capsys)
    assert code == 0, err
    events = json.loads(out.read_text())["traceEvents"]
    assert all("ph" in e and "pid" in e for e in events)
    slices = [e for e in events if e["ph"] == "X"]
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in slices)
    recorded = [e["name"] for e in slices if e["pid"] == 1]
    assert recorded == ["input", "conv2d_1", "square_1", "flatten_1", "dense_1", "square_2", "dense_2", "teardown"]
    begins = {e["id"] for e in events if e["ph"] == "b"}
    ends = {e["id"] for e in events if e["ph"] == "e"}
    assert begins == ends and len(begins) > 10
    counters = [e for e in events if e["ph"] == "C"]
    assert all(all(isinstance(v, float) for v in e["args"].values()) for e in counters)
    procs = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert "simulated: optane-appdirect / dram-first" in procs and "recorded run" in procs
    tier = [e for e in counters if e["name"] == "live bytes per tier (B)" and e["pid"] > 1]
    assert max(e["args"]["dram"] for e in tier if "pmem" in e["args"]) <= 1e9 + 1  # 1 GB of DRAM
    assert all(list(e["args"]) == ["dram", "pmem"] for e in tier if "pmem" in e["args"])  # fast tier first
    # run j is process 2 + j; its per-tier counters are the results' per-op live bytes (once the op
    # has allocated, at its start; after its frees, at its end), and their maxima its peak bytes
    from hetier.analysis.comparison import load_comparison

    comp = load_comparison([results])
    rows = {id(r): cols for r, cols in comp.run_layers()}
    assert len(rows) == 4  # the runs that fit
    for j, r in enumerate(comp.runs):
        got = [(e["ts"], e["args"]) for e in tier if e["pid"] == 2 + j]
        cols = rows.get(id(r))
        if cols is None:
            assert got == [] and r["makespan_ns"] is None
            continue
        want = []
        for i, (t0, t1) in enumerate(zip(cols["start_ns"], cols["end_ns"])):
            for ts, at in ((t0, "live_peak_bytes"), (t1, "live_end_bytes")):
                want.append((round(ts / 1e3, 3), {t: float(cols[f"{at}_{t}"][i]) for t in list(got[0][1])}))
        assert got == want
        assert {t: max(a[t] for _, a in got) for t in r["peak_bytes"]} == r["peak_bytes"]


def test_perfetto_tier_counters_are_read_from_the_results(tmp_path, capsys):
    # a results file whose live-byte columns say something the trace cannot: the export shows it
    # as written, and runs without importing the simulator (no placement is redone)
    import subprocess
    import sys

    import pyarrow as pa

    from tests.helpers import GOOD_ROWS, write_tiny

    trace = write_tiny(tmp_path / "t.arrow", GOOD_ROWS)
    res = tmp_path / "r.arrow"
    assert main(["replay", trace, "--machine", "optane-appdirect", "--policy", "all-pmem", "-o", str(res)]) == 0
    with pa.memory_map(str(res)) as src:
        table = pa.ipc.open_file(src).read_all()
    for k, c in enumerate(table.column_names):
        if c.startswith("live_"):
            table = table.set_column(k, c, pa.array([1000 * k + i for i in range(table.num_rows)]))
    with pa.OSFile(str(res), "wb") as f, pa.ipc.new_file(f, table.schema) as w:
        w.write_table(table)
    out = tmp_path / "e.json"
    code = (f"import sys; from hetier.analysis.export import write_perfetto; "
            f"from hetier.formats.identity import trace_identity; from hetier.formats.trace import TraceReader; "
            f"meta = TraceReader({trace!r}).meta; "
            f"write_perfetto({trace!r}, [{str(res)!r}], {str(out)!r}, trace_identity({trace!r}, meta)['sha256']); "
            "print(sorted(m for m in sys.modules if m.startswith(('hetier.simulator', 'simpy'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]"]
    events = json.loads(out.read_text())["traceEvents"]
    got = [e["args"] for e in events if e["name"] == "live bytes per tier (B)"]
    col = {c: table.column(c).to_pylist() for c in table.column_names}
    assert got == [{t: float(col[f"{at}_{t}"][i]) for t in ("dram", "pmem")}
                   for i in range(2) for at in ("live_peak_bytes", "live_end_bytes")]


def test_parquet_export(tmp_path, capsys):
    out = tmp_path / "t.parquet"
    code, _, err = run(["export", MLP, "--format", "parquet", "-o", str(out)], capsys)
    assert code == 0, err
    t = pq.read_table(out)
    assert t.num_rows == 32201
    assert t.column("event").to_pylist()[:2] == ["op_begin", "alloc"]


@pytest.mark.parametrize("argv", [["report", "{t}", "-o", "{o}.html"], ["report", "{t}", "--format", "text"],
                                  ["export", "{t}", "--format", "perfetto", "-o", "{o}.json"],
                                  ["export", "{t}", "--format", "parquet", "-o", "{o}.parquet"]])
def test_trace_without_events_is_refused_without_output(tmp_path, capsys, argv):
    from hetier.formats.trace import TraceWriter
    from tests.helpers import tiny_meta

    empty = tmp_path / "empty.arrow"
    TraceWriter(empty, tiny_meta()).close()
    cut = tmp_path / "cut.arrow"
    cut.write_bytes(Path(CRYPTONETS).read_bytes()[:3000])  # the schema, no complete batch
    for trace, why in ((empty, "ends without events"), (cut, "truncated before its first batch (no complete batch)")):
        code, out, err = run([a.format(t=trace, o=tmp_path / "out") for a in argv], capsys)
        assert code == 1 and len(err.strip().splitlines()) == 1
        assert why in err and "no events to show" in err
        assert not list(tmp_path.glob("out*"))


def _rewritten_results(results: str, path, edit_meta, edit_table=lambda t: t) -> str:
    """A copy of a results file at ``path`` with its metadata changed in place by ``edit_meta``
    (and its columns by ``edit_table``): older or damaged results files as a reader meets them."""
    import pyarrow as pa

    with pa.memory_map(results) as src:
        table = pa.ipc.open_file(src).read_all()
    meta = json.loads(table.schema.metadata[b"hetier"])
    edit_meta(meta)
    t = edit_table(table).replace_schema_metadata({b"hetier": json.dumps(meta).encode()})
    with pa.OSFile(str(path), "wb") as f, pa.ipc.new_file(f, t.schema) as w:
        w.write_table(t)
    return str(path)


@pytest.mark.parametrize("version, why", [(2, "has results format 2; this hetier reads 3"),
                                          (3, "lack column(s) live_peak_bytes_dram, live_end_bytes_dram")])
def test_results_without_live_bytes_are_refused_in_one_line(tmp_path, results, capsys, version, why):
    # as an older hetier wrote them (format 2: no per-op live bytes), or a format 3 file missing them
    path = _rewritten_results(results, tmp_path / "old.arrow", lambda meta: meta.update(version=version),
                              lambda t: t.drop_columns([c for c in t.column_names if c.startswith("live_")]))
    for argv in (["export", CRYPTONETS, str(path), "--format", "perfetto", "-o", str(tmp_path / "e.json")],
                 ["report", CRYPTONETS, str(path), "--format", "text"]):
        code, _, err = run(argv, capsys)
        assert code == 1 and len(err.strip().splitlines()) == 1 and why in err, err
    assert not (tmp_path / "e.json").exists()


@pytest.mark.parametrize("change, why", [
    ({"memory_needed": {"total_bytes": 1}}, "missing 'live_peak_bytes' in runs[0].memory_needed"),
    ({"memory_needed": {"total_bytes": "x", "live_peak_bytes": 1, "resident_peak_bytes": 1, "process_bytes": 1,
                        "fit_by": "live"}}, "runs[0].memory_needed.total_bytes"),
    ({"stack": "hetier"}, "runs[0].stack must be a table"),
    ({"scenario": [1]}, "runs[0].scenario must be a table"),
    ({"compute_ns": None}, "runs[0] has a makespan_ns but no compute_ns"),
    ({"overrides": 1}, "runs[0].overrides must be a table"),  # make fuzz: an AttributeError
    ({"notes": [1]}, "runs[0].notes must be a table"),  # make fuzz: a TypeError in the table
])
def test_results_with_a_damaged_run_summary_are_refused_in_one_line(tmp_path, results, capsys, change, why):
    # found by make fuzz: a run's memory_needed without fit_by ended `report` in a KeyError
    path = _rewritten_results(results, tmp_path / "damaged.arrow", lambda meta: meta["runs"][0].update(change))
    for argv in (["export", CRYPTONETS, str(path), "--format", "perfetto", "-o", str(tmp_path / "e.json")],
                 ["report", CRYPTONETS, str(path), "--format", "text"]):
        code, _, err = run(argv, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and why in err, err
    assert not (tmp_path / "e.json").exists()


def test_a_trace_without_the_optional_metadata_reports(tmp_path, capsys):
    """make fuzz FUZZ_EXAMPLES=500 found the HTML report reading meta['versions'] (a KeyError) of a
    trace that does not have it; versions and runtime are optional in the format."""
    from tests.helpers import GOOD_ROWS, tiny_meta, write_tiny

    meta = tiny_meta()
    for k in ("versions", "runtime"):
        meta.pop(k)
    trace = write_tiny(tmp_path / "t.arrow", GOOD_ROWS, meta)
    code, _, err = run(["report", trace, "-o", str(tmp_path / "r.html")], capsys)
    assert code == 0, err
    page = (tmp_path / "r.html").read_text()
    assert "Trace metadata" in page and "&quot;versions&quot;" not in page and "&quot;granularity&quot;" in page


def test_results_without_the_optional_cache_figures_report_and_export(tmp_path, results, capsys):
    """make fuzz FUZZ_EXAMPLES=500 found `report` reading a run's mm_hit_ratio (a KeyError) where
    the results schema makes it optional; mm_writeback_bytes likewise in exports and info."""
    def drop_cache_figures(meta):
        for r in meta["runs"]:
            r.pop("mm_hit_ratio")
            r.pop("mm_writeback_bytes")

    path = _rewritten_results(results, tmp_path / "old.arrow", drop_cache_figures)
    for argv in (["report", CRYPTONETS, str(path), "--format", "text"], ["info", str(path)],
                 ["export", CRYPTONETS, str(path), "--format", "perfetto", "-o", str(tmp_path / "e.json")],
                 ["report", CRYPTONETS, str(path), "-o", str(tmp_path / "r.html")]):
        code, out, err = run(argv, capsys)
        assert code == 0 and "Traceback" not in err, (argv, err)
