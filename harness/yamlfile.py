"""Reading the user's YAML files: a syntax error is bad input with its line."""

from pathlib import Path

import yaml

from harness.errors import InputError


def load_yaml(path: Path, name: str = ""):
    """Parsed YAML from path; InputError('<name> line N', ...) when malformed."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise InputError(f"{name or path}{line}", "malformed YAML") from None
