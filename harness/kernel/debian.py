"""Fetch single packages from Debian suites through a private apt configuration.

The system's apt sources are never touched: a sources file, lists and cache live
in the harness's cache directory and are passed to apt-get with -o options.
"""

import subprocess
import time
from pathlib import Path
from typing import List

from harness.errors import HostError
from harness.paths import cache_dir

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR = "http://deb.debian.org/debian"
SUITES = ((MIRROR, "sid"), (MIRROR, "trixie-backports"), (MIRROR, "bookworm"),
          ("http://deb.debian.org/debian-security", "bookworm-security"))
LISTS_MAX_AGE_S = 6 * 3600


def _root() -> Path:
    return cache_dir("apt")


def _options() -> List[str]:
    root = _root()
    return [
        "-o", f"Dir::Etc::SourceList={root / 'sources.list'}",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::State::Lists={root / 'lists'}",
        "-o", f"Dir::Cache={root / 'cache'}",
        "-o", "Dir::State::status=/dev/null",
        "-o", "APT::Architecture=amd64",
        "-o", "Debug::NoLocking=1",
        "-o", "APT::Sandbox::User=root",
        "-o", "Acquire::Retries=3",
    ]


def _write_sources() -> bool:
    """The private sources file; True when it changed (new suites need lists)."""
    root = _root()
    for sub in ("lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    text = "".join(f"deb [signed-by={KEYRING}] {mirror} {suite} main\n"
                   for mirror, suite in SUITES)
    path = root / "sources.list"
    if path.is_file() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def _apt(tool: str, *args: str, cwd: Path = None) -> str:
    cmd = [tool, *_options(), *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise HostError(f"{tool} {' '.join(args)} failed: {detail}")
    return proc.stdout


def update(force: bool = False) -> None:
    """Refresh the private package lists when older than a few hours."""
    changed = _write_sources()
    stamp = _root() / "lists" / ".updated"
    fresh = stamp.exists() and time.time() - stamp.stat().st_mtime < LISTS_MAX_AGE_S
    if fresh and not force and not changed:
        return
    _apt("apt-get", "-q", "update")
    stamp.touch()


def dependencies(package: str) -> List[str]:
    """Direct Depends of a package, as plain names."""
    out = _apt("apt-cache", "depends", "--no-recommends", "--no-suggests", package)
    deps = []
    for line in out.splitlines():
        line = line.strip().lstrip("|")
        if line.startswith("Depends:"):
            deps.append(line.split(":", 1)[1].strip())
    return deps


def candidate_version(package: str) -> str:
    out = _apt("apt-cache", "policy", package)
    for line in out.splitlines():
        if line.strip().startswith("Candidate:"):
            return line.split(":", 1)[1].strip()
    raise HostError(f"apt knows no package {package}")


def download(package: str, dest: Path) -> Path:
    """Download one .deb into dest; apt checks its hash against the signed index."""
    dest.mkdir(parents=True, exist_ok=True)
    _apt("apt-get", "-q", "download", package, cwd=dest)
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if not debs:
        raise HostError(f"apt-get download {package} produced no .deb")
    return debs[-1]


def unpack(deb: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostError(f"dpkg-deb -x {deb.name} failed: {proc.stderr.strip()}")
