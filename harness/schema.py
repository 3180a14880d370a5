"""Models declared once: each dataclass field says how its YAML key is read.

A model is a dataclass whose fields carry a reader (`key(reader, ...)`).
`read(Model, raw, at, ctx)` refuses unknown and missing keys, reads the keys
in the order the fields are declared, and then calls the model's
`validate(at, ctx)` for rules that span fields. The known keys, the
defaults, the types and ranges, and the error messages all come from that
one declaration. Every error is an InputError naming the file and the key
path, e.g. "collapse.yaml: damon.kdamonds[0].contexts[0].schemes[1].action".

A reader is any callable (value, at, ctx) -> parsed value.
"""

import dataclasses
import math
import re
from typing import Any, Callable, Dict, List, Optional

from harness.errors import InputError
from harness.units import parse_size

U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
Reader = Callable[[Any, "At", "Context"], Any]
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, None: 1, "m": 60, "min": 60, "h": 3600}
_SHOWN = 60


# ------------------------------------------------------------------ where

class At:
    """A position in a file, for error messages: 'file.yaml: a.b[2].c'."""

    def __init__(self, file: str, path: str = ""):
        self.file, self.path = file, path

    def __truediv__(self, key) -> "At":
        if isinstance(key, int):
            return At(self.file, f"{self.path}[{key}]")
        return At(self.file, f"{self.path}.{key}" if self.path else str(key))

    def error(self, message: str) -> InputError:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return InputError(where, message)


class Context:
    """What readers may consult: names declared earlier in the file, the
    topology, and the fields already read at the current level."""

    def __init__(self, base_dir=None):
        self.base_dir = base_dir
        self.topology = None
        self.names: Dict[str, Dict[str, Any]] = {}
        self.levels: List[Dict[str, Any]] = []
        self.extra: Dict[str, Any] = {}

    def declare(self, kind: str, table: Dict[str, Any]) -> None:
        self.names[kind] = table

    def lookup(self, field_name: str, default=None):
        """A field read earlier in this model or an enclosing one."""
        for level in reversed(self.levels):
            if field_name in level:
                return level[field_name]
        return default


def shown(value) -> str:
    """A value as it appears in a message, cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


# ------------------------------------------------------------------ models

def key(reader: Reader, *, default=None, factory=None, required=False,
        name: Optional[str] = None):
    """A model field read from the YAML key `name` (default: the field's)."""
    meta = {"reader": reader, "required": required, "yaml": name}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def keyed_fields(cls):
    return [(f, f.metadata["yaml"] or f.name)
            for f in dataclasses.fields(cls) if "reader" in f.metadata]


def known_keys(cls):
    return [k for _, k in keyed_fields(cls)]


def read(cls, raw, at: At, ctx: Context):
    """An instance of the model `cls` from a YAML mapping."""
    specs = keyed_fields(cls)
    raw = mapping(raw, at, [k for _, k in specs])
    got: Dict[str, Any] = {}
    ctx.levels.append(got)
    try:
        for f, k in specs:
            if raw.get(k) is None:
                if f.metadata["required"]:
                    raise (at / k).error("is required")
                continue
            got[f.name] = f.metadata["reader"](raw[k], at / k, ctx)
    finally:
        ctx.levels.pop()
    obj = cls(**got)
    validate = getattr(obj, "validate", None)
    if validate:
        validate(at, ctx)
    return obj


def model(cls) -> Reader:
    return lambda raw, at, ctx: read(cls, raw, at, ctx)


def mapping(raw, at: At, known, required=()) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise at.error(f"must be a mapping, not {type(raw).__name__}")
    for k in raw:
        if k not in known:
            raise (at / str(k)).error(f"unknown key (known: {', '.join(sorted(known))})")
    for k in required:
        if raw.get(k) is None:
            raise (at / k).error("is required")
    return raw


def exactly_one(raw: dict, at: At, choices) -> str:
    present = [k for k in choices if k in raw]
    if len(present) != 1:
        raise at.error(f"needs exactly one of: {', '.join(choices)}")
    return present[0]


# ------------------------------------------------------------------ readers

def list_of(item: Reader, allow_empty: bool = True, scalar_ok: bool = False) -> Reader:
    def read_list(raw, at, ctx):
        if scalar_ok and not isinstance(raw, (list, dict)):
            raw = [raw]
        if not isinstance(raw, list):
            raise at.error(f"must be a list, not {type(raw).__name__}")
        if not raw and not allow_empty:
            raise at.error("must not be empty")
        return [item(v, at / i, ctx) for i, v in enumerate(raw)]
    return read_list


def map_of(item: Reader, allow_empty: bool = True) -> Reader:
    """A mapping whose keys are names the user chooses; an item that is a
    model with a `name` field gets its key as its name."""
    def read_map(raw, at, ctx):
        raw = mapping(raw, at, raw if isinstance(raw, dict) else ())
        if not raw and not allow_empty:
            raise at.error("must name at least one")
        out = {}
        for name, value in raw.items():
            out[name_of(name, at / str(name))] = obj = item(value, at / str(name), ctx)
            if dataclasses.is_dataclass(obj) and hasattr(obj, "name"):
                obj.name = name
        return out
    return read_map


def name_of(raw, at: At) -> str:
    if not isinstance(raw, str) or not _NAME.match(raw):
        raise at.error(f"{shown(raw)} is not a name (letters, digits, _ and -, "
                       f"starting with a letter)")
    return raw


def name(raw, at: At, ctx=None) -> str:
    return name_of(raw, at)


def integer(lo: int = 0, hi: int = U64_MAX) -> Reader:
    def read_int(raw, at, ctx=None):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise at.error(f"must be an integer, not {shown(raw)}")
        if not lo <= raw <= hi:
            raise at.error(f"{shown(raw)} is out of range {lo}..{hi}")
        return raw
    return read_int


def number(lo: float = 0.0, hi: float = math.inf) -> Reader:
    """A finite float in [lo, hi]."""
    def read_number(raw, at, ctx=None):
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) \
                or not math.isfinite(raw):
            raise at.error(f"must be a finite number, not {shown(raw)}")
        if not lo <= raw <= hi:
            raise at.error(f"{shown(raw)} is out of range {lo:g}..{hi:g}")
        return float(raw)
    return read_number


