"""Publishing cache entries; what the caches hold; pruning unused entries.

Every cache entry is made by publish(): built under a temporary name beside
it (a dot name, which listing and pruning skip) and renamed into place, so an
entry that exists is complete. Every entry is rebuilt on demand from its
inputs, so pruning loses time, never results. An entry's last use is its
mtime: the code that hands out an entry calls mark_used() on it.
"""

import fcntl
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager, suppress
from typing import Callable, Iterator, List, Optional

from harness.paths import cache_dir

# kind -> glob under the cache root. Only these kinds are ever pruned; apt
# lists, the source packages, ccache and the accelerator records stay.
PRUNABLE = {
    "kernels": "kernels/*",
    "debian-kernels": "kernels/debian/*",
    "images": "images/*",
    "modules-disks": "modules-disks/*",
    "workloads": "workloads/*",
    "selftests": "selftests/*",
    "build-trees": "work/*",
    "bisect-clones": "bisect/*",
    "test-trees": "test-trees/*",
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


def publish(final: Path, make: Callable[[Path], None],
            complete: Callable[[Path], bool] = os.path.lexists) -> Path:
    """The cache entry `final`, made by `make` unless it is already complete.

    Holds `<final>.lock` throughout, so concurrent callers make it once. make
    gets a path beside `final` that does not exist yet and creates it (a file
    or a directory); it is renamed to `final` when make returns. On any
    failure, KeyboardInterrupt and SystemExit included, nothing of it stays.
    """
    with _exclusive(Path(f"{final}.lock")):
        if complete(final):
            return final
        for stale in final.parent.glob(f".{final.name}.*.tmp"):
            remove_tree(stale)      # left by a process that was killed
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        try:
            make(tmp)
            if os.path.lexists(final):
                remove_tree(final)  # incomplete, e.g. a prune was interrupted
            os.rename(tmp, final)
        except BaseException:
            with suppress(OSError):
                remove_tree(tmp)
            raise
    return final


@contextmanager
def _exclusive(lock: Path):
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


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
            if path.name in NOT_ENTRIES or path.suffix == ".lock" or path.name[0] == ".":
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
    remove_tree(path)
    Path(f"{path}.lock").unlink(missing_ok=True)


def remove_tree(path: Path) -> None:
    """Remove a file or a directory tree, read-only parts included."""
    if path.is_dir() and not path.is_symlink():
        # Images are made read-only once built; removal needs write permission.
        for sub in [path, *path.rglob("*")]:
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


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
