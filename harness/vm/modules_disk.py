"""The kernel's modules tree as a small read-only ext4 disk for the guest."""

import hashlib
import subprocess
from pathlib import Path

from harness.errors import SetupError
from harness.kernel.artifact import Kernel
from harness.cache import mark_used
from harness.paths import cache_dir


def modules_disk(kernel: Kernel) -> Path:
    """An ext4 image of kernel.modules_dir, cached by the tree's identity."""
    root = Path(kernel.modules_dir)
    dest = cache_dir("modules-disks") / f"{kernel.release or 'mods'}-{_identity(root)}.img"
    if dest.exists():
        mark_used(dest)
        return dest
    partial = dest.with_suffix(".partial")
    size_mb = _tree_size(root) * 13 // 10 // (1 << 20) + 32
    _mkfs(root, partial, size_mb)
    partial.rename(dest)
    return dest


def _identity(root: Path) -> str:
    digest = hashlib.sha256(str(root.resolve()).encode())
    for dep in sorted(root.glob("*/modules.dep")):
        digest.update(dep.read_bytes())
        digest.update(str(dep.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _mkfs(root: Path, image: Path, size_mb: int) -> None:
    for release in root.iterdir():
        if release.is_dir() and not (release / "modules.dep").exists():
            raise SetupError(f"{release} has no modules.dep; run depmod -b on its tree")
    proc = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "hmods", "-d", str(root),
                           str(image), f"{size_mb}M"], capture_output=True, text=True)
    if proc.returncode != 0:
        image.unlink(missing_ok=True)
        raise SetupError(f"mkfs.ext4 for modules failed: {proc.stderr.strip()}")

