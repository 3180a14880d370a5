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
    """The UTF-8 text of a user's file; InputError naming `where` and the file.

    The file is named in the message unless `where` names it already, so a
    caller that keeps only the message still knows which file was bad.
    """
    path = Path(path)
    if not where:
        return _read_utf8(path, str(path))
    about = "" if path.name in where else f"{path}: "
    return _read_utf8(path, where, limit, about)


def _read_utf8(path: Path, where: str, limit: int = MAX_INPUT_BYTES, about: str = "") -> str:
    data = _read_limited(path, where, limit, about)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(where, f"{about}not UTF-8 text (byte {exc.start})") from None


def _read_limited(path: Path, where: str, limit: int, about: str) -> bytes:
    if path.is_dir():
        raise InputError(where, f"{about}is a directory, not a file")
    if not path.exists():
        raise InputError(where, f"{about}no such file")
    if not path.is_file():
        raise InputError(where, f"{about}not a regular file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(where, f"{about}cannot read: {exc.strerror}") from None
    if len(data) > limit:
        raise InputError(where, f"{about}larger than {format_size(limit)}, the most an "
                                "input file may have")
    return data


class _Refused(yaml.YAMLError):
    """A construct the strict loader does not accept, with its 1-based line."""

    def __init__(self, mark, problem: str):
        super().__init__(problem)
        self.line = mark.line + 1
        self.problem = problem


class StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases, duplicate keys or unbounded nesting.

    It keeps the key path of the node being composed (e.g. expect[0].metric)
    to name a duplicate key by its path.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._path: list = []

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(event.start_mark, "anchors (&name) and aliases (*name) "
                                             "are not supported")
        if len(self._path) >= MAX_YAML_DEPTH:
            raise _Refused(event.start_mark, f"nested more than {MAX_YAML_DEPTH} levels deep")
        self._path.append(_step(parent, index))
        try:
            node = super().compose_node(parent, index)
        finally:
            self._path.pop()
        if isinstance(parent, yaml.MappingNode) and index is None:
            self._refuse_duplicate(parent, node)
        return node

    def _refuse_duplicate(self, mapping: yaml.MappingNode, key) -> None:
        if not isinstance(key, yaml.ScalarNode):
            return
        for earlier, _ in mapping.value:
            if isinstance(earlier, yaml.ScalarNode) and \
                    (earlier.tag, earlier.value) == (key.tag, key.value):
                raise _Refused(key.start_mark, f"{_render(self._path + [key.value])}: "
                                               f"duplicate key (first at line "
                                               f"{earlier.start_mark.line + 1})")


def _step(parent, index):
    """The path step to a node: a key, a list index, or None (the root, a key)."""
    if isinstance(parent, yaml.SequenceNode):
        return index
    if isinstance(index, yaml.ScalarNode):
        return index.value
    return "?" if isinstance(parent, yaml.MappingNode) and index is not None else None


def _render(steps) -> str:
    text = ""
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        elif step is not None:
            text += f".{step}" if text else str(step)
    return text


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
