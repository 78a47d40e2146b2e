"""Outputs get the mode a user expects (0666 less the umask), not mkstemp's private 0600."""

import os

from hetier.atomic import write_bytes_atomic


def test_an_output_has_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "out.html", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "out.html").stat().st_mode & 0o777 == 0o644
