"""Files damaged inside (not just cut short) and option values that mean nothing: one line naming the
problem and a non-zero exit, never a traceback, never an exit 0 that did nothing or lost a file."""

from pathlib import Path

import pytest

from tests.cli.test_sweep import TRACE
from tests.helpers import run_cli as run


def _one_line_or_ok(argv: list[str], capsys) -> tuple[int, str]:
    """Run in-process; an exception escaping the CLI fails the test (it would be a traceback)."""
    code, _, err = run(argv, capsys)
    assert code == 0 or err.count("\n") == 1, err
    return code, err


def test_a_trace_zeroed_anywhere_is_refused_in_one_line(tmp_path, capsys):
    """64 zero bytes at every 16-byte step of the CryptoNets sample: a batch whose buffers no longer
    hold its columns used to reach numpy and end in a traceback (buffer is smaller than requested)."""
    data = Path(TRACE).read_bytes()
    bad = tmp_path / "bad.arrow"
    corrupt = 0
    for off in range(0, len(data) - 64, 16):
        b = bytearray(data)
        b[off:off + 64] = bytes(64)
        bad.write_bytes(b)
        code, err = _one_line_or_ok(["info", str(bad)], capsys)
        corrupt += "is corrupt" in err
    assert corrupt > 0


def test_a_results_file_flipped_anywhere_is_refused_in_one_line(tmp_path, capsys):
    """4 inverted bytes at every 64-byte step of a replay's results: short buffers, column names that
    are not UTF-8 and unreadable types used to end in tracebacks (info, report, export)."""
    res = tmp_path / "r.arrow"
    code, _, err = run(["replay", TRACE, "--machine", "optane-appdirect,dram-only", "--policy", "all-dram,all-pmem",
                        "-o", str(res)], capsys)
    assert code == 0, err
    data = res.read_bytes()
    bad = tmp_path / "bad.arrow"

    def damaged(off: int) -> str:
        b = bytearray(data)
        for j in range(4):
            b[off + j] ^= 0xFF
        bad.write_bytes(b)
        return str(bad)

    corrupt = [off for off in range(0, len(data) - 4, 64) if "are corrupt" in _one_line_or_ok(["info", damaged(off)], capsys)[1]]
    assert corrupt
    for off in corrupt:  # the same damage read by the other verbs that take results
        _one_line_or_ok(["report", TRACE, damaged(off), "--format", "text"], capsys)
        _one_line_or_ok(["export", damaged(off), "--format", "csv", "-o", str(tmp_path / "x.csv"), "--force"], capsys)


@pytest.mark.parametrize("value", [",", " , ", ",,"])
def test_an_override_with_no_value_is_refused(value, tmp_path, capsys):
    out = tmp_path / "r.arrow"
    code, _, err = run(["replay", TRACE, "--machine", "optane-appdirect", "--policy", "all-dram",
                        "--set", f"dram.capacity_gb={value}", "-o", str(out)], capsys)
    assert code == 2 and "gives no value" in err and err.count("\n") == 1, err
    assert not out.exists()


def test_a_sweep_vary_with_no_value_is_refused(tmp_path, capsys):
    code, _, err = run(["sweep", TRACE, "--machine", "optane-appdirect", "--policy", "all-dram",
                        "--vary", "dram.capacity_gb=,", "-o", str(tmp_path / "s")], capsys)
    assert code == 2 and "gives no value" in err, err


def test_advise_refuses_one_file_for_both_outputs(tmp_path, capsys):
    same = tmp_path / "same.json"
    code, _, err = run(["advise", TRACE, "--machine", "optane-appdirect", "--no-bisect",
                        "-o", str(same), "--advice", str(same)], capsys)
    assert code == 2 and "different names" in err and err.count("\n") == 1, err
    assert not same.exists()


@pytest.mark.parametrize("within", ["nan", "-1", "inf", "1e400", "101"])
def test_sweep_refuses_a_tolerance_that_is_not_one(within, tmp_path, capsys):
    code, _, err = run(["sweep", TRACE, "--machine", "optane-appdirect", "--policy", "all-dram", "--workers", "1",
                        "--within", within, "--json", "-o", str(tmp_path / "s")], capsys)
    assert code == 2 and "--within" in err and err.count("\n") == 1, err
    assert not (tmp_path / "s").exists()


