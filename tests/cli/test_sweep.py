"""`hetier sweep`: local pool vs a real Dask cluster byte for byte, kill -9 and resume, sweep files."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.helpers import run_cli as run

TRACE = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")
# 8 configurations: dram-only x {all-dram, interleave (not applicable)} and a 2 GB-DRAM App Direct
# machine x {interleave, dram-first}, each at 1 and 8 threads
AXES = ["--machine", "dram-only,optane-appdirect", "--policy", "interleave,dram-first", "--threads", "1,8",
        "--vary", "optane-appdirect:dram.capacity_gb=2", "--no-reference"]
FILES = ("sweep.json", "configs.parquet", "layers.parquet")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs: list[subprocess.Popen], address: str) -> None:
    """Ask the scheduler to shut the cluster down, then terminate (and kill) what is left."""
    from distributed import Client

    try:
        with Client(address, timeout="5s") as c:
            c.shutdown()
    except (OSError, TimeoutError):
        pass
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.terminate()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory):
    """A Dask scheduler and two single-thread workers on loopback, stopped even if a test fails."""
    from distributed import Client

    log = open(tmp_path_factory.mktemp("dask") / "dask.log", "wb")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], stdout=log, stderr=log)]
    try:
        for i in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                           "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{i}"],
                                          stdout=log, stderr=log))
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as c:
                    c.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        _stop(procs, address)
        log.close()


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "sweep"
    from hetier.cli.main import main

    assert main(["sweep", TRACE, *AXES, "--workers", "2", "-o", str(out)]) == 0
    return out


def test_local_sweep_rows_and_summary(local_sweep, capsys):
    t = pq.read_table(local_sweep / "configs.parquet").to_pylist()
    assert [(r["machine"], r["policy"], r["threads"], r["status"]) for r in t] == [
        ("dram-only", "all-dram", 1, "ok"), ("dram-only", "all-dram", 8, "ok"),
        ("dram-only", "interleave", 1, "not applicable"), ("dram-only", "interleave", 8, "not applicable"),
        ("optane-appdirect", "dram-first", 1, "ok"), ("optane-appdirect", "dram-first", 8, "ok"),
        ("optane-appdirect", "interleave:0.5", 1, "ok"), ("optane-appdirect", "interleave:0.5", 8, "ok")]
    assert t[2]["reason"] == "not applicable: policy interleave needs a machine with two tiers"
    assert t[4]["dram_capacity_gb"] == 2.0 and t[0]["dram_capacity_gb"] is None
    # 192 GB DDR4 at 35.16 USD/GB (prices.toml); App Direct adds 1536 GB of PMem at 4.51 USD/GB
    assert t[0]["cost_usd"] == 6750.72 and t[4]["cost_usd"] == round(2 * 35.16 + 1536 * 4.51, 2)
    layers = pq.read_table(local_sweep / "layers.parquet")
    assert set(layers.column("config_id").to_pylist()) == {r["config_id"] for r in t if r["status"] == "ok"}
    # resuming a finished sweep runs nothing and prints the cheapest answer per thread count
    code, out, err = run(["sweep", TRACE, *AXES, "--workers", "1", "-o", str(local_sweep), "--json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["ran"] == 0 and summary["resumed"] == 8
    assert [(p["threads"], p["label"]) for p in summary["cheapest_within"]] == [
        (1, "dram-only all-dram x1"), (8, "dram-only all-dram x8")]  # 1.5 TB of PMem costs more than it saves


def test_dask_cluster_gives_the_same_bytes(dask_scheduler, local_sweep, tmp_path, capsys):
    out = tmp_path / "dask"
    code, stdout, err = run(["sweep", TRACE, *AXES, "--scheduler", dask_scheduler, "-o", str(out), "--json"], capsys)
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["ran"] == 8 and len(summary["peak_rss_bytes_by_worker"]) == 2  # both workers ran tasks
    assert list(summary["trace_loads_by_worker"].values()) == [1, 1]  # each read the trace once, not per task
    for name in FILES:
        assert (out / name).read_bytes() == (local_sweep / name).read_bytes(), name


def test_killed_sweep_resumes_to_the_same_dataset(local_sweep, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", "from hetier.cli.main import entry; entry()", "sweep", TRACE, *AXES,
           "--workers", "1", "-o", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list((out / "parts").glob("*.row.parquet"))) < 2 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.killpg(p.pid, signal.SIGKILL)
    finally:
        p.wait()
    done = len(list((out / "parts").glob("*.row.parquet")))
    assert p.returncode == -signal.SIGKILL and 2 <= done < 8 and not (out / "configs.parquet").exists()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"{done} already done, {8 - done} to run" in r.stderr
    for name in FILES:
        assert (out / name).read_bytes() == (local_sweep / name).read_bytes(), name


def test_sweep_file(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(f'traces = ["{TRACE}"]\nmachines = ["small=optane-appdirect"]\npolicies = ["dram-first"]\n'
                 'threads = [8]\n[vary]\n"small:dram.capacity_gb" = "1:3:1"\n"pmem.read_bw_scale" = [0.5, 2]\n')
    code, out, err = run(["sweep", "--file", str(f), "-o", str(tmp_path / "s"), "--workers", "1", "--json",
                          "--no-reference"], capsys)
    assert code == 0, err
    rows = pq.read_table(tmp_path / "s" / "configs.parquet").to_pylist()
    assert [(r["dram_capacity_gb"], r["pmem_read_bw_scale"]) for r in rows] == [
        (1.0, 0.5), (1.0, 2.0), (2.0, 0.5), (2.0, 2.0), (3.0, 0.5), (3.0, 2.0)]
    slow, fast = rows[0]["time_s"], rows[1]["time_s"]
    assert fast < slow  # PMem at twice the read bandwidth beats half the read bandwidth with 1 GB of DRAM


@pytest.mark.parametrize("argv, msg", [
    (["-o", "{file}"], "is a file; a sweep writes a directory"),
    (["-o", "{notsweep}"], "exists and is not a sweep directory"),
    (["--file", "{badfile}", "-o", "{d}/x"], "unknown sweep key(s) machine"),
    (["--workers", "0", "-o", "{d}/x"], "workers 0 must be at least 1"),
    (["--set", "optane-memory-mod:dram.capacity_gb=16", "-o", "{d}/x"], "names machine 'optane-memory-mod'"),
    (["--set", "dram.x_y=1", "--set", "dram_x.y=2", "-o", "{d}/x"],
     "overrides dram.x_y and dram_x.y would share the results column 'dram_x_y'; rename one of the tiers"),
])
def test_sweep_errors_are_one_line(argv, msg, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    (tmp_path / "n").mkdir()
    (tmp_path / "n" / "mine.txt").write_text("x")
    (tmp_path / "bad.toml").write_text('machine = ["dram-only"]\n')
    fmt = dict(file=tmp_path / "f", notsweep=tmp_path / "n", badfile=tmp_path / "bad.toml", d=tmp_path)
    code, _, err = run(["sweep", TRACE, "--machine", "dram-only", *[a.format(**fmt) for a in argv]], capsys)
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
    assert msg in err


def test_sweep_report_text_html_and_baseline(local_sweep, tmp_path, capsys):
    code, out, err = run(["report", str(local_sweep), "--format", "text"], capsys)
    assert code == 0, err
    # one group per thread count, never merged; the reference is the all-DRAM run of the same count
    assert "cryptonets-b64.tensor.arrow, 1 thread(s): reference dram-only all-dram x1" in out
    assert "cryptonets-b64.tensor.arrow, 8 thread(s): reference dram-only all-dram x8" in out
    code, out, err = run(["report", str(local_sweep), "--format", "text", "--baseline",
                          "optane-appdirect interleave:0.5"], capsys)
    assert code == 0, err
    assert "8 thread(s): reference optane-appdirect interleave:0.5 dram.capacity_gb=2 x8" in out
    html = tmp_path / "r.html"
    code, out, err = run(["report", str(local_sweep), "-o", str(html)], capsys)
    assert code == 0, err
    page = html.read_text()
    for title in ("Pareto: memory cost (USD) vs predicted time", "Pareto: fast-tier capacity (GB) vs predicted time",
                  "Layer x configuration slowdown"):
        assert page.count(title) == 2, title  # one per thread count
    code, _, err = run(["report", str(local_sweep), "--format", "text", "--baseline", "ddr5-cxl"], capsys)
    assert code == 2 and "baseline 'ddr5-cxl' matches no finished configuration" in err


def test_override_columns_have_no_dots_and_older_sweeps_still_read(local_sweep, tmp_path, capsys):
    """configs.parquet names an override tier.key as the column tier_key and lists the keys in its
    schema metadata; a sweep written before (dotted columns) reads the same through every reader."""
    import shutil

    import hetier
    from hetier.formats.sweep import OVERRIDES_META, override_keys

    configs = pq.read_table(local_sweep / "configs.parquet")
    assert [c for c in configs.column_names if "." in c] == []
    assert "dram_capacity_gb" in configs.column_names and override_keys(configs) == ["dram.capacity_gb"]
    old = tmp_path / "old"
    shutil.copytree(local_sweep, old)
    dotted = configs.rename_columns(["dram.capacity_gb" if c == "dram_capacity_gb" else c
                                     for c in configs.column_names])
    meta = {k: v for k, v in configs.schema.metadata.items() if k != OVERRIDES_META}
    pq.write_table(dotted.replace_schema_metadata(meta), old / "configs.parquet")
    assert "dram.capacity_gb" in pq.read_table(old / "configs.parquet").column_names
    assert hetier.open_sweep(old).to_pylist() == hetier.open_sweep(local_sweep).to_pylist()
    assert [p.label for p in hetier.cheapest_within(dotted)] == [p.label for p in hetier.cheapest_within(configs)]
    for path in (local_sweep, old):
        code, out, err = run(["report", str(path), "--format", "text", "--baseline",
                              "optane-appdirect interleave:0.5"], capsys)
        assert code == 0 and "reference optane-appdirect interleave:0.5 dram.capacity_gb=2 x8" in out, err
        code, out, err = run(["info", str(path)], capsys)
        assert code == 0 and "dram.capacity_gb=2 " in out and "=2.0" not in out, err
    # a sweep killed before this change resumes: its parts' dotted columns end up as today's columns
    for part in (old / "parts").glob("*.row.parquet"):
        t = pq.read_table(part)
        pq.write_table(t.rename_columns([c.replace("dram_capacity_gb", "dram.capacity_gb") for c in t.column_names]),
                       part)
    (old / "configs.parquet").unlink()
    code, _, err = run(["sweep", TRACE, *AXES, "--workers", "1", "-o", str(old)], capsys)
    assert code == 0 and "8 already done, 0 to run" in err, err
    assert (old / "configs.parquet").read_bytes() == (local_sweep / "configs.parquet").read_bytes()


def test_error_rows_are_retried_on_resume(tmp_path, capsys):
    from tests.helpers import truncated_tiny

    cut = truncated_tiny(tmp_path)
    out = tmp_path / "s"
    code, stdout, err = run(["sweep", cut, "--machine", "dram-only", "--workers", "1", "-o", str(out), "--json"], capsys)
    assert code == 0, err
    [row] = pq.read_table(out / "configs.parquet").to_pylist()
    assert row["status"] == "error" and "truncated after batch 1" in row["reason"]
    code, stdout, err = run(["sweep", cut, "--machine", "dram-only", "--workers", "1", "-o", str(out), "--json",
                             "--allow-truncated"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["ran"] == 1  # the error row was not taken as done
    [row] = pq.read_table(out / "configs.parquet").to_pylist()
    assert row["status"] == "ok" and not list((out / "parts").glob("*.error"))
