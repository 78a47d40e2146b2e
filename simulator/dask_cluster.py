"""The Dask cluster a sweep may run on: which scheduler addresses are accepted, with what
security, and the wait for results (every network wait has a timeout).

Threat model. A Dask scheduler runs code: it sends the driver's tasks to its workers, and Dask's
own protocol deserializes (unpickles) what a scheduler or worker sends back, so whoever runs or
impersonates the scheduler can run code on the machine that started the sweep. Only a cluster
you trust, reached over mutual TLS (every scheduler, worker and client holds a certificate from
one CA you control), is safe: ``tls://`` needs ``--tls-ca/--tls-cert/--tls-key``; plain ``tcp://``
is accepted on loopback only (this machine's own cluster) unless ``--insecure`` says the network
is trusted. On top of that, results travel as plain Arrow bytes that the driver validates
(``sweep_payload``), never as objects hetier itself unpickles.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Iterator

from hetier.errors import HetierError, UsageError

CONNECT_TIMEOUT_S = 10.0  # connect + TLS and Dask handshakes with the scheduler
DEFAULT_TASK_TIMEOUT_S = 3600.0  # the longest wait for the next configuration to finish
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
MAX_CERT_BYTES = 1 << 20


@dataclass(frozen=True)
class Scheduler:
    """A validated scheduler address and the certificates that authenticate both ends."""

    address: str  # tcp://HOST:PORT or tls://HOST:PORT
    host: str
    port: int
    tls: tuple[str, str, str] | None = None  # (CA, certificate, key) files

    def security(self):
        """Dask's Security for this address: mutual TLS with our CA only, or none (loopback / --insecure)."""
        from distributed.security import Security

        if self.tls is None:
            return Security(require_encryption=False)
        ca, cert, key = self.tls
        return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_pem(option: str, path: str) -> str:
    """A certificate or key file: a regular, readable, bounded file (checked before connecting)."""
    from hetier.formats.input_file import check_input_file

    p = check_input_file(path, what=option, max_bytes=MAX_CERT_BYTES)
    try:
        with open(p, "rb") as fh:
            head = fh.read(MAX_CERT_BYTES)
    except OSError as e:
        raise UsageError(f"{option} '{path}': {e.strerror}") from None
    if b"-----BEGIN " not in head:
        raise UsageError(f"{option} '{path}' is not a PEM file (no '-----BEGIN')")
    return os.path.abspath(p)


def parse_scheduler(address: str, tls_ca: str | None = None, tls_cert: str | None = None,
                    tls_key: str | None = None, insecure: bool = False) -> Scheduler:
    """Check a --scheduler address and its TLS options before anything is written or connected."""
    given = [o for o, v in (("--tls-ca", tls_ca), ("--tls-cert", tls_cert), ("--tls-key", tls_key)) if v]
    if not isinstance(address, str) or len(address) > 300 or not address.isprintable():
        raise UsageError("--scheduler must be tcp://HOST:PORT or tls://HOST:PORT")
    m = re.fullmatch(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[^:/\[\]]+):([0-9]{1,5})", address)
    if m is None:
        raise UsageError(f"--scheduler '{address[:80]}' must be tcp://HOST:PORT or tls://HOST:PORT "
                         "(tls:// with --tls-ca, --tls-cert and --tls-key for a remote cluster)")
    scheme, host, port = m.group(1), m.group(2), int(m.group(3))
    if host.startswith("["):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(f"--scheduler '{address[:80]}': '{host}' is not an IPv6 address") from None
    elif not _HOST.fullmatch(host):
        raise UsageError(f"--scheduler '{address[:80]}': '{host[:60]}' is not a host name or address")
    if not 1 <= port <= 65535:
        raise UsageError(f"--scheduler '{address[:80]}': port {port} must be between 1 and 65535")
    if scheme == "tcp":
        if given:
            raise UsageError(f"{', '.join(given)} given with a tcp:// scheduler; use tls://{m.group(2)}:{port}")
        if not _is_loopback(host) and not insecure:
            raise UsageError(f"--scheduler '{address[:80]}' is plain TCP to another machine: anyone who reaches "
                             "or impersonates that scheduler can run code here; use tls:// with --tls-ca, "
                             "--tls-cert and --tls-key (or --insecure on a network you trust)")
        return Scheduler(address, host, port)
    missing = [o for o in ("--tls-ca", "--tls-cert", "--tls-key") if o not in given]
    if missing:
        raise UsageError(f"a tls:// scheduler needs {', '.join(missing)} (mutual TLS: this client proves "
                         "itself with its certificate and accepts only a scheduler certified by the CA)")
    files = (_check_pem("--tls-ca", tls_ca), _check_pem("--tls-cert", tls_cert), _check_pem("--tls-key", tls_key))
    return Scheduler(address, host, port, files)


