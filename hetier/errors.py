"""Errors the CLI turns into one line on stderr and a non-zero exit (no traceback)."""


class HetierError(Exception):
    """A problem with the user's input or environment, worth one line to the user."""

    exit_code = 1


class UsageError(HetierError):
    """Bad arguments or values; ``exit_code`` is what the CLI returns."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
