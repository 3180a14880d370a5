"""Errors the harness reports to its user as one line, never a traceback."""

import re

# A printed error line is at most 300 characters; the CLI puts
# "damon-harness: error: " in front of an InputError's text.
MAX_INPUT_ERROR = 270
MAX_WHERE = 150
ELLIPSIS = "..."


class HarnessError(Exception):
    """A failure the user can act on; printed as one line."""

    exit_code = 1


class InputError(HarnessError):
    """Bad input from the user (a file, a flag, a field). Exit status 2.

    The text stays one short line even when the input echoed in it is huge.
    """

    exit_code = 2

    def __init__(self, where: str, message: str):
        where = shorten_middle(one_line(str(where)), MAX_WHERE)
        budget = MAX_INPUT_ERROR - (len(where) + 2 if where else 0)
        message = shorten(one_line(str(message)), budget)
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


class HostError(HarnessError):
    """The host side failed: QEMU would not start, a download, a build tool or
    a cache step broke. Not the kernel under test, and not a step inside the
    guest (that is engine.GuestSetupError). Exit status 3."""

    exit_code = 3


def one_line(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def shorten(text: str, limit: int) -> str:
    """text cut to at most `limit` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[:max(limit - len(ELLIPSIS), 0)] + ELLIPSIS


def shorten_middle(text: str, limit: int) -> str:
    """Keeps both ends: a flag's name is at the start, a file's name at the end."""
    if len(text) <= limit:
        return text
    head = (limit - len(ELLIPSIS)) // 2
    tail = limit - len(ELLIPSIS) - head
    return text[:head] + ELLIPSIS + text[len(text) - tail:]