def connect(scheduler: Scheduler):
    """A Dask client of ``scheduler`` (connect, TLS and Dask handshakes all bounded by
    CONNECT_TIMEOUT_S: Dask's own handshake read has no timeout, so the whole start is run in
    a thread that is given up on, with an error, when the scheduler does not answer)."""
    import threading

    try:
        from distributed import Client
    except ImportError:
        raise HetierError("--scheduler needs dask[distributed] (pip install 'dask[distributed]')") from None
    box: dict = {}

    def start() -> None:
        try:
            box["client"] = Client(scheduler.address, security=scheduler.security(), timeout=CONNECT_TIMEOUT_S,
                                   set_as_default=False)
        except BaseException as e:  # handed to the caller below
            box["error"] = e

    t = threading.Thread(target=start, name="hetier-dask-connect", daemon=True)
    t.start()
    t.join(CONNECT_TIMEOUT_S + 5)
    if t.is_alive():
        raise HetierError(f"the Dask scheduler at {scheduler.address} accepted the connection but did not answer "
                          f"within {CONNECT_TIMEOUT_S + 5:g} s (is it a Dask scheduler? does it expect tls://?)")
    e = box.get("error")
    if isinstance(e, (OSError, TimeoutError)):
        raise HetierError(f"cannot connect to the Dask scheduler at {scheduler.address} "
                          f"({type(e).__name__}: {str(e)[:200]})") from None
    if e is not None:  # e.g. an SSL handshake refused, a peer that does not speak Dask's protocol
        raise HetierError(f"cannot use the Dask scheduler at {scheduler.address}: {type(e).__name__}: "
                          f"{str(e)[:200]}") from None
    return box["client"]


def dask_map(client, tasks: list, task_timeout_s: float = DEFAULT_TASK_TIMEOUT_S) -> Iterator:
    """Run ``tasks`` on the cluster of ``client`` (see ``connect``); yields (task, payload bytes) in
    completion order. A wait longer than ``task_timeout_s`` for the next finished configuration
    stops the sweep (the finished ones stay for a resume)."""
    from distributed import wait

    from hetier.simulator.sweep_payload import run_task_payload

    with client.as_current():
        by_key = {f"hetier-{t.config_id}": t for t in tasks}
        futures = client.map(run_task_payload, tasks, key=list(by_key), pure=False)
        pending = set(futures)
        try:
            while pending:
                try:
                    done, pending = wait(pending, timeout=task_timeout_s, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    raise HetierError(f"no configuration finished on the Dask cluster within {task_timeout_s:g} s "
                                      "(--task-timeout); finished ones are kept, run again to resume") from None
                for f in sorted(done, key=lambda f: f.key):
                    try:
                        payload = f.result(timeout=task_timeout_s)
                    except HetierError:
                        raise
                    except Exception as e:  # a worker without hetier installed, a lost worker, a timeout
                        raise HetierError(f"Dask task failed on the cluster: {type(e).__name__}: {str(e)[:300]}") from None
                    yield by_key[f.key], payload
        finally:
            client.cancel(list(pending))