_KERNEL_PARAM = re.compile(r"^[A-Za-z0-9_.-]+(=[^\s\"']+)?$")


def kernel_parameter(raw, at: At, ctx=None) -> str:
    """One word of a kernel command line: `name` or `name=value`."""
    if not isinstance(raw, str) or not _KERNEL_PARAM.match(raw):
        raise at.error(f"{shown(raw)} is not a kernel parameter (name or name=value, "
                       f"no spaces or quotes)")
    return raw


def boolean(raw, at: At, ctx=None) -> bool:
    if not isinstance(raw, bool):
        raise at.error(f"must be true or false, not {shown(raw)}")
    return raw


def choice(*options) -> Reader:
    def read_choice(raw, at, ctx=None):
        if not isinstance(raw, str) or raw not in options:
            raise at.error(f"{shown(raw)} is not one of: {', '.join(map(str, options))}")
        return raw
    return read_choice


def text(raw, at: At, ctx=None) -> str:
    """A scalar written to a file: strings and numbers; true/false as 1/0."""
    if isinstance(raw, bool):
        return "1" if raw else "0"
    if isinstance(raw, float) and not math.isfinite(raw):
        raise at.error(f"must be a finite number, not {shown(raw)}")
    if not isinstance(raw, (str, int, float)):
        raise at.error(f"must be a string or a number, not {type(raw).__name__}")
    return str(raw)


def size(lo: int = 0, allow_max: bool = False) -> Reader:
    """Bytes from 64MiB, 2G, 4096; 'max' as U64_MAX when allowed."""
    def read_size(raw, at, ctx=None):
        if allow_max and raw == "max":
            return U64_MAX
        try:
            value = parse_size(raw)
        except ValueError as exc:
            raise at.error(str(exc)) from None
        if not lo <= value <= U64_MAX:
            raise at.error(f"{shown(raw)} is out of range: at least {lo} bytes and at "
                           f"most 2^64-1")
        return value
    return read_size


def duration(positive: bool = False) -> Reader:
    """Seconds from 30, 2.5, '30s', '500ms', '2m'."""
    def read_duration(raw, at, ctx=None):
        value = _seconds(raw, at)
        if positive and value <= 0:
            raise at.error("must be longer than 0 s")
        return value
    return read_duration


def _seconds(raw, at: At) -> float:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if not math.isfinite(raw) or raw < 0:
            raise at.error(f"not a duration: {shown(raw)} (a finite number of seconds >= 0)")
        return float(raw)
    match = _DURATION.match(raw) if isinstance(raw, str) else None
    if not match:
        raise at.error(f"not a duration: {shown(raw)} (use e.g. 30s, 500ms, 2m)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def string_map(key_pattern: str) -> Reader:
    """A mapping of names matching key_pattern to scalar values (as text)."""
    def read_string_map(raw, at, ctx):
        raw = mapping(raw, at, raw if isinstance(raw, dict) else ())
        out = {}
        for k, value in raw.items():
            if not isinstance(k, str) or not re.match(key_pattern, k):
                raise (at / str(k)).error(f"not a valid key (must match {key_pattern})")
            out[k] = text(value, at / k)
        return out
    return read_string_map


def ref(kind: str, declared_in: str) -> Reader:
    """A name declared earlier in the file (a workload, cgroup, scheme...)."""
    def read_ref(raw, at, ctx):
        table = ctx.names.get(kind, {})
        if not isinstance(raw, str) or raw not in table:
            raise at.error(f"unknown {kind[:-1]} {shown(raw)} ({declared_in} has: "
                           f"{', '.join(table) or 'none'})")
        return raw
    return read_ref


def node(raw, at: At, ctx: Context) -> int:
    """A NUMA node id of the scenario's topology."""
    nid = integer()(raw, at)
    topo = ctx.topology
    if nid >= len(topo.nodes):
        raise at.error(f"node {nid} does not exist: topology {topo.name!r} has "
                       f"nodes 0..{len(topo.nodes) - 1}")
    return nid
