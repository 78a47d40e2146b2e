"""The examples in docs/ run as written (from the repo root, against the sample traces)."""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _blocks(doc: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / doc).read_text(), flags=re.S)


@pytest.mark.parametrize("i, code", list(enumerate(_blocks("docs/trace-format.md"))))
def test_trace_format_examples_run(i, code, capsys):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, f"trace-format.md block {i}", "exec"), {})
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out.strip()
