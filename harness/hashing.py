"""Content hashes used for cache keys and recorded checksums."""

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_PACKAGE_DIGEST = []


def package_digest() -> str:
    """Of every file of the harness package but bytecode: two processes with
    the same digest run the same harness (once per process)."""
    if not _PACKAGE_DIGEST:
        root = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file()
                           and "__pycache__" not in p.parts):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(file_sha256(path).encode())
        _PACKAGE_DIGEST.append(digest.hexdigest()[:16])
    return _PACKAGE_DIGEST[0]
