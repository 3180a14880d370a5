"""Guest images built from a recipe in images/, cached by the recipe's hash."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InputError, HostError
from harness.hashing import file_sha256
from harness.cache import mark_used, publish
from harness.paths import REPO_ROOT, cache_dir
from harness.units import format_size, parse_size
from harness.yamlfile import load_yaml

IMAGES_DIR = REPO_ROOT / "images"
DEFAULT_RECIPE = "bookworm"
# Bump when the way an image is built changes, so old images are not reused.
BUILDER_VERSION = "2"
# The root filesystem starts 1 MiB into the disk, after an MBR whose single
# partition the kernel finds by PARTUUID: NVMe names are not stable.
PARTITION_OFFSET = 1 << 20
MIN_IMAGE_SIZE = 64 << 20
MAX_IMAGE_SIZE = 1 << 40    # well below the MBR's 2 TiB partition limit
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
_RECIPE_KEYS = {"name", "suite", "mirror", "variant", "packages", "size", "overlay", "pip"}
_PIP_KEYS = {"python", "packages"}
_PYTHON_VERSION = re.compile(r"^3\.[0-9]{1,2}$")


@dataclass
class GuestImage:
    path: Path
    key: Path
    name: str
    digest: str

    @property
    def root_partuuid(self) -> str:
        return f"{disk_signature(self.digest):08x}-01"


def recipe_path(spec: str) -> Path:
    path = Path(spec)
    if path.is_dir():
        path = path / "recipe.yaml"
    if not path.exists():
        path = IMAGES_DIR / spec / "recipe.yaml"
    if not path.is_file():
        raise InputError("--image", f"no such image recipe: {spec}")
    return path


def load_recipe(path: Path) -> dict:
    recipe = load_yaml(path)
    if not isinstance(recipe, dict):
        raise InputError(str(path), "a recipe must be a mapping")
    for key in recipe:
        if key not in _RECIPE_KEYS:
            raise InputError(f"{path}: {key}", "unknown key")
    for key in ("name", "suite", "mirror"):
        if not isinstance(recipe.get(key), str):
            raise InputError(f"{path}: {key}", "is required and must be a string")
    if not _NAME.match(recipe["name"]):
        raise InputError(f"{path}: name", f"{recipe['name']!r} is not a name (letters, digits, "
                                          "., _ and -, not starting with .)")
    recipe["size_bytes"] = _image_size(recipe.get("size", "1G"), f"{path}: size")
    if "pip" in recipe:
        _check_pip(recipe["pip"], f"{path}: pip")
    return recipe


def _check_pip(pip, where: str) -> None:
    """pip: {python: "3.11", packages: [NAME==VERSION, ...]}: binary wheels for
    the guest's Python, for what the suite's Debian release does not package."""
    if not isinstance(pip, dict):
        raise InputError(where, "must be a mapping with python and packages")
    for key in pip:
        if key not in _PIP_KEYS:
            raise InputError(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(_PIP_KEYS))})")
    if not isinstance(pip.get("python"), str) or not _PYTHON_VERSION.match(pip["python"]):
        raise InputError(f"{where}.python", "is required: the guest's Python as 3.N, e.g. '3.11'")
    packages = pip.get("packages")
    if (not isinstance(packages, list) or not packages
            or not all(isinstance(p, str) and "==" in p for p in packages)):
        raise InputError(f"{where}.packages", "must be a list of pinned requirements, "
                                              "e.g. [drgn==0.3.0]")


def _image_size(raw, where: str) -> int:
    try:
        size = parse_size(raw, minimum=MIN_IMAGE_SIZE)
    except ValueError as exc:
        raise InputError(where, str(exc)) from None
    if size > MAX_IMAGE_SIZE:
        raise InputError(where, f"{raw} is more than the {format_size(MAX_IMAGE_SIZE)} "
                                "an image may have")
    return size


def recipe_digest(path: Path, recipe: dict) -> str:
    digest = hashlib.sha256(BUILDER_VERSION.encode())
    digest.update(path.read_bytes())
    overlay = _overlay_dir(path, recipe)
    if overlay:
        for file in sorted(p for p in overlay.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(overlay)).encode())
            digest.update(oct(file.stat().st_mode & 0o777).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _overlay_dir(path: Path, recipe: dict):
    name = recipe.get("overlay")
    return (path.parent / name) if name else None


def guest_image(spec: str = DEFAULT_RECIPE) -> GuestImage:
    """The image for a recipe, built on first use and cached after."""
    path = recipe_path(spec)
    recipe = load_recipe(path)
    digest = recipe_digest(path, recipe)
    dest = cache_dir("images") / f"{recipe['name']}-{digest[:16]}"
    publish(dest, lambda tmp: _build(path, recipe, digest, tmp),
            complete=lambda entry: (entry / "metadata.json").is_file())
    mark_used(dest)
    return GuestImage(path=dest / "rootfs.img", key=dest / "id_ed25519",
                      name=recipe["name"], digest=digest)


def _build(path: Path, recipe: dict, digest: str, staging: Path) -> None:
    """Build the image and its metadata into `staging` (a new directory)."""
    staging.mkdir()
    start = time.monotonic()
    print(f"building guest image {recipe['name']} (debootstrap, about a minute)", file=sys.stderr)
    rootfs = staging / "rootfs"
    _debootstrap(recipe, rootfs, staging / "debootstrap.log")
    _make_key(staging / "id_ed25519")
    _configure(rootfs, path, recipe, staging / "id_ed25519.pub")
    if recipe.get("pip"):
        _pip_install(recipe["pip"], rootfs, staging / "pip.log")
    image = staging / "rootfs.img"
    _write_mbr(image, recipe["size_bytes"], disk_signature(digest))
    _run(["mkfs.ext4", "-q", "-F", "-L", "hroot", "-E", f"offset={PARTITION_OFFSET}",
          "-d", str(rootfs), str(image), f"{recipe['size_bytes'] >> 20}M"], "mkfs.ext4")
    shutil.rmtree(rootfs)
    os.chmod(image, 0o444)
    meta = {"recipe": str(path), "digest": digest, "suite": recipe["suite"],
            "packages": recipe.get("packages", []), "pip": recipe.get("pip", {}),
            "build_seconds": round(time.monotonic() - start, 1),
            "sha256": file_sha256(image)}
    (staging / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"guest image {recipe['name']} built in {meta['build_seconds']} s", file=sys.stderr)


def disk_signature(digest: str) -> int:
    return int(digest[:8], 16) or 1


def _write_mbr(image: Path, fs_bytes: int, signature: int) -> None:
    """A sparse disk of one Linux partition at PARTITION_OFFSET, fs_bytes long."""
    sector = 512
    entry = bytearray(16)
    entry[4] = 0x83
    entry[8:12] = (PARTITION_OFFSET // sector).to_bytes(4, "little")
    entry[12:16] = (fs_bytes // sector).to_bytes(4, "little")
    mbr = bytearray(sector)
    mbr[0x1B8:0x1BC] = signature.to_bytes(4, "little")
    mbr[0x1BE:0x1CE] = entry
    mbr[0x1FE:0x200] = b"\x55\xaa"
    with open(image, "wb") as f:
        f.write(mbr)
        f.truncate(PARTITION_OFFSET + fs_bytes)


def _debootstrap(recipe: dict, rootfs: Path, log: Path) -> None:
    debs = cache_dir("debootstrap-debs")
    cmd = ["debootstrap", f"--variant={recipe.get('variant', 'minbase')}",
           f"--cache-dir={debs}"]
    if recipe.get("packages"):
        cmd.append("--include=" + ",".join(recipe["packages"]))
    cmd += [recipe["suite"], str(rootfs), recipe["mirror"]]
    _run(cmd, "debootstrap", log)


def _make_key(key: Path) -> None:
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "damon-harness",
          "-f", str(key)], "ssh-keygen")


def _configure(rootfs: Path, path: Path, recipe: dict, pubkey: Path) -> None:
    ssh_dir = rootfs / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(pubkey.read_text())
    os.chmod(ssh_dir / "authorized_keys", 0o600)
    (rootfs / "etc" / "hostname").write_text("damon-guest\n")
    (rootfs / "etc" / "fstab").write_text("")
    shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    overlay = _overlay_dir(path, recipe)
    if overlay:
        shutil.copytree(overlay, rootfs, dirs_exist_ok=True, symlinks=True)


def _pip_install(pip: dict, rootfs: Path, log: Path) -> None:
    """Install pinned wheels for the guest's Python into its site directory,
    from the host (the guest has no network while the image is built)."""
    version = pip["python"]
    site = rootfs / "usr" / "local" / "lib" / f"python{version}" / "dist-packages"
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
          "--only-binary=:all:", "--python-version", version,
          "--platform", "manylinux2014_x86_64", "--target", str(site), *pip["packages"]],
         "pip install (image)", log)
    scripts = site / "bin"
    if scripts.is_dir():
        for script in scripts.iterdir():
            _install_guest_script(script, rootfs / "usr" / "local" / "bin")
        shutil.rmtree(scripts)


def _install_guest_script(script: Path, bin_dir: Path) -> None:
    # pip wrote the host's interpreter into the entry point's first line.
    lines = script.read_text().splitlines(keepends=True)
    if lines and lines[0].startswith("#!"):
        lines[0] = "#!/usr/bin/python3\n"
    bin_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / script.name
    target.write_text("".join(lines))
    os.chmod(target, 0o755)


def _run(cmd, what: str, log: Path = None) -> None:
    out = open(log, "w") if log else subprocess.PIPE
    try:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    except FileNotFoundError:
        raise HostError(f"{what}: command not found (run scripts/setup.sh)") from None
    finally:
        if log:
            out.close()
    if proc.returncode != 0:
        text = log.read_text() if log else proc.stdout
        tail = (text.strip().splitlines() or ["no output"])[-1]
        raise HostError(f"{what} failed ({proc.returncode}): {tail}")
