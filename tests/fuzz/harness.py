"""Run one `hetier` command in a forked child: exit code, output, a time limit, peak memory and
the files it left behind. Forking keeps each input isolated (a hang is killed, memory measured
per input) without paying the interpreter's start-up for every one."""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

TRACEBACK_EXIT = 99  # the child's code when an exception escaped main()


@dataclass
class Outcome:
    verb: str
    argv: list[str]
    code: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    seconds: float
    maxrss_mb: float
    stray: list[str] = field(default_factory=list)

    @property
    def hang(self) -> bool:
        return self.code is None

    @property
    def traceback(self) -> bool:
        return self.code == TRACEBACK_EXIT or "Traceback (most recent call last)" in self.stderr

    def problem(self) -> str | None:
        """What is wrong with this outcome (None: success or a clean one-line error)."""
        if self.hang:
            return "hang"
        if self.traceback:
            return "traceback"
        if self.stray:
            return f"stray files {self.stray}"
        if self.code == 0:
            return None
        lines = [l for l in self.stderr.splitlines() if l.strip()]
        if self.verb == "check" and self.code == 1 and not lines:
            return None  # violations are the report itself (stdout)
        if self.code == 2 and lines and lines[-1].startswith("hetier") and "error:" in lines[-1]:
            return None  # argparse: usage line plus one error line
        if len(lines) != 1 or not lines[0].startswith(f"hetier {self.verb}: "):
            return f"not a one-line error: {lines[:3]}"
        return None


def _child(argv: list[str], cwd: Path, out_path: Path, err_path: Path, limit_mb: int) -> None:
    os.chdir(cwd)
    fd_out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    fd_err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    sys.stdout = open(1, "w", closefd=False)  # pytest may have replaced the Python-level streams
    sys.stderr = open(2, "w", closefd=False)
    if limit_mb:
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    code = TRACEBACK_EXIT
    try:
        from hetier.cli.main import main

        code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run(argv: list[str], cwd: Path, timeout: float = 20.0, expected_outputs: tuple[str, ...] = (),
        limit_mb: int = 0) -> Outcome:
    """Run ``hetier ARGV`` in ``cwd``; files new in ``cwd`` afterwards, other than
    ``expected_outputs`` written by a successful run, are stray."""
    before = set(os.listdir(cwd))
    out_path, err_path = cwd.parent / f".{cwd.name}.out", cwd.parent / f".{cwd.name}.err"
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        _child(argv, cwd, out_path, err_path, limit_mb)
    code = None
    deadline = t0 + timeout
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.005)
    seconds = time.perf_counter() - t0
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    after = set(os.listdir(cwd))
    allowed = set(expected_outputs) if code == 0 else set()
    stray = sorted(after - before - allowed)
    return Outcome(argv[0], list(argv), code, stdout, stderr, seconds, usage.ru_maxrss / 1024, stray)


class Tally:
    """Per-verb counts of inputs tried and problems found, and the worst peak memory."""

    def __init__(self) -> None:
        self.verbs: dict[str, dict] = {}
        self.problems: list[dict] = []

    def add(self, o: Outcome, label: str | None = None) -> str | None:
        v = self.verbs.setdefault(label or o.verb, {"inputs": 0, "ok": 0, "errors": 0, "tracebacks": 0, "hangs": 0,
                                           "stray": 0, "worst_maxrss_mb": 0.0, "worst_argv": None,
                                           "slowest_s": 0.0})
        v["inputs"] += 1
        p = o.problem()
        v["ok" if o.code == 0 else "errors"] += 1
        v["tracebacks"] += o.traceback
        v["hangs"] += o.hang
        v["stray"] += bool(o.stray)
        v["slowest_s"] = max(v["slowest_s"], round(o.seconds, 2))
        if o.maxrss_mb > v["worst_maxrss_mb"]:
            v["worst_maxrss_mb"], v["worst_argv"] = round(o.maxrss_mb, 1), o.argv
        if p:
            self.problems.append({"problem": p, **{k: v for k, v in asdict(o).items() if k != "stdout"}})
        return p

    def save(self, path: Path, extra: dict | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"verbs": self.verbs, "problem_count": len(self.problems),
                                    "problems": self.problems[:50], **(extra or {})},
                                   indent=1, default=str))
