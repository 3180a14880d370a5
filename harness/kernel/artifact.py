"""The kernel the VM layer boots, whatever produced it."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from harness.errors import InputError

BZIMAGE_MAGIC = b"HdrS"
BZIMAGE_MAGIC_AT = 0x202


@dataclass
class Kernel:
    image: Path
    # Root of a modules tree: holds <release>/modules.dep etc. None when the
    # kernel has everything it needs built in.
    modules_dir: Optional[Path] = None
    release: str = ""
    origin: dict = field(default_factory=dict)

    def describe(self) -> dict:
        data = asdict(self)
        data["image"] = str(self.image)
        data["modules_dir"] = str(self.modules_dir) if self.modules_dir else None
        return data


def user_kernel(image: str, modules: Optional[str] = None, flag: str = "--kernel") -> Kernel:
    """A kernel file the user points at, with its modules tree if it needs one."""
    path = Path(image).expanduser()
    if path.is_dir():
        raise InputError(flag, f"{image} is a directory, not a kernel image")
    if not path.is_file():
        raise InputError(flag, f"no such kernel file: {image}")
    if not is_bzimage(path):
        raise InputError(flag, f"{image} is not an x86 bzImage")
    mods = None
    release = ""
    if modules:
        mods = Path(modules).expanduser()
        mods, release = _modules_root(mods)
    return Kernel(image=path.resolve(), modules_dir=mods, release=release,
                  origin={"kind": "file", "path": str(path.resolve())})


def is_bzimage(path: Path) -> bool:
    """True for an x86 boot image: the setup header's "HdrS" magic at 0x202."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(BZIMAGE_MAGIC_AT + len(BZIMAGE_MAGIC))
    except OSError:
        return False
    return header[BZIMAGE_MAGIC_AT:] == BZIMAGE_MAGIC


def kernel_version_string(path: Path) -> str:
    """The bzImage's version string ("7.3.4 (user@host) #1 ..."), or "".

    The setup header holds its offset, less 0x200, at 0x20E (x86 boot protocol).
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(0x20E)
            offset = int.from_bytes(handle.read(2), "little") + 0x200
            handle.seek(offset)
            raw = handle.read(256)
    except OSError:
        return ""
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def _modules_root(path: Path):
    """Accept .../lib/modules or .../lib/modules/<release>; return (root, release)."""
    if not path.is_dir():
        raise InputError("--modules", f"no such directory: {path}")
    if (path / "modules.order").exists() or (path / "kernel").is_dir():
        return path.resolve().parent, path.name
    releases = [p for p in path.iterdir() if p.is_dir()]
    if len(releases) != 1:
        raise InputError("--modules", f"expected one kernel release under {path}, "
                                      f"found {len(releases)}")
    return path.resolve(), releases[0].name


def load_metadata(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
