"""A kernel sent to another host: its files in one tar, named by content.

A Dask worker that lacks the client's kernel (another host, or another
cache) unpacks the tar once into its own cache, under the kernel's content
id; a worker that shares the client's files uses them where they are.
"""

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Dict, Iterator, Tuple

from harness.kernel.artifact import Kernel

IMAGE = "vmlinuz"
MODULES = "modules"


def _files(kernel: Kernel) -> Iterator[Tuple[str, Path]]:
    """(name in the tar, file) of the image and every file of the modules tree."""
    yield IMAGE, Path(kernel.image)
    if kernel.modules_dir is not None:
        root = Path(kernel.modules_dir)
        for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
            yield f"{MODULES}/{path.relative_to(root)}", path


_known_ids: Dict[tuple, str] = {}


def kernel_id(kernel: Kernel) -> str:
    """A hash of the kernel's files' names and contents; read once per
    process while no file's size or mtime changes (every task of a matrix
    asks for it)."""
    files = list(_files(kernel))
    stamp = tuple((str(path), path.lstat().st_size, path.lstat().st_mtime_ns)
                  for name, path in files)
    if stamp not in _known_ids:
        digest = hashlib.sha256()
        for name, path in files:
            digest.update(name.encode() + b"\0")
            digest.update(path.read_bytes() if not path.is_symlink() else
                          str(path.readlink()).encode())
        _known_ids[stamp] = digest.hexdigest()[:24]
    return _known_ids[stamp]


def pack(kernel: Kernel) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, path in _files(kernel):
            tar.add(str(path), arcname=name, recursive=False)
    return buf.getvalue()


def unpacked(kernel: Kernel, ident: str, blob: bytes) -> Kernel:
    """The kernel on this host: its own files when they are the same kernel,
    else the tar unpacked once into this host's cache."""
    from harness.paths import cache_dir
    if Path(kernel.image).is_file() and kernel_id(kernel) == ident:
        return kernel
    home = cache_dir("shipped-kernels") / ident
    if not home.is_dir():
        # Unpacked aside and renamed: two workers of one host may race here.
        aside = Path(tempfile.mkdtemp(dir=home.parent, prefix=f".{ident}-"))
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(aside, filter="data")
        try:
            os.rename(aside, home)
        except OSError:
            shutil.rmtree(aside, ignore_errors=True)
    modules = home / MODULES if kernel.modules_dir is not None else None
    return replace(kernel, image=home / IMAGE, modules_dir=modules)
