"""A reproduction's conditions: named variants of one scenario, each given
as overrides by key path, e.g.

  conditions:
    never-hugepage:   {guest.thp: never,   damon.kdamonds[0].contexts[0].schemes[0].action: hugepage}
    never-collapse:   {guest.thp: never,   damon.kdamonds[0].contexts[0].schemes[0].action: collapse}

Each variant is validated as a whole scenario, named NAME-CONDITION; a path
must name a key the scenario has.

The same overrides let one reproduction file extend another (a control, for
instance): `extends: OTHER.yaml` with `overrides:` by key path; its other
keys (name, description, ...) replace OTHER's."""

import copy
import re
from pathlib import Path
from typing import Dict, List, Tuple

from harness.schema import At, name as read_name

_INDEX = re.compile(r"^(.*?)((?:\[\d+\])+)$")


def split(path: str, doc, at: At) -> List:
    """The steps of `path` through `doc`: dict keys (which may hold dots,
    like memory.max: the longest that exists wins) and list indices; the
    last key may be new."""
    parts, steps, node = path.split("."), [], doc
    while parts:
        for n in range(len(parts), 0, -1):
            word = ".".join(parts[:n])
            m = _INDEX.match(word)
            key, indices = (m.group(1), [int(i) for i in re.findall(r"\d+", m.group(2))]) \
                if m else (word, [])
            if isinstance(node, dict) and key in node:
                steps.append(key)
                node = node[key]
                for i in indices:
                    if not isinstance(node, list) or i >= len(node):
                        raise at.error(f"{path!r}: {key} has no item {i}")
                    steps.append(i)
                    node = node[i]
                parts = parts[n:]
                break
        else:
            if isinstance(node, dict) and len(parts) == 1 and "[" not in parts[0]:
                # A last key the mapping lacks is added; the scenario's own
                # validation refuses it if that mapping has no such key.
                return steps + parts
            raise at.error(f"{path!r}: the scenario has no key {parts[0]!r} there")
    return steps


def apply(raw: dict, overrides, at: At) -> dict:
    if not isinstance(overrides, dict) or not overrides:
        raise at.error("must map key paths to values (e.g. guest.thp: madvise)")
    doc = copy.deepcopy(raw)
    for path, value in overrides.items():
        *parents, last = split(str(path), doc, at)
        node = doc
        for step in parents:
            node = node[step]
        node[last] = value
    return doc


def extended(raw: dict, path: Path, at: At) -> dict:
    """`raw` itself, or the file it extends with its overrides applied."""
    from harness.yamlfile import load_yaml
    if "extends" not in raw:
        return raw
    base_path = path.parent / str(raw["extends"])
    if not base_path.is_file():
        raise (at / "extends").error(f"no such file: {base_path}")
    base = load_yaml(base_path, base_path.name)
    if not isinstance(base, dict) or "extends" in base:
        raise (at / "extends").error(f"{base_path.name} must be a reproduction that "
                                     f"extends no other")
    doc = apply(base, raw["overrides"], at / "overrides") if "overrides" in raw \
        else copy.deepcopy(base)
    doc.update({k: v for k, v in raw.items() if k not in ("extends", "overrides")})
    return doc


def variants(raw: dict, at: At) -> List[Tuple[str, dict]]:
    """(condition, scenario YAML) for each condition, in the file's order."""
    table = raw["conditions"]
    if not isinstance(table, dict) or not table:
        raise (at / "conditions").error("must name at least one condition")
    base = {k: v for k, v in raw.items() if k not in ("conditions", "reference")}
    out = []
    for cond, overrides in table.items():
        where = at / "conditions" / str(cond)
        read_name(cond, where)
        doc = apply(base, overrides, where)
        doc["name"] = f"{raw.get('name', 'scenario')}-{cond}"
        out.append((cond, doc))
    return out


def prefixed(cond: str, figure: str) -> str:
    return f"{cond}: {figure}" if cond else figure


def figure_names(scenarios: Dict[str, object]) -> Dict[str, object]:
    """{condition-prefixed figure name: its FigureKind} over all variants."""
    from harness.compare.figures import figure_names as names_of
    return {prefixed(cond, n): kind for cond, sc in scenarios.items()
            for n, kind in names_of(sc).items()}
