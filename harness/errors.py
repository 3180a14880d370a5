"""Errors the harness reports to its user as one line, never a traceback."""


class HarnessError(Exception):
    """A failure the user can act on; printed as one line."""

    exit_code = 1


class InputError(HarnessError):
    """Bad input from the user (a file, a flag, a field). Exit status 2."""

    exit_code = 2

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


class SetupError(HarnessError):
    """The host or a download/build step failed (not the kernel under test)."""

    exit_code = 3
