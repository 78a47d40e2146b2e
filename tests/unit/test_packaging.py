"""Packaging: the license is an SPDX expression, and building hetier (what `pip install .` does)
leaves no build/ or hetier.egg-info/ in the source tree (build_backend/hetier_build.py)."""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_license_is_an_spdx_expression_and_setuptools_knows_it():
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert doc["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in doc["build-system"]["requires"]  # the first to take project.license as a string
    assert doc["build-system"]["build-backend"] == "hetier_build"


@pytest.mark.slow
def test_building_leaves_the_source_tree_as_it_was(tmp_path):
    """A wheel built from a copy of the tree (pip wheel, the build `pip install .` runs; setuptools
    comes from the package index into pip's isolated build environment)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to copy its files")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    src = tmp_path / "src"
    for f in filter(None, files):
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, src / f)
    before = sorted(p.name for p in src.iterdir())
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ".", "-w", str(tmp_path / "dist")],
                         cwd=src, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(p.name for p in src.iterdir()) == before  # no build/, no hetier.egg-info/
    [wheel] = (tmp_path / "dist").glob("hetier-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta
    assert {"hetier/api.py", "hetier/version.py", "hetier/simulator/presets/machines/ddr5-cxl.toml"} <= set(names)
