"""Reading the user's files: every way a file can be bad is bad input, one line.

YAML is read strictly: duplicate keys, anchors/aliases and very deep nesting
are refused (the last duplicate silently winning hides typos; aliases allow a
"billion laughs" bomb; deep nesting overflows Python's stack).
"""

from pathlib import Path

import yaml

from harness.errors import InputError
from harness.units import format_size

MAX_INPUT_BYTES = 1 << 20
MAX_YAML_DEPTH = 50


def read_text_input(path, where: str = "", limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of a user's file; InputError naming `where` and the file."""
    path = Path(path)
    return _read_utf8(path, _label(path, where), limit)


def _read_utf8(path: Path, where: str, limit: int = MAX_INPUT_BYTES) -> str:
    data = _read_limited(path, where, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(where, f"not UTF-8 text (byte {exc.start})") from None


def _label(path: Path, where: str) -> str:
    if not where:
        return str(path)
    return where if path.name in where else f"{where}: {path}"


def _read_limited(path: Path, where: str, limit: int) -> bytes:
    if path.is_dir():
        raise InputError(where, "is a directory, not a file")
    if not path.exists():
        raise InputError(where, "no such file")
    if not path.is_file():
        raise InputError(where, "not a regular file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(where, f"cannot read: {exc.strerror}") from None
    if len(data) > limit:
        raise InputError(where, f"larger than {format_size(limit)}, the most an input "
                                "file may have")
    return data


class _Refused(yaml.YAMLError):
    """A construct the strict loader does not accept, with its 1-based line."""

    def __init__(self, mark, problem: str):
        super().__init__(problem)
        self.line = mark.line + 1
        self.problem = problem


class StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases, duplicate keys or unbounded nesting."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(event.start_mark, "anchors (&name) and aliases (*name) "
                                             "are not supported")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(event.start_mark, f"nested more than {MAX_YAML_DEPTH} "
                                                 "levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        first_line = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in first_line:
                    raise _Refused(key_node.start_mark, f"duplicate key {key!r} (first at "
                                                        f"line {first_line[key]})")
                first_line[key] = key_node.start_mark.line + 1
            except TypeError:
                pass    # an unhashable key: the base class reports it
        return super().construct_mapping(node, deep)


def load_yaml(path: Path, name: str = ""):
    """Parsed YAML from path; InputError('<name> line N', ...) when bad."""
    where = name or str(path)
    text = _read_utf8(Path(path), where)
    try:
        return yaml.load(text, Loader=StrictLoader)
    except _Refused as exc:
        raise InputError(f"{where} line {exc.line}", exc.problem) from None
    except yaml.YAMLError as exc:
        raise InputError(f"{where}{_line_of(exc, text)}",
                         "malformed YAML" + _problem_of(exc)) from None


def _line_of(exc: yaml.YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f" line {mark.line + 1}"
    position = getattr(exc, "position", None)   # a ReaderError: a bad character
    if isinstance(position, int):
        return f" line {text.count(chr(10), 0, position) + 1}"
    return ""


def _problem_of(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
    if not problem:
        return ""
    problem = " ".join(str(problem).split())
    return f" ({problem[:100]})"
