"""What the caches hold, and pruning the entries nobody has used for a while.

Every cache entry is rebuilt on demand from its inputs, so pruning loses time,
never results. An entry's last use is its mtime: the code that hands out an
entry calls mark_used() on it.
"""

import fcntl
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

from harness.paths import cache_dir

# kind -> glob under the cache root. Only these kinds are ever pruned; apt
# lists, the source packages, ccache and the accelerator records stay.
PRUNABLE = {
    "kernels": "kernels/*",
    "debian-kernels": "kernels/debian/*",
    "images": "images/*",
    "modules-disks": "modules-disks/*",
    "workloads": "workloads/*",
    "build-trees": "work/*",
    "venvs": "venv-*",
}
KEPT = ["apt", "sources", "ccache", "debootstrap-debs", "accel"]
# Not entries themselves: kernels/ holds these next to the artefacts.
NOT_ENTRIES = {"requests", "debian"}
DAY_S = 86400


@dataclass
class Entry:
    kind: str
    path: Path
    size: int
    last_used: float


def mark_used(path: Path) -> None:
    """Record a use of a cache entry (a missing one is simply not marked)."""
    try:
        os.utime(path)
    except OSError:
        pass


def disk_usage(path: Path) -> int:
    """Bytes on disk (sparse images count what they really use)."""
    if not path.is_dir() or path.is_symlink():
        return _blocks(path)
    total = 0
    for root, dirs, files in os.walk(path):
        total += sum(_blocks(Path(root, name)) for name in files + dirs)
    return total


def _blocks(path: Path) -> int:
    try:
        return path.lstat().st_blocks * 512
    except OSError:
        return 0


def entries(root: Optional[Path] = None) -> Iterator[Entry]:
    root = root or cache_dir()
    for kind, pattern in PRUNABLE.items():
        for path in sorted(root.glob(pattern)):
            if path.name in NOT_ENTRIES or path.suffix == ".lock":
                continue
            yield Entry(kind, path, disk_usage(path), path.stat().st_mtime)


def in_use(entry: Entry) -> bool:
    """The running venv, and a build tree another process holds locked."""
    if entry.kind == "venvs":
        return Path(sys.prefix).resolve() == entry.path.resolve()
    if entry.kind == "build-trees":
        return _locked(entry.path / "lock")
    return False


def _locked(lock: Path) -> bool:
    if not lock.exists():
        return False
    with open(lock) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def prune(older_than_days: float, dry_run: bool = False,
          root: Optional[Path] = None) -> List[Entry]:
    """Remove (or, dry, list) entries unused for longer than the given days."""
    root = root or cache_dir()
    cutoff = time.time() - older_than_days * DAY_S
    chosen = [e for e in entries(root) if e.last_used < cutoff and not in_use(e)]
    if not dry_run:
        for entry in chosen:
            _remove(entry.path)
        drop_dangling_requests(root)
    return chosen


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        # Images are made read-only once built; removal needs write permission.
        for sub in [path, *path.rglob("*")]:
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    Path(f"{path}.lock").unlink(missing_ok=True)


def drop_dangling_requests(root: Path) -> None:
    """A build request whose artefact is gone must not look like a cache hit."""
    for link in (root / "kernels" / "requests").glob("*"):
        target = root / "kernels" / link.read_text().strip()
        if not (target / "metadata.json").is_file():
            link.unlink()


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
