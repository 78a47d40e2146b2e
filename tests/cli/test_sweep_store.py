"""A sweep directory you can trust: parts are verified on resume against their configuration,
trace, machine and stack profile (foreign, truncated or unreadable ones run again, with a note), nothing is written through a link, temporaries of a
killed run are removed, and a killed driver takes its pool workers with it."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cli.test_sweep import TRACE
from tests.helpers import run_cli as run

MLP = str(Path(TRACE).with_name("mlp-relu-b8.ciphertext.arrow"))
AXES = ["--machine", "dram-only", "--threads", "1,8", "--workers", "1"]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    from hetier.cli.main import main

    d = tmp_path_factory.mktemp("fresh")
    assert main(["sweep", TRACE, *AXES, "-o", str(d / "s")]) == 0
    assert main(["sweep", MLP, *AXES, "-o", str(d / "other")]) == 0
    return d


def _copy(fresh, tmp_path) -> Path:
    out = tmp_path / "s"
    shutil.copytree(fresh / "s", out)
    (out / "configs.parquet").unlink()
    (out / "layers.parquet").unlink()
    return out


def _resume(out, capsys):
    code, _, err = run(["sweep", TRACE, *AXES, "-o", str(out)], capsys)
    assert code == 0, err
    return err


def _ids(out):
    return sorted(p.name.split(".")[0] for p in (out / "parts").glob("*.row.parquet"))


def test_foreign_part_runs_again(fresh, tmp_path, capsys):
    out = _copy(fresh, tmp_path)
    mine, theirs = _ids(out)[0], _ids(fresh / "other")[0]
    for kind in ("row", "layers"):  # another trace's results under this configuration's name
        shutil.copy(fresh / "other" / "parts" / f"{theirs}.{kind}.parquet", out / "parts" / f"{mine}.{kind}.parquet")
    err = _resume(out, capsys)
    assert f"note: configuration {mine}: part is of another configuration; it runs again" in err
    assert "1 already done, 1 to run" in err
    for name in ("configs.parquet", "layers.parquet"):
        assert (out / name).read_bytes() == (fresh / "s" / name).read_bytes()


def test_part_of_another_stack_profile_runs_again(fresh, tmp_path, capsys):
    import pyarrow as pa

    out = _copy(fresh, tmp_path)
    cid = _ids(out)[0]
    part = out / "parts" / f"{cid}.row.parquet"
    row = pq.read_table(part).to_pylist()[0]
    pq.write_table(pa.table({k: [("0" * 64) if k == "stack_sha256" else v] for k, v in row.items()}), part)
    err = _resume(out, capsys)
    assert f"note: configuration {cid}: part is of another stack profile; it runs again" in err
    assert (out / "configs.parquet").read_bytes() == (fresh / "s" / "configs.parquet").read_bytes()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_truncated_or_unreadable_part_runs_again(fresh, tmp_path, capsys, damage):
    out = _copy(fresh, tmp_path)
    part = out / "parts" / f"{_ids(out)[1]}.row.parquet"
    data = part.read_bytes()
    part.write_bytes({"truncate": data[:len(data) // 2], "garbage": b"PAR1" + os.urandom(64), "empty": b""}[damage])
    err = _resume(out, capsys)
    assert "part unreadable" in err and "1 already done, 1 to run" in err and "Traceback" not in err
    assert (out / "configs.parquet").read_bytes() == (fresh / "s" / "configs.parquet").read_bytes()


def test_orphan_temporaries_are_removed(fresh, tmp_path, capsys):
    out = _copy(fresh, tmp_path)
    orphans = [out / "parts" / "0123456789abcdef.row.parquet.k3j_x9a1.partial", out / "configs.parquet.abcdefgh.partial"]
    for p in orphans:
        p.write_bytes(b"half")
    keep = out / "parts" / "notes.txt"
    keep.write_text("mine")
    _resume(out, capsys)
    assert not any(p.exists() for p in orphans) and keep.read_text() == "mine"


@pytest.mark.parametrize("where", ["parts", "part", "marker"])
def test_links_in_the_directory_are_refused(fresh, tmp_path, capsys, where):
    out = _copy(fresh, tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    if where == "parts":  # --force must not clear (or silently skip) a parts/ that is a link
        shutil.rmtree(out / "parts")
        (out / "parts").symlink_to(victim)
    elif where == "part":
        (out / "parts" / f"{_ids(out)[0]}.row.parquet").unlink()
        (out / "parts" / f"{_ids(fresh / 's')[0]}.row.parquet").symlink_to(victim / "keep.txt")
    else:  # a failed configuration's .error marker placed as a link
        (out / "parts" / "0123456789abcdef.error").symlink_to(victim / "keep.txt")
    code, _, err = run(["sweep", TRACE, *AXES, "-o", str(out), "--force"], capsys)
    assert code == 2 and "is a symbolic link; a sweep writes in place" in err and err.count("\n") == 1
    assert (victim / "keep.txt").read_text() == "keep" and os.listdir(victim) == ["keep.txt"]


def _session(sid: int) -> list[int]:
    """Live processes of session ``sid`` other than its leader."""
    got = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != sid:
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                got.append(int(d))
    return got


def test_a_killed_driver_takes_its_workers_with_it(tmp_path):
    cmd = [sys.executable, "-c", "from hetier.cli.main import entry; entry()", "sweep", TRACE, "--machine",
           "dram-only,optane-appdirect", "--policy", "dram-first", "--threads", "1,2,4,8", "--workers", "2",
           "-o", str(tmp_path / "s")]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(_session(p.pid)) < 3 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # forkserver, resource tracker and two workers
        assert len(_session(p.pid)) >= 3
        os.kill(p.pid, signal.SIGKILL)  # the driver only, not its group
        p.wait()
        deadline = time.monotonic() + 15
        while _session(p.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session(p.pid) == []
    finally:
        for pid in _session(p.pid):  # a failed test leaves nothing running
            os.kill(pid, signal.SIGKILL)
