"""`hetier sweep --scheduler tls://`: a sweep on a local mutual-TLS Dask cluster works and gives
the local pool's bytes; a client, scheduler or worker without a certificate from the CA cannot
take part; plain tcp:// to another machine and malformed addresses are refused before anything
is written."""

import shutil
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from tests.cli.test_sweep import TRACE, _free_port
from tests.cli.tls_certs import make_ca, make_cert
from tests.helpers import run_cli as run

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
AXES = ["--machine", "dram-only", "--threads", "1,8"]


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    """A TLS scheduler and one worker on loopback, all certified by one CA; a rogue CA beside it."""
    from distributed import Client
    from distributed.security import Security

    d = tmp_path_factory.mktemp("tls")
    make_ca(d, "ca")
    make_ca(d, "rogue-ca")
    for name in ("scheduler", "worker", "client"):
        make_cert(d, "ca", name)
    for name in ("rogue-client", "rogue-worker"):
        make_cert(d, "rogue-ca", name)
    address = f"tls://127.0.0.1:{_free_port()}"
    log = open(d / "dask.log", "wb")

    def tls(name, ca="ca"):
        return ["--tls-ca-file", str(d / f"{ca}.pem"), "--tls-cert", str(d / f"{name}.pem"), "--tls-key", str(d / f"{name}.key")]

    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                               address.rsplit(":", 1)[1], "--protocol", "tls", "--no-dashboard", *tls("scheduler")],
                              stdout=log, stderr=log)]
    security = Security(tls_ca_file=str(d / "ca.pem"), tls_client_cert=str(d / "client.pem"),
                        tls_client_key=str(d / "client.key"), require_encryption=True)
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                       "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", *tls("worker")],
                                      stdout=log, stderr=log))
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, security=security, timeout="5s") as c:
                    c.wait_for_workers(1, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield address, d, tls, security
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()


def _client(d, name="client", ca="ca"):
    return ["--tls-ca", str(d / f"{ca}.pem"), "--tls-cert", str(d / f"{name}.pem"), "--tls-key", str(d / f"{name}.key")]


def test_sweep_on_a_tls_cluster_gives_the_local_bytes(tls_cluster, tmp_path, capsys):
    address, d, _, _ = tls_cluster
    code, _, err = run(["sweep", TRACE, *AXES, "--scheduler", address, *_client(d), "-o", str(tmp_path / "tls")], capsys)
    assert code == 0, err
    code, _, err = run(["sweep", TRACE, *AXES, "--workers", "1", "-o", str(tmp_path / "local")], capsys)
    assert code == 0, err
    rows = pq.read_table(tmp_path / "tls" / "configs.parquet").to_pylist()
    assert [(r["threads"], r["status"]) for r in rows] == [(1, "ok"), (8, "ok")]
    for name in ("configs.parquet", "layers.parquet"):
        assert (tmp_path / "tls" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


@pytest.mark.parametrize("who, certs, msg", [
    ("a client certified by another CA", dict(name="rogue-client"), "cannot connect to the Dask scheduler"),
    ("a scheduler not certified by the given CA", dict(name="rogue-client", ca="rogue-ca"),
     "TLS certificate does not match"),
])
def test_without_a_certificate_from_the_ca_nothing_runs(tls_cluster, tmp_path, capsys, who, certs, msg):
    address, d, _, _ = tls_cluster
    code, _, err = run(["sweep", TRACE, *AXES, "--scheduler", address, *_client(d, **certs), "-o", str(tmp_path / "s")],
                       capsys)
    assert code == 1 and msg in err and err.count("\n") == 1 and "Traceback" not in err, who
    assert not (tmp_path / "s").exists()  # nothing written: the cluster is checked before the directory is made


def test_a_worker_without_a_certificate_from_the_ca_cannot_join(tls_cluster):
    from distributed import Client

    address, d, tls, security = tls_cluster
    rogue = subprocess.run([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
                            "--no-dashboard", "--host", "127.0.0.1", "--death-timeout", "2", *tls("rogue-worker")],
                           capture_output=True, text=True, timeout=60)
    assert rogue.returncode != 0 and "Timed out starting worker" in rogue.stderr
    with Client(address, security=security, timeout="5s") as c:
        assert len(c.scheduler_info()["workers"]) == 1  # only the certified worker


@pytest.mark.parametrize("argv, msg", [
    (["--scheduler", "tcp://192.0.2.7:8786"], "is plain TCP to another machine"),
    (["--scheduler", "tcp://scheduler.example:8786"], "is plain TCP to another machine"),
    (["--scheduler", "tls://127.0.0.1:8786"], "a tls:// scheduler needs --tls-ca, --tls-cert, --tls-key"),
    (["--scheduler", "http://127.0.0.1:8786"], "must be tcp://HOST:PORT or tls://HOST:PORT"),
    (["--scheduler", "inproc://x"], "must be tcp://HOST:PORT or tls://HOST:PORT"),
    (["--scheduler", "foo"], "must be tcp://HOST:PORT or tls://HOST:PORT"),
    (["--scheduler", "tcp://127.0.0.1:0"], "port 0 must be between 1 and 65535"),
    (["--scheduler", "tcp://[::1:8786"], "must be tcp://HOST:PORT or tls://HOST:PORT"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--tls-ca", "x.pem"], "given with a tcp:// scheduler"),
    (["--tls-ca", "x.pem"], "--tls-ca needs --scheduler"),
    (["--scheduler", "tls://127.0.0.1:8786", "--tls-ca", "{d}", "--tls-cert", "{d}", "--tls-key", "{d}"],
     "is a directory, not a regular file"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--task-timeout", "nan"], "--task-timeout nan must be between"),
])
def test_scheduler_addresses_are_checked_before_anything_is_written(argv, msg, tmp_path, capsys):
    out = tmp_path / "s"
    code, _, err = run(["sweep", TRACE, *AXES, "-o", str(out), *[a.format(d=tmp_path) for a in argv]], capsys)
    assert code == 2 and msg in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_insecure_allows_plain_tcp_to_another_machine():
    from hetier.simulator.dask_cluster import parse_scheduler

    s = parse_scheduler("tcp://192.0.2.7:8786", insecure=True)
    assert (s.host, s.port, s.tls) == ("192.0.2.7", 8786, None)
    assert parse_scheduler("tcp://[::1]:8786").host == "::1"  # loopback needs no --insecure
