"""User strings reach the terminal as text: rich markup is not interpreted, escapes are not sent."""

import pytest

from hetier.terminal import plain, safe
from tests.helpers import GOOD_ROWS, run_cli, tiny_meta, write_tiny

HOSTILE = ("[/bold]", "[link=https://example.com]click[/link]", "\x1b[2J\x1b]8;;https://x\x07osc")


@pytest.fixture
def hostile_trace(tmp_path):
    meta = tiny_meta(layers=HOSTILE)
    meta["model"]["name"] = "[bold red]model\x1b[31m"
    (tmp_path / "x[").mkdir()
    return write_tiny(tmp_path / "x[/b]t.arrow", GOOD_ROWS, meta)  # a path with [/b] in it


def test_plain_and_safe():
    assert plain("a\x1b[2Jb\u202e\n") == "a\\x1b[2Jb\\u202e\\x0a"
    assert safe("[/bold]") == "\\[/bold]"
    assert plain("x" * 1000).endswith("...(+800 chars)")


def _assert_inert(text: str) -> None:
    """No raw escape or bell reaches the terminal, and the hostile model name is shown escaped."""
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[31m" in text


@pytest.mark.parametrize("argv", [["info"], ["check"], ["report", "--format", "text"], ["replay", "--machine", "dram-only"]])
def test_hostile_names_are_shown_as_text(hostile_trace, capsys, argv):
    code, out, err = run_cli([argv[0], hostile_trace, *argv[1:]], capsys)
    assert code == 0, err
    assert "Traceback" not in err and "\x1b" not in out + err and "\x07" not in out + err
    if argv[0] in ("info", "replay", "report"):
        _assert_inert(out)
        assert "[bold red]model\\x1b[31m" in out.replace("\n", "")
    if argv[0] == "info":
        assert "[/bold]" in out and "[link=https://example.com]click[/link]" in out
        assert "\\x1b[2J\\x1b]8;;https://x\\x07osc" in out


def test_error_lines_escape_control_characters(tmp_path, capsys):
    code, out, err = run_cli(["info", str(tmp_path / "no\x1b[2Jsuch[/b].arrow")], capsys)
    assert code != 0
    assert "\x1b" not in err and "no\\x1b[2Jsuch[/b].arrow" in err and len(err.splitlines()) == 1
