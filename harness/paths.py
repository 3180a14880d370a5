"""Where caches and results live. Caches sit outside the checkout."""

import os
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir(*parts: str) -> Path:
    base = os.environ.get("DAMON_HARNESS_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        base = os.path.join(xdg, "damon-harness")
    path = Path(base, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir() -> Path:
    base = os.environ.get("DAMON_HARNESS_RESULTS") or "results"
    path = Path(base).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_run_dir(kind: str) -> Path:
    """A fresh, uniquely named directory for one run's artefacts."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results_dir() / f"{stamp}-{kind}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True)
    return path
