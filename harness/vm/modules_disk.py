"""The kernel's modules tree as a small read-only ext4 disk for the guest."""

import hashlib
import subprocess
from pathlib import Path

from harness.errors import HostError
from harness.kernel.artifact import Kernel
from harness.cache import mark_used, publish
from harness.paths import cache_dir


def modules_disk(kernel: Kernel) -> Path:
    """An ext4 image of kernel.modules_dir, cached by the tree's identity."""
    root = Path(kernel.modules_dir)
    dest = cache_dir("modules-disks") / f"{kernel.release or 'mods'}-{_identity(root)}.img"
    publish(dest, lambda tmp: _mkfs(root, tmp, _disk_mb(root)))
    mark_used(dest)
    return dest


def _identity(root: Path) -> str:
    digest = hashlib.sha256(str(root.resolve()).encode())
    for dep in sorted(root.glob("*/modules.dep")):
        digest.update(dep.read_bytes())
        digest.update(str(dep.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def _disk_mb(root: Path) -> int:
    """Room for the tree plus ext4's overhead."""
    return _tree_size(root) * 13 // 10 // (1 << 20) + 32


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _mkfs(root: Path, image: Path, size_mb: int) -> None:
    for release in root.iterdir():
        if release.is_dir() and not (release / "modules.dep").exists():
            raise HostError(f"{release} has no modules.dep; run depmod -b on its tree")
    proc = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "hmods", "-d", str(root),
                           str(image), f"{size_mb}M"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostError(f"mkfs.ext4 for modules failed: {proc.stderr.strip()}")

