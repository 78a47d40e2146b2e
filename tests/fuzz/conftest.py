"""The fuzz suite's shared tally: every fuzz module adds to it; `make fuzz` saves it."""

import tempfile
from pathlib import Path

import pytest

from tests.fuzz import harness
from tests.fuzz.strategies import ROOT

LONG = __import__("os").environ.get("HETIER_FUZZ") == "long"


@pytest.fixture(scope="session")
def tally():
    t = harness.Tally()
    run = _run_identity() if LONG else {}  # the code as the run starts (a commit during it is not what ran)
    yield t
    if LONG:
        t.save(ROOT / "out" / "fuzz-report.json", {"baseline": _baselines(), "run": run})


def _run_identity() -> dict:
    """What was fuzzed: generated inputs per surface and the code's commit (dirty: uncommitted changes)."""
    import subprocess

    from tests.fuzz.test_fuzz import EXAMPLES

    def git(*args: str) -> str:
        p = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else "?"

    return {"examples": EXAMPLES, "commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def _baselines() -> dict:
    """Each trace verb on the largest sample trace, measured the same way (peak memory, seconds)."""
    from tests.fuzz.test_fuzz import TRACE_VERBS

    largest = max((ROOT / "traces").glob("*.arrow"), key=lambda p: p.stat().st_size)
    out = {"sample": largest.name}
    for verb, (extra, outputs) in TRACE_VERBS.items():
        with tempfile.TemporaryDirectory() as d:
            o = harness.run([verb.split("-")[0], str(largest), *extra], Path(d), 120, outputs)
            out[verb] = {"code": o.code, "maxrss_mb": round(o.maxrss_mb, 1), "seconds": round(o.seconds, 2)}
    return out