def test_a_stack_override_given_twice_is_refused(capsys):
    code, _, err = run(["replay", TRACE, "--machine", "optane-appdirect", "--stack-set", "compute_scale=2",
                        "--stack-set", "compute_scale=3"], capsys)
    assert code == 2 and "compute_scale given twice" in err, err


def test_a_plan_refuses_a_host_preset(tmp_path, capsys):
    """A plan never reads this host's memory preset: naming one (even a missing file) is a mistake."""
    out = tmp_path / "p.arrow"
    code, _, err = run(["trace", "mlp", "--mode", "plan", "--batch", "8", "--host-preset",
                        str(tmp_path / "missing.toml"), "-o", str(out)], capsys)
    assert code == 2 and "--host-preset is for --mode real" in err, err
    assert not out.exists()


def test_info_refuses_a_negative_layer_count(capsys):
    code, _, err = run(["info", TRACE, "--layers", "-1"], capsys)
    assert code == 2 and "--layers -1" in err, err


def test_a_real_run_refuses_max_events(tmp_path, capsys):
    """--max-events bounds a plan; a real run used to ignore it without a word."""
    out = tmp_path / "t.arrow"
    code, _, err = run(["trace", "mlp", "--batch", "8", "--max-events", "5", "-o", str(out)], capsys)
    assert code == 2 and "--max-events is for --mode plan" in err and err.count("\n") == 1, err
    assert not out.exists()


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """One finished sweep of the CryptoNets sample (two configurations), copied by each test."""
    from hetier.cli.main import main

    d = tmp_path_factory.mktemp("sweep") / "S"
    assert main(["sweep", TRACE, "--machine", "optane-appdirect", "--policy", "all-dram", "--workers", "1",
                 "-o", str(d)]) == 0
    return d


def _damage_table(path: Path, change) -> None:
    import pyarrow.parquet as pq

    pq.write_table(change(pq.read_table(path)), path)


def _as_text(t, name):
    import pyarrow as pa

    i = t.schema.get_field_index(name)
    return t.set_column(i, name, pa.array([None if v is None else str(v) for v in t.column(name).to_pylist()]))


SWEEP_DAMAGE = {
    "no status": ("configs.parquet", lambda t: t.drop(["status"]), "no column status"),
    "no time": ("configs.parquet", lambda t: t.drop(["time_s"]), "a finished configuration without a time"),
    "time as text": ("configs.parquet", lambda t: _as_text(t, "time_s"), "column time_s holds string"),
    "threads as text": ("configs.parquet", lambda t: _as_text(t, "threads"), "column threads holds string"),
    "layers without names": ("layers.parquet", lambda t: t.drop(["name"]), "no column name"),
}


@pytest.mark.parametrize("case", SWEEP_DAMAGE, ids=list(SWEEP_DAMAGE))
def test_a_sweep_directory_with_a_damaged_table_is_refused_in_one_line(case, finished_sweep, tmp_path, capsys):
    """A sweep table that still reads as Parquet but lacks a column or holds another type used to end
    in a traceback (KeyError, TypeError, rich's NotRenderableError) in info and report."""
    import shutil

    name, change, words = SWEEP_DAMAGE[case]
    s = tmp_path / "S"
    shutil.copytree(finished_sweep, s)
    _damage_table(s / name, change)
    for argv in (["info", str(s)], ["report", str(s), "--format", "text"],
                 ["export", str(s), "--format", "csv", "-o", str(tmp_path / "x.csv")]):
        code, err = _one_line_or_ok(argv, capsys)
        assert code != 0 and words in err, (argv, err)


def test_a_sweep_table_swapped_for_the_other_is_refused(finished_sweep, tmp_path, capsys):
    """layers.parquet copied over configs.parquet used to export its layer rows as runs, exit 0."""
    import shutil

    s = tmp_path / "S"
    shutil.copytree(finished_sweep, s)
    shutil.copy(s / "layers.parquet", s / "configs.parquet")
    code, err = _one_line_or_ok(["export", str(s), "--format", "csv", "-o", str(tmp_path / "x.csv")], capsys)
    assert code != 0 and "damaged configs.parquet" in err, err
    assert not (tmp_path / "x.csv").exists()


