"""The surfaces issue 22 added to the fuzz suite: scheduler addresses, sweep files, damaged sweep
directories, placement and advice files, measured-runs CSVs (fit), stack files and --stack-set, advise and
confirm options, and every loader given a FIFO or a directory. Each generated input must end in
success or a one-line error, within the time limit, with no traceback and no stray file.

Quick by default (a few inputs per surface in `make test`); `make fuzz` runs >= 500 per surface.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import EDGE_FLOATS, EDGE_INTS, HOSTILE_TEXT, mutated
from hypothesis import settings

from tests.fuzz.test_fuzz import CORPUS, FUZZ, LONG, _run, _workdir

FUZZ = settings(FUZZ, max_examples=FUZZ.max_examples if LONG else 3)  # quick: 3 inputs per surface in make test

GOOD = CORPUS / "good.arrow"

# --- scheduler addresses -----------------------------------------------------------------------

SCHEMES = ["tcp://", "tls://", "http://", "inproc://", "ucx://", "ws://", "", "TCP://", "tcp:/", "tls:///"]
HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1", "192.0.2.7", "scheduler.example", "", "a" * 300, "[::1",
         "10.0.0.1", "0.0.0.0", "h\x00st", "host name", "-bad", "[fe80::1%eth0]", "127.0.0.1.", "é.example"]
PORTS = [":8786", ":0", ":65536", ":99999", ":-1", "", ":abc", ":1", ":65535", "::", ":8786/x", ":1e3"]
TLS_OPTS = st.lists(st.sampled_from([["--tls-ca", "ca.pem"], ["--tls-cert", "c.pem"], ["--tls-key", "k.pem"],
                                     ["--tls-ca", "nope.pem"], ["--tls-ca", "."], ["--insecure"],
                                     ["--task-timeout", "nan"], ["--task-timeout", "0"], ["--task-timeout", "1e9"]]),
                    max_size=4)


@st.composite
def addresses(draw) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=40))
    return draw(st.sampled_from(SCHEMES)) + draw(st.sampled_from(HOSTS)) + draw(st.sampled_from(PORTS))


def _would_connect(address: str, opts: list[str]) -> bool:
    """An address the checks accept would make the run wait for a real scheduler: skip those
    (the TLS test covers connecting)."""
    from hetier.errors import HetierError
    from hetier.simulator.dask_cluster import parse_scheduler

    flags = dict(zip(opts[::1], opts[1::1]))
    try:
        parse_scheduler(address, flags.get("--tls-ca"), flags.get("--tls-cert"), flags.get("--tls-key"),
                        "--insecure" in opts)
    except HetierError:
        return False
    return "--task-timeout" not in opts or all(v not in opts for v in ("nan", "0", "1e9"))


def test_generated_scheduler_addresses(tally):
    @FUZZ
    @given(address=addresses(), opts=TLS_OPTS)
    def one(address, opts):
        opts = [a for o in opts for a in o]
        if _would_connect(address, opts):
            return
        d = _workdir()
        try:
            shutil.copy(GOOD, d / "good.arrow")
            (d / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n")
            (d / "c.pem").write_text("x")
            (d / "k.pem").write_text("")
            o = _run(tally, ["sweep", "good.arrow", "--machine", "dram-only", "--workers", "1", "-o", "s",
                             "--scheduler", address, *opts], d, verb="sweep-scheduler")
            assert o.code != 0
        finally:
            shutil.rmtree(d)

    one()


# --- sweep files ----------------------------------------------------------------------------------

TOML_VALUES = ['"dram-only"', '["dram-only"]', '["dram-only", "optane-appdirect"]', "[1, 8]", "[0]", "[1e9]",
               '["8"]', "1", '"x"', "[]", "{}", '{ "dram.capacity_gb" = "1:3:1" }', '{ "dram.capacity_gb" = "1:nan:1" }',
               '{ "dram.capacity_gb" = [1, 2] }', '{ "x" = 1 }', '{ "optane-appdirect:dram.capacity_gb" = 2 }',
               '{ "dram.capacity_gb" = "1:100000:1" }', '{ "dram.capacity_gb" = 1e308 }', '["all-dram", "interleave"]',
               '["nope"]', '["good.arrow"]', '["missing.arrow"]', '["fifo.arrow"]', "true", "-1", "nan", "inf"]
SWEEP_KEYS = ["traces", "machines", "policies", "threads", "set", "vary", "description", "bogus", "machine"]


@st.composite
def sweep_files(draw) -> str:
    lines = ['traces = ["good.arrow"]', 'machines = ["dram-only"]']
    for _ in range(draw(st.integers(0, 4))):
        lines.append(f"{draw(st.sampled_from(SWEEP_KEYS))} = {draw(st.sampled_from(TOML_VALUES))}")
    if draw(st.integers(0, 5)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(HOSTILE_TEXT + ["[[x]]", "= 1", "a.b.c = 1"])))
    return "\n".join(lines) + "\n"


def test_generated_sweep_files(tally):
    @FUZZ
    @given(text=sweep_files())
    def one(text):
        d = _workdir()
        try:
            shutil.copy(GOOD, d / "good.arrow")
            os.mkfifo(d / "fifo.arrow")
            (d / "s.toml").write_bytes(text.encode("utf-8", "surrogatepass"))  # lone surrogates: not UTF-8
            _run(tally, ["sweep", "--file", "s.toml", "--workers", "1", "-o", "out"], d, ("out",), verb="sweep-file")
        finally:
            shutil.rmtree(d)

    one()


# --- damaged sweep directories --------------------------------------------------------------------

@pytest.fixture(scope="module")
def sweep_dir(tally):
    d = _workdir()
    shutil.copy(GOOD, d / "good.arrow")
    _run(tally, ["sweep", "good.arrow", "--machine", "dram-only", "--threads", "1,2", "--workers", "1", "-o", "out"],
         d, ("out",), verb="sweep-dir")
    yield d
    shutil.rmtree(d)


DAMAGE = ["truncate", "garbage", "empty", "swap", "link-part", "link-parts", "fifo-part", "partial", "remove-manifest",
          "bad-manifest", "dir-part", "error-link", "lock-file", "extra-file"]


def _damage(out: Path, how: str, data) -> None:
    parts = sorted(p for p in (out / "parts").glob("*.parquet") if p.is_file() and not p.is_symlink())
    victim = data.draw(st.sampled_from(parts)) if parts else None
    if how == "truncate" and victim:
        b = victim.read_bytes()
        victim.write_bytes(b[:data.draw(st.integers(0, max(0, len(b) - 1)))])
    elif how == "garbage" and victim:
        victim.write_bytes(data.draw(st.binary(max_size=200)))
    elif how == "empty" and victim:
        victim.write_bytes(b"")
    elif how == "swap" and len(parts) > 1:
        a, b = parts[0].read_bytes(), parts[-1].read_bytes()
        parts[0].write_bytes(b)
        parts[-1].write_bytes(a)
    elif how == "link-part" and victim:
        victim.unlink()
        victim.symlink_to(out.parent / "good.arrow")
    elif how == "link-parts":
        shutil.rmtree(out / "parts")
        (out / "parts").symlink_to(out.parent)
    elif how == "fifo-part" and victim:
        victim.unlink()
        os.mkfifo(victim)
    elif how == "partial":
        (out / "parts" / f"{data.draw(st.sampled_from(['x', 'abc.row.parquet']))}.k3j_x9a1.partial").write_bytes(b"h")
    elif how == "remove-manifest":
        (out / "sweep.json").unlink(missing_ok=True)
    elif how == "bad-manifest":
        (out / "sweep.json").write_text(data.draw(st.sampled_from(["{", "[]", '{"magic": "hetier-sweep"}', ""])))
    elif how == "dir-part" and victim:
        victim.unlink()
        victim.mkdir()
    elif how == "error-link":
        (out / "parts" / "0123456789abcdef.error").symlink_to(out.parent / "good.arrow")
    elif how == "lock-file":
        (out / "parts" / ".x.lock").write_text("")
    elif how == "extra-file":
        (out / "parts" / "notes.txt").write_text("mine")


def test_generated_sweep_directories(tally, sweep_dir):
    @FUZZ
    @given(hows=st.lists(st.sampled_from(DAMAGE), min_size=1, max_size=3), force=st.booleans(), data=st.data())
    def one(hows, force, data):
        d = _workdir()
        try:
            shutil.copy(GOOD, d / "good.arrow")
            shutil.copytree(sweep_dir / "out", d / "out", symlinks=True)
            for how in hows:
                if (d / "out" / "parts").is_dir() and not (d / "out" / "parts").is_symlink():
                    try:
                        _damage(d / "out", how, data)
                    except OSError:  # a damage that cannot apply after another (a link made twice)
                        pass
            before = (d / "good.arrow").read_bytes()
            _run(tally, ["sweep", "good.arrow", "--machine", "dram-only", "--threads", "1,2", "--workers", "1",
                         "-o", "out", *(["--force"] if force else [])], d, verb="sweep-dir")
            assert (d / "good.arrow").read_bytes() == before  # nothing written through a link
        finally:
            shutil.rmtree(d)

    one()


# --- placement files -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def placement(tally):
    from hetier.formats.placement import placement_document
    from hetier.simulator.workload import load_workload

    w = load_workload(str(GOOD))
    tensors = sorted({int(t) for op in w.ops for t in op.alloc_tensor.tolist()})
    return placement_document(w.trace_id, "optane-appdirect", "test", {t: "dram" for t in tensors},
                              {0: [(tensors[0], "pmem")]} if tensors else {})


def test_generated_placement_files(tally, placement):
    @FUZZ
    @given(doc=mutated(placement, 4), raw=st.integers(0, 9), junk=st.sampled_from(["[" * 50000, "{", "", "\x00", "[1]"]))
    def one(doc, raw, junk):
        d = _workdir()
        try:
            shutil.copy(GOOD, d / "good.arrow")
            (d / "p.json").write_text(junk if raw == 0 else json.dumps(doc))
            _run(tally, ["replay", "good.arrow", "--machine", "optane-appdirect", "--policy", "placement:p.json"], d,
                 verb="placement-file")
        finally:
            shutil.rmtree(d)

    one()


# --- advice files (report --advice) ----------------------------------------------------------------

@pytest.fixture(scope="module")
def advice():
    d = _workdir()
    try:
        # --tiering: the file also holds the per-op tiering columns of its Linux tiering and Flat
        # Memory Mode runs, which the mutations reach too. The base is made in this process, not
        # under the harness: a forked child's address-space limit counts what it inherits from this
        # process, which late in `make test` left advise --tiering short of memory (no a.json)
        from hetier.cli.main import main

        assert main(["advise", str(GOOD), "--machine", "optane-appdirect", "--tiering", "--no-bisect", "--advice",
                     str(d / "a.json"), "-o", str(d / "p.json")]) == 0
        return json.loads((d / "a.json").read_text())
    finally:
        shutil.rmtree(d)


def test_generated_advice_files(tally, advice):
    @FUZZ
    @given(doc=mutated(advice, 4), raw=st.integers(0, 9),
           junk=st.sampled_from(["[" * 50000, "{", "", "\x00", "[1]", '{"layers": [1]}'] + HOSTILE_TEXT[:3]),
           fmt=st.sampled_from(["text", "html"]))
    def one(doc, raw, junk, fmt):
        d = _workdir()
        try:
            shutil.copy(GOOD, d / "good.arrow")
            (d / "a.json").write_text(junk if raw == 0 else json.dumps(doc))
            _run(tally, ["report", "good.arrow", "--advice", "a.json", "--format", fmt,
                         *(["-o", "r.html"] if fmt == "html" else [])], d, ("r.html",), verb="advice-file",
                 timeout=60.0)
        finally:
            shutil.rmtree(d)

    one()


# --- measured-runs CSVs (fit) ----------------------------------------------------------------------

CSV_HEAD = "model,width,resolution,batch,poly_modulus,primes,machine,policy,threads,peak_gb,seconds"
CSV_ROW = ["mlp", "", "", "8", "8192", "30;22;22;22;30", "dram-only", "all-dram", "4", "0.1", "0.15"]
CELL = st.one_of(st.sampled_from(["", "nan", "inf", "-1", "0", "1e308", "1e-308", "32.7", "30,22", "abc", "x" * 5000,
                                  "\ufeff", '"', "mobilenetv2", "ref-dram-only", "8192", "30;22;30"]),
                 st.sampled_from([str(v) for v in EDGE_INTS + EDGE_FLOATS]), st.text(max_size=12))


@st.composite
def measured_csvs(draw) -> str:
    head = CSV_HEAD.split(",")
    if draw(st.integers(0, 6)) == 0:
        head.insert(draw(st.integers(0, len(head))), draw(st.sampled_from(["seconds", "model", "x", "", "options"])))
    rows = []
    for _ in range(draw(st.integers(0, 3))):
        row = list(CSV_ROW)
        for _ in range(draw(st.integers(0, 3))):
            row[draw(st.integers(0, len(row) - 1))] = draw(CELL)
        if draw(st.integers(0, 8)) == 0:
            row = row[:draw(st.integers(0, len(row)))]
        rows.append(",".join(row))
    bom = "\ufeff" if draw(st.integers(0, 8)) == 0 else ""
    return bom + ",".join(head) + "\n" + "\n".join(rows) + "\n"


def test_generated_measured_runs(tally):
    @FUZZ
    @given(text=measured_csvs(), free=st.sampled_from(["compute_scale", "compute_scale,compute_scale", "nope", "",
                                                        "compute_scale,serial_ns_per_output",
                                                        "compute_scale,teardown_ns_per_host_byte"]))
    def one(text, free):
        d = _workdir()
        try:
            (d / "m.csv").write_text(text)
            _run(tally, ["fit", "m.csv", "--stack", "hetier", "--free", free, "--no-loo", "-o", "f.toml"], d,
                 ("f.toml",), verb="fit-csv", timeout=120.0)
        finally:
            shutil.rmtree(d)

    one()


# --- stack files and --stack-set -------------------------------------------------------------------

STACK_KEYS = ["name", "description", "runtime_profile", "schedule", "compute_scale", "serial_ns_per_output",
              "teardown_ns_per_host_byte",
              "serial_output_kinds", "single_thread_kinds", "output_stationary_kinds", "source", "fit", "bogus"]
STACK_VALUES = ['"x"', '"a\\nb"', f'"{"n" * 300}"', '"reference"', '"hetier"', '"dataflow"', '"random"', "1", "0",
                "-1", "1e300", "1e-300", "nan", "inf", "1e6", "1e-6", "[]", '["conv2d"]', '["conv"]', '["maxpool", 1]',
                "{}", '{ a = 1 }', "true", '"\\u202e"']


@st.composite
def stack_inputs(draw) -> tuple[str, list[str]]:
    lines = ['name = "fuzz"']
    for _ in range(draw(st.integers(0, 4))):
        lines.append(f"{draw(st.sampled_from(STACK_KEYS))} = {draw(st.sampled_from(STACK_VALUES))}")
    sets = [f"{draw(st.sampled_from(STACK_KEYS))}={draw(st.sampled_from(STACK_VALUES))}"
            for _ in range(draw(st.integers(0, 2)))]
    return "\n".join(lines) + "\n", [a for s in sets for a in ("--stack-set", s)]


def test_generated_stack_files(tally):
    @FUZZ
    @given(inp=stack_inputs(), which=st.sampled_from(["s.toml", "hetier", "he-transformer"]))
    def one(inp, which):
        text, sets = inp
        d = _workdir()
        try:
            shutil.copy(GOOD, d / "good.arrow")
            (d / "s.toml").write_text(text)
            _run(tally, ["replay", "good.arrow", "--machine", "dram-only", "--stack", which, *sets], d,
                 verb="stack-file")
        finally:
            shutil.rmtree(d)

    one()


# --- advise and confirm options --------------------------------------------------------------------

ADVISE_OPTS = st.lists(st.sampled_from([
    ["--dram-gb", "4000"], ["--dram-gb", "nan"], ["--dram-gb", "-1"], ["--dram-gb", "1e308"], ["--dram-gb", "0.001"],
    ["--threads", "0"], ["--threads", "99999"], ["--threads", "2"], ["--policy", "ilp"], ["--policy", "nope"],
    ["--policy", "hot-cold,lifetime"], ["--machine", "dram-only"], ["--machine", "m.toml"], ["--no-bisect"],
    ["--format", "json"], ["--format", "x"], ["--advice", "a.json"], ["--layers"], ["--allow-truncated"]]), max_size=4)


def test_generated_advise_options(tally):
    @FUZZ
    @given(opts=ADVISE_OPTS)
    def one(opts):
        d = _workdir()
        try:
            shutil.copy(GOOD, d / "good.arrow")
            (d / "m.toml").write_text("cores = 4\n")
            _run(tally, ["advise", "good.arrow", "--machine", "optane-appdirect", "--no-bisect", "-o", "p.json",
                         *[a for o in opts for a in o]], d, ("p.json", "a.json"), verb="advise-options", timeout=120.0)
        finally:
            shutil.rmtree(d)

    one()


CONFIRM_OPTS = st.lists(st.sampled_from([
    ["--policy", "interleave:abc"], ["--policy", "interleave:0.3"], ["--policy", "nope"], ["--policy", "all-pmem"],
    ["--repeat", "0"], ["--repeat", "-1"], ["--repeat", "1e9"], ["--append"], ["-o", "r.txt"], ["-o", "r.csv"],
    ["-o", "r.json"], ["-o", "fifo.csv"], ["-o", "old.csv"], ["--placement", "p.toml"], ["--placement", "fifo.csv"],
    ["--machine", "h.toml"], ["--machine", "fifo.csv"], ["--force"]]), max_size=4)


def test_generated_confirm_options(tally):
    @FUZZ
    @given(opts=CONFIRM_OPTS, old=st.sampled_from([b"", b"\xff\xfe", b"a,b\n1,2\n", b"[{"]))
    def one(opts, old):
        d = _workdir()
        try:
            shutil.copy(GOOD, d / "good.arrow")
            os.mkfifo(d / "fifo.csv")
            (d / "old.csv").write_bytes(old)
            (d / "h.toml").write_text('name = "h"\ncores = 1\nllc_mb = 1\n[[tiers]]\nname = "dram"\nnuma_node = [0]\n')
            (d / "p.toml").write_text('default = "dram"\n')
            before = (d / "old.csv").read_bytes()
            o = _run(tally, ["confirm", "good.arrow", "--machine", "dram-only", *[a for x in opts for a in x]], d,
                     verb="confirm-options", timeout=120.0)
            assert o.code != 0 or (d / "old.csv").read_bytes().startswith(before)  # an append never loses a row
        finally:
            shutil.rmtree(d)

    one()


# --- every loader given a FIFO, a directory, a device ----------------------------------------------

LOADERS = [
    ["replay", "good.arrow", "--machine", "{x}"], ["replay", "{x}", "--machine", "dram-only"],
    ["replay", "good.arrow", "--machine", "dram-only", "--stack", "{x}"],
    ["replay", "good.arrow", "--machine", "optane-appdirect", "--policy", "placement:{x}"],
    ["info", "{x}"], ["check", "{x}"], ["report", "good.arrow", "{x}", "--format", "text"],
    ["report", "good.arrow", "--advice", "{x}", "--format", "text"],
    ["export", "good.arrow", "{x}", "--format", "perfetto", "-o", "e.json"], ["advise", "good.arrow", "--machine", "{x}"],
    ["fit", "{x}", "--stack", "hetier"], ["fit", "--stack", "{x}"], ["sweep", "--file", "{x}", "-o", "s"],
    ["sweep", "{x}", "--machine", "dram-only", "-o", "s"],
    ["sweep", "good.arrow", "--machine", "dram-only", "--prices", "{x}", "-o", "s"],
    ["trace", "mlp", "--mode", "plan", "--cost-file", "{x}", "-o", "t.arrow"],
    ["confirm", "good.arrow", "--machine", "{x}"], ["confirm", "good.arrow", "--machine", "dram-only", "--placement", "{x}"],
]
KINDS = ["fifo", "dir", "dev", "link-to-fifo"]


# long: every loader with every kind; quick: every loader once, the kinds taken in turn
CASES = [(a, k) for a in LOADERS for k in KINDS] if LONG else [(a, KINDS[i % len(KINDS)]) for i, a in enumerate(LOADERS)]


@pytest.mark.parametrize("argv, kind", CASES, ids=[f"{' '.join(a[:2])}-{i}-{k}" for i, (a, k) in enumerate(CASES)])
def test_every_loader_refuses_what_is_not_a_file(tally, argv, kind):
    d = _workdir()
    try:
        shutil.copy(GOOD, d / "good.arrow")
        for ext in (".toml", ".json", ".csv", ".arrow"):
            p = d / f"x{ext}"
            if kind == "fifo":
                os.mkfifo(p)
            elif kind == "dir":
                p.mkdir()
            elif kind == "link-to-fifo":
                os.mkfifo(d / f"f{ext}")
                p.symlink_to(d / f"f{ext}")
        ext = ".toml" if "--machine" in argv[-2:] or "--stack" in argv[-2:] or "--file" in argv or "--prices" in argv \
            else ".csv" if argv[0] == "fit" else ".json" if "placement:" in " ".join(argv) or "--cost-file" in argv \
            or "--advice" in argv else ".arrow"
        x = "/dev/zero" if kind == "dev" else f"x{ext}"
        args = [a.replace("{x}", x) for a in argv]
        o = _run(tally, args, d, verb="loader-not-a-file")
        assert o.code != 0
    finally:
        shutil.rmtree(d)
