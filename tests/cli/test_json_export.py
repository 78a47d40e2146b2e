"""`--json` on info and machines; results files and sweeps exported as one table of runs."""

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.helpers import run_cli as run

TRACE = str(Path(__file__).resolve().parents[2] / "traces" / "cryptonets-b64.tensor.arrow")


def test_info_json(capsys):
    code, out, err = run(["info", TRACE, "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert d["peak_live_bytes"] == 2007891968 and d["buffers_by_kind"]["ciphertext"] == [2684, 2100625408]
    assert d["meta"]["model"]["name"] == "cryptonets"


def test_machines_json_has_costs(capsys):
    code, out, err = run(["machines", "--json"], capsys)
    assert code == 0, err
    m = {d["preset"]: d for d in json.loads(out)}
    assert m["dram-only"]["cost_usd"] == 6750.72  # 192 GB x 35.16 USD/GB
    assert m["optane-appdirect"]["cost_usd"] == round(192 * 35.16 + 1536 * 4.51, 2)
    assert "estimate" in m["ddr5-cxl"]["cost_note"]  # the CXL price is marked as an estimate
    code, out, _ = run(["machines", "--devices", "--json"], capsys)
    assert {d["preset"] for d in json.loads(out)} >= {"ddr4-2666-6ch", "optane-100-6dimm", "cxl-expander-x16"}


def test_results_export_has_a_column_per_override(tmp_path, capsys):
    res = tmp_path / "r.arrow"
    code, _, err = run(["replay", TRACE, "--machine", "dram-only,small=optane-appdirect", "--policy", "dram-first",
                        "--threads", "1,8", "--set", "small:dram.capacity_gb=1,2", "-o", str(res)], capsys)
    assert code == 0, err
    code, out, err = run(["export", str(res), "--format", "csv", "-o", str(tmp_path / "r.csv")], capsys)
    assert code == 0 and "6 runs" in out, err
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert [(r["machine"], r["policy"], r["threads"], r["dram_capacity_gb"]) for r in rows] == [
        ("dram-only", "all-dram", "1", ""), ("dram-only", "all-dram", "8", ""),
        ("small", "dram-first", "1", "1"), ("small", "dram-first", "8", "1"),
        ("small", "dram-first", "1", "2"), ("small", "dram-first", "8", "2")]
    assert rows[2]["capacity_gb_dram"] == "1" and rows[2]["status"] == "ok"
    code, _, err = run(["export", str(res), "--format", "parquet", "-o", str(tmp_path / "r.parquet")], capsys)
    assert code == 0, err
    assert pq.read_table(tmp_path / "r.parquet").column("dram_capacity_gb").to_pylist() == [None, None, 1, 1, 2, 2]
    code, _, err = run(["export", TRACE, "--format", "csv", "-o", str(tmp_path / "t.csv")], capsys)
    assert code == 2 and "csv export is for results files and sweep directories" in err


def test_results_export_prices_with_a_chosen_price_file(tmp_path, capsys):
    res = tmp_path / "r.arrow"
    code, _, err = run(["replay", TRACE, "--machine", "dram-only,optane-appdirect", "--policy", "dram-first",
                        "--threads", "1", "-o", str(res)], capsys)
    assert code == 0, err
    code, _, err = run(["export", str(res), "--format", "csv", "-o", str(tmp_path / "a.csv")], capsys)
    assert code == 0, err
    default = {r["machine"]: r for r in csv.DictReader(open(tmp_path / "a.csv"))}
    assert float(default["dram-only"]["cost_usd"]) == 6750.72  # 192 GB x 35.16 USD/GB
    # a price file of its own: DRAM at 10 USD/GB, Optane at 2 (same devices, other numbers)
    shipped = (Path(__file__).resolve().parents[2] / "simulator" / "presets" / "prices.toml").read_text()
    mine = tmp_path / "prices.toml"
    mine.write_text(shipped.replace("usd_per_gb = 35.16", "usd_per_gb = 10.0").replace("usd_per_gb = 4.51", "usd_per_gb = 2.0"))
    assert mine.read_text() != shipped
    code, _, err = run(["export", str(res), "--format", "csv", "--prices", str(mine), "-o", str(tmp_path / "b.csv")],
                       capsys)
    assert code == 0, err
    rows = {r["machine"]: r for r in csv.DictReader(open(tmp_path / "b.csv"))}
    assert float(rows["dram-only"]["cost_usd"]) == 1920.0
    assert float(rows["optane-appdirect"]["cost_usd"]) == 192 * 10.0 + 1536 * 2.0
    code, _, err = run(["export", str(res), "--format", "csv", "--price-choice", "no-such", "-o",
                        str(tmp_path / "c.csv")], capsys)
    assert code == 2 and "no price choice 'no-such'" in err and not (tmp_path / "c.csv").exists()
    code, _, err = run(["export", TRACE, "--format", "parquet", "--price-choice", "reused-dimms", "-o",
                        str(tmp_path / "t.parquet")], capsys)
    assert code == 2 and "a trace has no machine to price" in err
