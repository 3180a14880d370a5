"""Build the workload programs statically on the host, cached by source hash."""

import hashlib
import os
import subprocess
from pathlib import Path

from harness.errors import HostError
from harness.cache import mark_used, publish
from harness.paths import cache_dir

SOURCE_DIR = Path(__file__).resolve().parent
CFLAGS = ["-static", "-O2", "-Wall", "-Wextra"]
PROGRAMS = ("hotcold",)


def source_path(name: str) -> Path:
    if name not in PROGRAMS:
        raise HostError(f"unknown workload program {name!r}")
    return SOURCE_DIR / f"{name}.c"


def source_key(name: str, cc: str = "gcc") -> str:
    digest = hashlib.sha256(source_path(name).read_bytes())
    digest.update(" ".join([cc] + CFLAGS).encode())
    return digest.hexdigest()[:16]


def build(name: str = "hotcold", cc: str = "gcc") -> Path:
    """Return the path of a static binary for `name`, compiling it if needed."""
    out = cache_dir("workloads") / f"{name}-{source_key(name, cc)}"
    publish(out, lambda tmp: _compile(name, cc, tmp))
    mark_used(out)
    return out


def _compile(name: str, cc: str, binary: Path) -> None:
    cmd = [cc, *CFLAGS, "-o", str(binary), str(source_path(name))]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise HostError(f"{cc} not found; install gcc and libc6-dev") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise HostError(f"building {name} failed: {last}")
    os.chmod(binary, 0o755)
