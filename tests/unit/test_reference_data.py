"""The published ResNet-50 run (in the training runs) and memory timeline shipped in simulator/data (approximate values
read off the HMEM 2021 plots) load as the project reads them."""

import csv

from hetier.formats.measured import load_measured
from hetier.simulator.fit import reference_runs_path

DATA = reference_runs_path().parent


def _text_and_rows(name: str) -> tuple[str, list[dict]]:
    """A data file's text (its comments hold the source) and its rows."""
    text = (DATA / name).read_text()
    return text, list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def test_resnet50_run_is_in_the_training_set():
    """The fourth training configuration (issue: fit on four configurations of two shapes)."""
    runs = load_measured(reference_runs_path())
    (run,) = [r for r in runs if r.model == "resnet50"]
    assert (run.model, dict(run.options), run.machine, run.peak_gb, run.seconds) == (
        "resnet50", {"resolution": 224.0}, "ref-memory-mode", 840.0, 226800.0)
    assert len({r.config for r in runs}) == 4


def test_resnet50_timeline_has_the_published_shape():
    text, rows = _text_and_rows("he-pmem-tc2021-resnet50-timeline.csv")
    assert "HMEM 2021" in text and "APPROXIMATE" in text
    levels = [float(r["resident_gb_approx"]) for r in rows]
    assert [r["phase"] for r in rows] == ["spike", "plateau", "step1", "step2", "step3", "end"]
    assert levels == [840, 720, 650, 480, 400, 350] and levels == sorted(levels, reverse=True)


def test_bandwidth_averages_load_with_their_source():
    """VTune's per-channel averages of a Memory Mode run (benchmarks/reference_fidelity.py compares them)."""
    text, rows = _text_and_rows("he-pmem-tc2021-bandwidth.csv")
    assert "IEEE Transactions on Computers 2021" in text and "VTune" in text
    got = {(r["tier"], r["direction"]): float(r["gb_per_s_per_channel"]) for r in rows}
    assert got == {("dram", "read"): 1.13, ("dram", "write"): 1.15, ("pmem", "read"): 0.125, ("pmem", "write"): 0.084}
