"""Debian's prebuilt cloud kernel: resolved, downloaded, checked and cached."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from harness.errors import HostError
from harness.hashing import file_sha256
from harness.kernel import debian
from harness.kernel.artifact import Kernel, is_bzimage
from harness.cache import mark_used, publish
from harness.paths import cache_dir

METAPACKAGE = "linux-image-cloud-amd64"
# Options the harness relies on; a kernel lacking one is rejected at fetch time.
REQUIRED_CONFIG = ("CONFIG_DAMON", "CONFIG_DAMON_VADDR", "CONFIG_DAMON_PADDR",
                   "CONFIG_DAMON_SYSFS", "CONFIG_NUMA", "CONFIG_MEMCG",
                   "CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_MIGRATION",
                   "CONFIG_BLK_DEV_NVME", "CONFIG_EXT4_FS")


def default_kernel() -> Kernel:
    """The current Debian cloud kernel, from the cache when already fetched."""
    try:
        debian.update()
        image_pkg = _image_package()
        version = debian.candidate_version(image_pkg)
    except HostError as exc:
        cached = _newest_cached()
        if cached is None:
            raise
        print(f"warning: {exc}; using cached {cached.origin.get('package')}", file=sys.stderr)
        return cached
    dest = cache_dir("kernels", "debian") / f"{image_pkg}_{version}"
    publish(dest, lambda tmp: _fetch(image_pkg, version, tmp),
            complete=lambda entry: (entry / "metadata.json").is_file())
    mark_used(dest)
    return _load(dest)


def _image_package() -> str:
    for dep in debian.dependencies(METAPACKAGE):
        if dep.startswith("linux-image-"):
            return dep
    raise HostError(f"{METAPACKAGE} depends on no linux-image package")


def _fetch(image_pkg: str, version: str, staging: Path) -> None:
    """Download, unpack and check the kernel's packages into `staging`."""
    print(f"fetching {image_pkg} {version} from Debian", file=sys.stderr)
    packages = [image_pkg] + [d for d in debian.dependencies(image_pkg)
                              if d.startswith(("linux-binary-", "linux-modules-", "linux-base-"))]
    debs = [debian.download(pkg, staging / "debs") for pkg in packages]
    for deb in debs:
        debian.unpack(deb, staging / "root")
    release = _release(staging / "root")
    modroot = staging / "root" / "usr" / "lib" / "modules"
    _depmod(staging / "root" / "usr", release)
    config = (modroot / release / "config").read_text()
    _check_kernel(modroot / release / "vmlinuz", config)
    meta = {
        "package": image_pkg,
        "version": version,
        "release": release,
        "debs": {deb.name: file_sha256(deb) for deb in debs},
        "image": f"root/usr/lib/modules/{release}/vmlinuz",
        "modules_dir": "root/usr/lib/modules",
    }
    shutil.rmtree(staging / "debs")
    (staging / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")


def _release(root: Path) -> str:
    releases = [p.name for p in (root / "usr" / "lib" / "modules").iterdir()
                if (p / "vmlinuz").exists()]
    if len(releases) != 1:
        raise HostError(f"expected one vmlinuz in the Debian packages, found {releases}")
    return releases[0]


def _depmod(base: Path, release: str) -> None:
    proc = subprocess.run(["depmod", "-b", str(base), release], capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostError(f"depmod failed: {proc.stderr.strip()}")


def _check_kernel(vmlinuz: Path, config: str) -> None:
    if not is_bzimage(vmlinuz):
        raise HostError(f"{vmlinuz} is not an x86 bzImage")
    missing = [opt for opt in REQUIRED_CONFIG if f"\n{opt}=y" not in "\n" + config]
    if missing:
        raise HostError(f"Debian kernel lacks {', '.join(missing)}")


def _load(dest: Path) -> Kernel:
    meta = json.loads((dest / "metadata.json").read_text())
    return Kernel(image=dest / meta["image"], modules_dir=dest / meta["modules_dir"],
                  release=meta["release"],
                  origin={"kind": "debian", "package": meta["package"],
                          "version": meta["version"], "debs": meta["debs"]})


def _newest_cached() -> Optional[Kernel]:
    done: List[Path] = sorted((p for p in cache_dir("kernels", "debian").glob("*/metadata.json")
                               if not p.parent.name.startswith(".")),
                              key=lambda p: p.stat().st_mtime)
    return _load(done[-1].parent) if done else None
