"""Kernel config fragments: find, merge, apply on a minimal base, verify.

Fragments are merged in order (a later value wins) and given to
`make allnoconfig KCONFIG_ALLCONFIG=<merged>`, so everything the fragments do
not ask for (or select) stays off. Kconfig silently drops a requested value
whose dependencies are unmet, so the final .config is checked against every
requested option.
"""

import os
import re
import subprocess
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from harness.errors import InputError, HostError
from harness.paths import REPO_ROOT
from harness.yamlfile import read_text_input

CONFIGS_DIR = REPO_ROOT / "kernel-configs"
DEFAULT_FRAGMENTS = ("base.config", "guest.config", "damon.config")
ARCH = "x86_64"

_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
# A fragment line ending in this asks for the option only where the tree has
# it (an option that arrived or was renamed after the oldest tree we build);
# a tree without it builds without it, and the build says so.
IN_TREE_MARK = "# if in tree"
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")


def resolve_fragment(name: str) -> Path:
    """A path, or a fragment name in kernel-configs/ (".config" optional)."""
    candidates = [Path(name).expanduser()]
    if os.sep not in name:
        candidates += [CONFIGS_DIR / name, CONFIGS_DIR / f"{name}.config"]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    known = ", ".join(sorted(p.stem for p in CONFIGS_DIR.glob("*.config")))
    raise InputError("--config", f"no such fragment: {name} (known: {known})")


def parse(text: str, where: str = "", strict: bool = True,
          if_in_tree: Optional[set] = None) -> Dict[str, str]:
    """Options of a fragment or .config; "# CONFIG_X is not set" means n.
    The names of options marked IN_TREE_MARK are added to if_in_tree, and
    those set without it taken out of it."""
    options: Dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        marked = line.endswith(IN_TREE_MARK) and not line.startswith("#")
        line = line[:-len(IN_TREE_MARK)].rstrip() if marked else line
        match = _SET.match(line) or _UNSET.match(line)
        if match and if_in_tree is not None:
            (if_in_tree.add if marked else if_in_tree.discard)(match.group(1))
        if match:
            options[match.group(1)] = match.group(2) if _SET.match(line) else "n"
        elif strict and line and not line.startswith("#"):
            raise InputError("--config", f"{where}:{lineno}: not a config line: {line!r}")
    return options


def read_config(path: Path) -> Dict[str, str]:
    """A built kernel's .config."""
    return parse(path.read_text(errors="replace"), str(path), strict=False)


def option_set(config: Path, name: str) -> bool:
    return read_config(config).get(name, "n") in ("y", "m")


def merge(fragments: Iterable[Path], if_in_tree: Optional[set] = None) -> Dict[str, str]:
    """Options of all fragments in order; a later fragment overrides (its
    IN_TREE_MARK too, collected in if_in_tree)."""
    merged: Dict[str, str] = {}
    for path in fragments:
        merged.update(parse(read_text_input(path, "--config"), str(path), True, if_in_tree))
    return merged


def render(options: Dict[str, str]) -> str:
    lines = []
    for name, value in options.items():
        lines.append(f"# {name} is not set" if value == "n" else f"{name}={value}")
    return "\n".join(lines) + "\n"


def _same(want: str, got: Optional[str]) -> bool:
    if want == "n":
        return got in (None, "n")
    return got is not None and want.strip('"') == got.strip('"')


def mismatches(requested: Dict[str, str],
               actual: Dict[str, str]) -> List[Tuple[str, str, str]]:
    """(option, requested, got) for every requested value that did not hold."""
    return [(name, want, actual.get(name, "n"))
            for name, want in requested.items()
            if not _same(want, actual.get(name))]


# A make that runs the harness (make test, make bench-test) hands its level
# and flags down; Kbuild would then run as a sub-make, print "Entering
# directory" lines into `make -s kernelrelease`'s output (seen under make
# bench-test) and join the outer make's jobserver. Kbuild runs on its own.
OUTER_MAKE = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "GNUMAKEFLAGS")


def own_make_env() -> dict:
    """This process's environment without what an outer make handed down."""
    return {k: v for k, v in os.environ.items() if k not in OUTER_MAKE}


