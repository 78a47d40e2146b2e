"""The examples in docs/ run as written (from the repo root, against the sample traces)."""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _blocks(doc: str) -> list[tuple[str, str]]:
    """Each python example with the text block that follows it (what it prints)."""
    return re.findall(r"```python\n(.*?)```\n(?:(?!```python).)*?```text\n(.*?)```", (ROOT / doc).read_text(), flags=re.S)


def test_every_example_shows_its_output():
    text = (ROOT / "docs/trace-format.md").read_text()
    assert len(_blocks("docs/trace-format.md")) == text.count("```python") == 2


@pytest.mark.parametrize("i, code, expected", [(i, c, e) for i, (c, e) in enumerate(_blocks("docs/trace-format.md"))])
def test_trace_format_examples_print_what_the_doc_says(i, code, expected, capsys):
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, f"trace-format.md block {i}", "exec"), {})
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out == expected


def test_the_stack_keys_table_is_the_declarations():
    from hetier.simulator.stack import keys_table

    text = (ROOT / "docs/simulator.md").read_text()
    table = text.split("<!-- stack keys: generated -->\n", 1)[1].split("<!-- end stack keys -->", 1)[0]
    assert table == keys_table()


def test_the_machine_keys_table_is_the_declarations():
    from hetier.simulator.machine import keys_table

    text = (ROOT / "docs/simulator.md").read_text()
    table = text.split("<!-- machine keys: generated -->\n", 1)[1].split("<!-- end machine keys -->", 1)[0]
    assert table == keys_table()
