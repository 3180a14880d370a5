"""Where caches and results live. Caches sit outside the checkout."""

import os
import time
import uuid
from pathlib import Path
from typing import Optional

from harness.errors import InputError

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_VAR = "DAMON_HARNESS_CACHE"
RESULTS_VAR = "DAMON_HARNESS_RESULTS"


def cache_root() -> Path:
    base = os.environ.get(CACHE_VAR)
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        base = os.path.join(xdg, "damon-harness")
    return Path(base)


def cache_dir(*parts: str) -> Path:
    path = Path(cache_root(), *parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(CACHE_VAR, f"{_not_a_dir(path)} is in the cache's way: it exists "
                                    "and is not a directory") from None
    except PermissionError:
        raise InputError(CACHE_VAR, f"cannot create {path}: permission denied") from None
    return path


def check_output_dir(path, where: str) -> Path:
    """The absolute path of an output directory that exists or can be created.

    Creates nothing: refuses a path (or a parent of it) that exists and is not
    a directory, and a directory the harness cannot write in.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise InputError(where, f"{existing} exists and is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(where, f"cannot write in {existing}: permission denied")
    return path


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor)


def _not_a_dir(path: Path) -> Path:
    existing = _nearest_existing(path)
    return existing if not existing.is_dir() else path


def check_results_dir() -> Path:
    """Where run directories go ($DAMON_HARNESS_RESULTS or ./results), checked
    (InputError naming the variable) but not created."""
    base = os.environ.get(RESULTS_VAR)
    return check_output_dir(base or "results", RESULTS_VAR if base else "results directory")


def results_dir() -> Path:
    path = check_results_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def new_run_dir(kind: str) -> Path:
    """A fresh, uniquely named directory for one run's artefacts."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results_dir() / f"{stamp}-{kind}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True)
    return path


def checked_out(out: Optional[str], flag: str = "--out", results: bool = True) -> Optional[Path]:
    """A command's --out, checked before anything runs (and the results
    directory too, when no --out is given and `results`)."""
    if out is not None:
        return check_output_dir(Path(out), flag)
    if results:
        check_results_dir()
    return None


def run_dir_for(out: Optional[Path], kind: str) -> Path:
    """The --out directory, made; or a new run directory of this kind."""
    if out is None:
        return new_run_dir(kind)
    out.mkdir(parents=True, exist_ok=True)
    return out