def _make(src: Path, objdir: Path, *targets: str, extra: Iterable[str] = ()) -> None:
    cmd = ["make", "-s", "-C", str(src), f"O={objdir}", f"ARCH={ARCH}", *extra, *targets]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=own_make_env())
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise HostError(f"make {' '.join(targets)} failed: {tail}")


def generate(src: Path, objdir: Path, requested: Dict[str, str],
             make_args: Iterable[str] = ()) -> Path:
    """Write objdir/.config: allnoconfig + the requested options + olddefconfig."""
    objdir.mkdir(parents=True, exist_ok=True)
    fragment = objdir / "harness-fragment.config"
    fragment.write_text(render(requested))
    make_args = list(make_args)
    _make(src, objdir, "allnoconfig", extra=[*make_args, f"KCONFIG_ALLCONFIG={fragment}"])
    _make(src, objdir, "olddefconfig", extra=make_args)
    return objdir / ".config"


def verify(src: Path, requested: Dict[str, str], config: Path,
           if_in_tree: Iterable[str] = ()) -> List[str]:
    """Raise InputError naming each requested option that did not hold;
    the options marked IN_TREE_MARK that the tree does not have are left
    out instead, and returned."""
    actual = parse(config.read_text(), strict=False)
    bad = mismatches(requested, actual)
    if not bad:
        return []
    index = kconfig_index(src)
    left_out = [name for name, _, _ in bad
                if name in if_in_tree and name[len("CONFIG_"):] not in index]
    bad = [b for b in bad if b[0] not in left_out]
    if bad:
        parts = [explain(name, want, got, index, actual) for name, want, got in bad]
        raise InputError("--config", f"{len(bad)} option(s) did not hold: " + "; ".join(parts))
    return left_out


def explain(name: str, want: str, got: str, index: Dict[str, List[str]],
            actual: Dict[str, str]) -> str:
    """One option's failure with the unmet dependency, where Kconfig tells it."""
    head = f"{name}={want} (got {got}"
    symbol = name[len("CONFIG_"):]
    if symbol not in index:
        return head + "; no such option in this kernel)"
    unmet = [term for dep in index[symbol] for term in failing_terms(dep, actual)]
    if unmet:
        return head + "; unmet dependency: " + ", ".join(unmet) + ")"
    return head + ")"


def failing_terms(expr: str, actual: Dict[str, str]) -> List[str]:
    """Terms of a `depends on` expression that the config does not satisfy.

    Plain `A && !B` conjunctions are judged term by term; an expression with
    `||`, comparisons or parentheses is returned whole when it is not known
    to hold.
    """
    if any(tok in expr for tok in ("||", "(", "=", "<", ">")):
        return [expr]
    return [term for term in (t.strip() for t in expr.split("&&"))
            if not _term_holds(term, actual)]


def _term_holds(term: str, actual: Dict[str, str]) -> bool:
    negated = term.startswith("!")
    value = actual.get("CONFIG_" + term.lstrip("!").strip(), "n")
    return (value in ("y", "m")) != negated


def kconfig_index(src: Path) -> Dict[str, List[str]]:
    """symbol -> its `depends on` expressions, from every Kconfig file."""
    index: Dict[str, List[str]] = {}
    for path in _kconfig_files(src):
        _index_file(path, index)
    return index


def _kconfig_files(src: Path):
    for root, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d not in (".git", "Documentation", "tools")]
        for name in files:
            if name.startswith("Kconfig"):
                yield Path(root, name)


_CONFIG = re.compile(r"^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$")
_DEPENDS = re.compile(r"^\s*depends on\s+(.+?)\s*(?:#.*)?$")
_BLOCK_END = re.compile(r"^\s*(?:config|menuconfig|choice|endchoice|menu|endmenu|if|endif|"
                        r"source|comment|help|---help---)\b")


def _index_file(path: Path, index: Dict[str, List[str]]) -> None:
    current = None
    for line in path.read_text(errors="replace").splitlines():
        match = _CONFIG.match(line)
        if match:
            current = match.group(1)
            index.setdefault(current, [])
            continue
        if _BLOCK_END.match(line):
            current = None
            continue
        dep = _DEPENDS.match(line)
        if current and dep:
            index[current].append(dep.group(1))
