"""examples/three_questions.py (a jupytext notebook) runs headless, top to bottom, on its small
default configuration, and answers its three questions."""

from pathlib import Path

import jupytext
import nbclient

import hetier

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples/three_questions.py"


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def test_the_notebook_is_kept_without_outputs():
    # percent-format .py only: a notebook's outputs (and their numbers) never land in git
    assert sorted(p.name for p in (ROOT / "examples").iterdir() if not p.name.startswith(".")) == ["three_questions.py"]
    assert "format_name: percent" in NOTEBOOK.read_text()


def test_the_notebook_answers_its_three_questions(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    nb = jupytext.read(NOTEBOOK)
    nbclient.NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                            ).execute()  # raises CellExecutionError on any error, naming the cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    out = "".join(_text(c) for c in code)
    assert "planned events, peak 3.83 GB live" in out
    # 1 GB of DRAM for 4.97 GB needed (3.83 GB live, SEAL's pool and hetier's runtime besides)
    assert "memory needed 4.97 GB" in out and "fits the machine | needs 3.97 GB outside DRAM" in out
    assert "best placement: " in out
    assert "cheapest within 10% of all-DRAM: ddr5-cxl" in out
    fit = hetier.stack("he-transformer").fit  # question 3 reads the fit, it does not type it
    assert f"RMS error {fit['rms_error']:.1%}, leave-one-out {fit['loo_rms_error']:.1%}" in out
    mimes = {m for c in code for o in c.get("outputs", []) for m in o.get("data", {})}
    assert "application/vnd.plotly.v1+json" in mimes  # the Pareto figure shows inline
    assert (tmp_path / "three-questions" / "sweep" / "configs.parquet").exists()
