"""Advice files the issue found crashing `report --advice` (24 of 62 crafted): each refused in one
line by the ADVICE schema."""

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli as run

GOOD = str(Path(__file__).resolve().parents[1] / "fuzz" / "corpus" / "good.arrow")


@pytest.fixture(scope="module")
def advice(tmp_path_factory):
    from hetier.cli.main import main

    d = tmp_path_factory.mktemp("advice")
    assert main(["advise", GOOD, "--machine", "optane-appdirect", "--no-bisect", "-o", str(d / "p.json"),
                 "--advice", str(d / "a.json")]) == 0
    return json.loads((d / "a.json").read_text())


def _set(path, value):
    def edit(doc):
        *head, last = path
        for k in head:
            doc = doc[k]
        doc[last] = value
    return edit


@pytest.mark.parametrize("edit, msg", [
    (_set(["layers"], [1]), "layers[0] must be a table"),
    (_set(["recommended", "time_ns"], float("nan")), "recommended.time_ns must be a finite number"),
    (_set(["machines", 0, "rows"], "x"), "machines[0].rows must be a list"),
    (_set(["layers", 0, "bytes"], {"dram": -1}), "layers[0].bytes.dram must be >= 0"),
    (_set(["threads"], 1e9), "threads must be <= 4096"),
    (_set(["recommended", "policy"], ["ilp"]), "recommended.policy must be a string"),
    (_set(["layers"], [{"layer": "x", "bytes": {}}] * 200_001), "layers must have 0 to 200000 items"),
    (lambda doc: doc.pop("bisected"), "missing 'bisected'"),  # found by make fuzz: a KeyError in the report
    (lambda doc: doc.pop("threads"), "missing 'threads'"),
    (lambda doc: doc["layers"][0].pop("moved_bytes"), "missing 'moved_bytes' in layers[0]"),
    (lambda doc: doc["machines"][0]["rows"][0].pop("fast_peak_bytes"), "missing 'fast_peak_bytes' in machines[0].rows[0]"),
    # found by make fuzz FUZZ_EXAMPLES=500: each a KeyError in the ranking's title or columns
    (lambda doc: doc["machines"][0].pop("all_dram_ns"), "missing 'all_dram_ns' in machines[0]"),
    (lambda doc: doc["machines"][0].pop("memory_mode_ns"), "missing 'memory_mode_ns' in machines[0]"),
    (lambda doc: doc["machines"][0].pop("fast_tier"), "missing 'fast_tier' in machines[0]"),
    (lambda doc: doc["machines"][0].pop("fast_bytes"), "missing 'fast_bytes' in machines[0]"),
])
def test_bad_advice_is_one_line(advice, edit, msg, tmp_path, capsys):
    doc = json.loads(json.dumps(advice))
    edit(doc)
    f = tmp_path / "a.json"
    f.write_text(json.dumps(doc))
    code, _, err = run(["report", GOOD, "--advice", str(f), "--format", "text"], capsys)
    assert code == 2 and msg in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_good_advice_reports(advice, tmp_path, capsys):
    f = tmp_path / "a.json"
    f.write_text(json.dumps(advice))
    code, out, err = run(["report", GOOD, "--advice", str(f), "--format", "text"], capsys)
    assert code == 0 and "Recommended placement: ilp on optane-appdirect" in out, err
