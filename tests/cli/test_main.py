"""The entry point: --debug before or after the verb; OS errors end in one line."""

import pytest

from hetier.formats.trace import TraceError
from tests.helpers import run_cli


@pytest.mark.parametrize("argv", [["--debug", "info", "missing.arrow"], ["info", "--debug", "missing.arrow"]])
def test_debug_anywhere_shows_the_exception(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TraceError):
        run_cli(argv, capsys)


def test_an_os_error_is_one_line(capsys, tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied", "x.arrow")

    monkeypatch.setattr("hetier.analysis.trace_stats.trace_stats", refuse)
    code, _, err = run_cli(["info", "x.arrow"], capsys)
    assert code == 1 and err == "hetier info: cannot use 'x.arrow': Permission denied\n"
