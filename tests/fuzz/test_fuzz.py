"""Every verb on crafted and generated inputs ends, within a time limit, in success or a one-line
error (non-zero exit), with no traceback and no stray files.

Quick by default (part of `make test`); `make fuzz` sets HETIER_FUZZ=long for at least 500
generated inputs per verb and writes out/fuzz-report.json (inputs, tracebacks, hangs, stray files,
peak memory per verb).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import harness
from tests.fuzz.strategies import (ROOT, cost_docs, good_meta, machine_texts, mutated, overrides, trace_argvs,
                                   trace_files, write_raw_trace)
from tests.helpers import GOOD_ROWS, rows_to_batch

LONG = os.environ.get("HETIER_FUZZ") == "long"
EXAMPLES = int(os.environ.get("HETIER_FUZZ_EXAMPLES", 500 if LONG else 6))
CORPUS = Path(__file__).parent / "corpus"
TIMEOUT = 30.0
LIMIT_MB = 6144  # address space of one run: a runaway ends in MemoryError, not in the host's OOM killer
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG, database=None,
                suppress_health_check=list(HealthCheck))

TRACE_VERBS = {  # verb -> argv after the trace file, and the output it may write
    "info": ([], ()),
    "check": ([], ()),
    "report": (["--format", "text"], ()),
    "report-html": (["-o", "r.html"], ("r.html",)),
    "export-parquet": (["--format", "parquet", "-o", "e.parquet"], ("e.parquet",)),
    "export-perfetto": (["--format", "perfetto", "-o", "e.json"], ("e.json",)),
    "replay": (["--machine", "dram-only,optane-memory-mode", "--policy", "all-dram,dram-first", "-o", "res.arrow"],
               ("res.arrow",)),
}


def _run(tally, argv, cwd, outputs=(), verb=None, timeout=TIMEOUT):
    o = harness.run(argv, cwd, timeout, outputs, LIMIT_MB)
    problem = tally.add(o, verb)
    assert problem is None, f"{problem}: hetier {' '.join(map(repr, argv))}\nstderr: {o.stderr[-2000:]}"
    return o


def _workdir():
    return Path(tempfile.mkdtemp(prefix="hetier-fuzz-"))


@contextlib.contextmanager
def _corpus_workdir(*names: str):
    """A fresh work folder holding copies of corpus files; removed afterwards."""
    d = _workdir()
    try:
        for name in names:
            shutil.copy(CORPUS / name, d / name)
        yield d
    finally:
        shutil.rmtree(d)


# --- the corpus (crafted files) --------------------------------------------------------------

CORPUS_TRACES = sorted(p.name for p in CORPUS.glob("*") if p.suffix in (".arrow", ".partial")
                       and not p.name.startswith("results-"))


@pytest.mark.parametrize("name", CORPUS_TRACES)
@pytest.mark.parametrize("verb", list(TRACE_VERBS))
def test_corpus_trace(tally, verb, name):
    with _corpus_workdir(name) as d:
        extra, outputs = TRACE_VERBS[verb]
        _run(tally, [verb.split("-")[0], name, *extra], d, outputs, verb)


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.toml")))
def test_corpus_machine(tally, name):
    with _corpus_workdir(name, "good.arrow") as d:
        o = _run(tally, ["replay", "good.arrow", "--machine", name], d)
        assert o.code != 0 and name in o.stderr  # every crafted machine is wrong, and the error names it


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("costs-*.json")))
def test_corpus_cost_file(tally, name):
    with _corpus_workdir(name) as d:
        o = _run(tally, ["trace", "mlp", "--mode", "plan", "--activation", "relu", "--primes", "30,22,30",
                         "--cost-file", name, "-o", "t.arrow"], d, ("t.arrow",))
        assert o.code != 0 and name in o.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("results-*.arrow")))
@pytest.mark.parametrize("verb", ["report", "export"])
def test_corpus_results(tally, verb, name):
    with _corpus_workdir(name, "good.arrow") as d:
        argv = ["report", "good.arrow", name, "--format", "text"] if verb == "report" else \
            ["export", "good.arrow", name, "--format", "perfetto", "-o", "e.json"]
        o = _run(tally, argv, d, ("e.json",))
        assert o.code != 0


def test_outputs_that_are_links_or_fifos(tally):
    d = _workdir()
    try:
        shutil.copy(CORPUS / "good.arrow", d / "good.arrow")
        (d / "victim.txt").write_text("keep")
        os.symlink("victim.txt", d / "o.parquet.partial")
        os.symlink("victim.txt", d / "o2.parquet")
        os.mkfifo(d / "o.html")
        _run(tally, ["export", "good.arrow", "--format", "parquet", "-o", "o.parquet"], d, ("o.parquet",))
        o = _run(tally, ["export", "good.arrow", "--format", "parquet", "-o", "o2.parquet", "--force"], d)
        assert "symbolic link" in o.stderr
        o = _run(tally, ["report", "good.arrow", "-o", "o.html", "--force"], d)
        assert "not a regular file" in o.stderr
        assert (d / "victim.txt").read_text() == "keep" and not (d / "o.html").is_file()
    finally:
        shutil.rmtree(d)


# --- generated inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("verb", list(TRACE_VERBS))
def test_generated_traces(tally, verb):
    @FUZZ
    @given(data=st.data())
    def one(data):
        d = _workdir()
        try:
            data.draw(trace_files(d / "f.arrow"))
            extra, outputs = TRACE_VERBS[verb]
            _run(tally, [verb.split("-")[0], "f.arrow", *extra], d, outputs, verb)
        finally:
            shutil.rmtree(d)

    one()


def test_generated_machines_and_overrides(tally):
    @FUZZ
    @given(text=machine_texts(), sets=overrides(), threads=st.sampled_from(["1", "4", "0", "-2", "5000", "24"]))
    def one(text, sets, threads):
        d = _workdir()
        try:
            shutil.copy(CORPUS / "good.arrow", d / "good.arrow")
            (d / "m.toml").write_text(text)
            _run(tally, ["replay", "good.arrow", "--machine", "m.toml,dram-only", *sets, "--threads", threads,
                         "--policy", "all-dram,interleave:0.5"], d, verb="replay-machines")
        finally:
            shutil.rmtree(d)

    one()


def test_generated_trace_command_lines(tally):
    @FUZZ
    @given(argv=trace_argvs(), costs=cost_docs())
    def one(argv, costs):
        d = _workdir()
        try:
            (d / "costs.json").write_text(json.dumps(costs))
            out = argv[argv.index("-o") + 1]
            outputs = (out.split("/")[0],) if out else ()
            _run(tally, argv, d, outputs, timeout=120.0)
        finally:
            shutil.rmtree(d)

    one()


def test_generated_results_metadata(tally):
    d0 = _workdir()
    shutil.copy(CORPUS / "good.arrow", d0 / "good.arrow")
    _run(tally, ["replay", "good.arrow", "--machine", "dram-only", "-o", "res.arrow"], d0, ("res.arrow",))
    import pyarrow as pa

    with pa.memory_map(str(d0 / "res.arrow")) as src:
        table = pa.ipc.open_file(src).read_all()
    meta = json.loads(table.schema.metadata[b"hetier"])

    @FUZZ
    @given(m=mutated(meta, 3), verb=st.sampled_from(["report", "export"]))
    def one(m, verb):
        d = _workdir()
        try:
            shutil.copy(d0 / "good.arrow", d / "good.arrow")
            t = table.replace_schema_metadata({b"hetier": json.dumps(m).encode()})
            with pa.OSFile(str(d / "r.arrow"), "wb") as f, pa.ipc.new_file(f, t.schema) as w:
                w.write_table(t)
            argv = ["report", "good.arrow", "r.arrow", "--format", "text"] if verb == "report" else \
                ["export", "good.arrow", "r.arrow", "--format", "perfetto", "-o", "e.json"]
            _run(tally, argv, d, ("e.json",), verb=f"{verb}-results")
        finally:
            shutil.rmtree(d)

    try:
        one()
    finally:
        shutil.rmtree(d0)


CALIBRATE_ARGS = st.lists(st.sampled_from([
    ["--reps", "0"], ["--reps", "-1"], ["--reps", "abc"], ["--reps", "10000000"], ["--params", "4096:30,22,30"],
    ["--params", "5000:30,22,30:8"], ["--params", "4096:30,22,30:0"], ["--params", "4096:30,22,30:99999"],
    ["--params", "::"], ["--params", "4096:99,99:8"], ["-o", ""], ["-o", "sub/x/c.json"], ["--force"], ["--bogus"],
]), max_size=3)


def test_generated_calibrate_and_machines_command_lines(tally):
    @FUZZ
    @given(parts=CALIBRATE_ARGS, listing=st.sampled_from([[], ["--devices"], ["--bogus"], ["x"]]))
    def one(parts, listing):
        d = _workdir()
        try:
            argv = ["calibrate", "--he", "-o", "c.json", "--reps", "0", *[a for p in parts for a in p]]
            _run(tally, argv, d, ("c.json", "sub"), timeout=120.0)
            _run(tally, ["machines", *listing], d)
        finally:
            shutil.rmtree(d)

    one()


def test_stray_files_are_detected():
    """The harness itself: a file left behind is reported (so zero stray files means something)."""
    d = _workdir()
    try:
        write_raw_trace(d / "g.arrow", good_meta(), rows_to_batch(GOOD_ROWS))
        o = harness.run(["export", "g.arrow", "--format", "parquet", "-o", "p.parquet"], d, TIMEOUT)
        assert o.code == 0 and o.stray == ["p.parquet"] and o.problem().startswith("stray files")
    finally:
        shutil.rmtree(d)