def test_a_resumed_sweep_runs_a_damaged_part_again(finished_sweep, tmp_path, capsys):
    """A row part without its status was counted as done and crashed the resume while it wrote the
    tables (leaving a configs.parquet that crashed every later reader)."""
    import shutil

    s = tmp_path / "S"
    shutil.copytree(finished_sweep, s)
    (s / "configs.parquet").unlink()
    part = sorted((s / "parts").glob("*.row.parquet"))[0]
    _damage_table(part, lambda t: t.drop(["status"]))
    code, _, err = run(["sweep", TRACE, "--machine", "optane-appdirect", "--policy", "all-dram", "--workers", "1",
                        "-o", str(s)], capsys)
    assert code == 0 and "row part damaged (no column status); it runs again" in err, err
    code, _, err = run(["info", str(s)], capsys)
    assert code == 0, err


def test_a_results_file_with_one_bad_field_is_named_by_info_and_export(tmp_path, capsys):
    """A results file whose header is right but one run's field is wrong was called "not a trace"."""
    import json

    import pyarrow.ipc as ipc

    res, bad = tmp_path / "r.arrow", tmp_path / "bad.arrow"
    assert run(["replay", TRACE, "--machine", "optane-appdirect", "--policy", "all-dram", "-o", str(res)], capsys)[0] == 0
    t = ipc.open_file(str(res)).read_all()
    meta = dict(t.schema.metadata)
    head = json.loads(meta[b"hetier"])
    head["runs"][0]["fits"] = "maybe"
    meta[b"hetier"] = json.dumps(head).encode()
    t = t.replace_schema_metadata(meta)
    with ipc.new_file(str(bad), t.schema) as w:
        w.write_table(t)
    for argv in (["info", str(bad)], ["export", str(bad), "--format", "csv", "-o", str(tmp_path / "x.csv")]):
        code, err = _one_line_or_ok(argv, capsys)
        assert code != 0 and "runs[0].fits must be true or false" in err, err


@pytest.mark.parametrize("flag", ["--advice", "-o"])
def test_advise_refuses_an_empty_output_name(flag, tmp_path, capsys):
    """``-o ""`` used to write the default name beside the trace, ``--advice ""`` nothing, both exit 0."""
    import shutil

    trace = tmp_path / "t.arrow"
    shutil.copy(TRACE, trace)
    code, _, err = run(["advise", str(trace), "--machine", "optane-appdirect", "--no-bisect", flag, ""], capsys)
    assert code == 2 and "output name is empty" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.arrow"]


def test_fit_refuses_an_empty_output_name(tmp_path, capsys):
    csv = tmp_path / "runs.csv"
    csv.write_text("model,width,resolution,batch,poly_modulus,primes,machine,policy,threads,peak_gb,seconds\n"
                   "mobilenetv2,0.35,96,2048,4096,30;22;22;30,ref-dram-only,all-dram,48,71,665\n")
    code, _, err = run(["fit", str(csv), "--stack", "he-transformer", "--no-loo", "--free", "compute_scale", "-o", ""],
                       capsys)
    assert code == 2 and "output name is empty" in err, err


def test_a_placement_whose_version_is_text_says_so(tmp_path, capsys):
    """"version": "1" used to read as "has placement format 1; this hetier reads 1"."""
    import json

    p = tmp_path / "p.json"
    assert run(["advise", TRACE, "--machine", "optane-appdirect", "--no-bisect", "-o", str(p)], capsys)[0] == 0
    d = json.loads(p.read_text())
    d["version"] = "1"
    p.write_text(json.dumps(d))
    code, _, err = run(["replay", TRACE, "--machine", "optane-appdirect", "--policy", f"placement:{p}"], capsys)
    assert code != 0 and "version that is not a whole number ('1')" in err and err.count("\n") == 1, err
