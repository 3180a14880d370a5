"""Kernel sources: a local tree (git or plain), a tarball, or Debian's package.

A user's tree is never modified. Each source gets one persistent work copy
(a "slot" under the cache) that is brought in line with the source and the
patch series before every build. Only files that really differ are rewritten,
so their timestamps alone change and the O= build tree next to the work copy
rebuilds incrementally.
"""

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from harness.errors import InputError, HostError
from harness.cache import publish
from harness.hashing import file_sha256
from harness.kernel import debian
from harness.paths import cache_dir

DEFAULT_PACKAGE = "linux-source-7.3"
# --source debian:VERSION: the linux-source packages Debian's archive has
# (checked 2026-12-04): 6.1 (bookworm) and 6.12 (bookworm-security) LTS,
# 7.2 (sid), 7.3 (trixie-backports).
DEBIAN_TREES = {v: f"linux-source-{v}" for v in ("6.1", "6.12", "7.2", "7.3")}
DEBIAN_PREFIX = "debian:"
# Files whose presence makes `make O=...` refuse a source tree.
_IN_TREE_OUTPUT = ("/.config", "/.config.old", "/include/config/", "/include/generated/",
                   "/arch/*/include/generated/", "/Module.symvers", "/vmlinux*")


@dataclass
class Source:
    kind: str          # "debian" | "tarball" | "git" | "dir"
    identity: str      # changes whenever the tree's contents change
    origin: str        # what the user named: a path, or package=version
    tree: Path         # the tree to copy from (cached unpack, or the user's tree)
    slot: str          # stable name of the persistent work copy for this source

    @property
    def is_git(self) -> bool:
        return self.kind == "git"


def resolve(spec: Optional[str]) -> Source:
    """Turn --source (None = Debian's default package) into a Source."""
    package = debian_package(spec)
    if package is not None:
        return debian_source(package)
    path = check_source(spec)
    if path.is_file():
        return tarball_source(path)
    if (path / ".git").exists():
        return git_source(path)
    return dir_source(path)


def debian_package(spec: Optional[str], flag: str = "--source") -> Optional[str]:
    """The Debian package a --source names (None: the default; debian:6.1),
    or None when it names a path; InputError for a version Debian lacks."""
    if spec is None:
        return DEFAULT_PACKAGE
    if not spec.startswith(DEBIAN_PREFIX):
        return None
    version = spec[len(DEBIAN_PREFIX):]
    if version not in DEBIAN_TREES:
        raise InputError(flag, f"Debian has no linux-source for {spec} "
                                     f"(known: {', '.join(DEBIAN_PREFIX + v for v in DEBIAN_TREES)})")
    return DEBIAN_TREES[version]


def check_source(spec: str) -> Optional[Path]:
    """The resolved path of a --source that is a kernel tree or a tarball of
    one, None for a Debian package (debian:VERSION); InputError otherwise.
    Unpacks nothing and writes nothing."""
    if debian_package(spec) is not None:
        return None
    path = Path(spec).expanduser()
    if not path.exists():
        raise InputError("--source", f"no such file or directory: {spec}")
    path = path.resolve()
    if path.is_dir():
        problem = _tree_problem(path)
    elif path.is_file() and _is_tarball(path):
        problem = _tarball_problem(str(path), *_stat_key(path))
    else:
        raise InputError("--source", f"not a tarball or a directory: {spec}")
    if problem:
        raise InputError("--source", f"not a kernel source tree: {spec} ({problem})")
    return path


def _is_tarball(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except PermissionError:
        raise InputError("--source", f"cannot read {path}: permission denied") from None
    except Exception:  # noqa: BLE001 - a truncated archive fails in its decompressor
        return False


# What a kernel tree has at its top; the Makefile must also set VERSION and
# PATCHLEVEL (an empty Makefile and Kconfig are no kernel).
_TREE_FILES = ("Makefile", "Kconfig", "arch/x86/Kconfig")
_TREE_DIRS = ("mm",)
_VERSION_LINES = (re.compile(r"^VERSION\s*=", re.MULTILINE),
                  re.compile(r"^PATCHLEVEL\s*=", re.MULTILINE))
_MAKEFILE_HEAD = 8192


def _kernel_problem(has_file, has_dir, makefile_head) -> Optional[str]:
    """What keeps a tree from being a kernel's, or None."""
    missing = [f for f in _TREE_FILES if not has_file(f)]
    missing += [f"{d}/" for d in _TREE_DIRS if not has_dir(d)]
    if missing:
        return "no " + ", ".join(missing)
    head = makefile_head()
    if not all(pattern.search(head) for pattern in _VERSION_LINES):
        return "its Makefile sets no VERSION and PATCHLEVEL"
    return None


def _tree_problem(path: Path) -> Optional[str]:
    def makefile_head() -> str:
        try:
            with open(path / "Makefile", "rb") as handle:
                return handle.read(_MAKEFILE_HEAD).decode(errors="replace")
        except OSError:
            return ""
    return _kernel_problem(lambda rel: (path / rel).is_file(),
                           lambda rel: (path / rel).is_dir(), makefile_head)


def _stat_key(path: Path):
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=8)
def _tarball_problem(path: str, _size: int, _mtime_ns: int) -> Optional[str]:
    """The same check on a tarball's listing, so a tarball that is no kernel
    is never unpacked. Cached per (path, size, mtime): listing takes seconds."""
    members = _tar_members(path)
    top = _single_top(list(members))
    names = set(members)

    def makefile_head() -> str:
        return _tar_read(path, members[top + "Makefile"])[:_MAKEFILE_HEAD]
    return _kernel_problem(lambda rel: top + rel in names,
                           lambda rel: _has_member_under(names, top + rel),
                           makefile_head)


def _has_member_under(names, directory: str) -> bool:
    return any(name.startswith(directory + "/") for name in names)


def _tar_members(path: str) -> dict:
    """Member names without './' or a trailing '/' -> the name as stored."""
    proc = subprocess.run(["tar", "-tf", path], capture_output=True)
    if proc.returncode != 0:
        detail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        raise InputError("--source", f"cannot list tarball {path}: {detail}")
    members = {}
    for stored in proc.stdout.decode(errors="replace").splitlines():
        name = stored[2:] if stored.startswith("./") else stored
        if name.strip("/"):
            members.setdefault(name.rstrip("/"), stored)
    return members


def _single_top(names) -> str:
    """'linux-7.3/' when every member is under that one directory, else ''."""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and any("/" in name for name in names):
        return tops.pop() + "/"
    return ""


def _tar_read(path: str, member: str) -> str:
    proc = subprocess.run(["tar", "-xOf", path, "--occurrence=1", "--", member],
                          capture_output=True)
    return proc.stdout.decode(errors="replace")


def kernel_version(tree: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL+EXTRAVERSION from the top Makefile."""
    fields = {}
    for line in (tree / "Makefile").read_text(errors="replace").splitlines()[:12]:
        match = re.match(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=\s*(.*)$", line)
        if match:
            fields[match.group(1)] = match.group(2).strip()
    base = ".".join(fields.get(k, "0") for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL"))
    return base + fields.get("EXTRAVERSION", "")


def _slot_name(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- Debian's linux-source package -------------------------------------------------

def debian_source(package: str) -> Source:
    try:
        debian.update()
        version = debian.candidate_version(package)
    except HostError:
        version = _newest_cached_version(package)
        if not version:
            raise
    if version in ("", "(none)"):
        raise HostError(f"Debian has no candidate for {package}")
    identity = f"debian:{package}={version}"
    tree = _cached_unpack(identity, lambda tmp: _unpack_debian(package, tmp))
    return Source("debian", identity, f"{package}={version}", tree, _slot_name(identity))


def _newest_cached_version(package: str) -> Optional[str]:
    """Offline fallback: the most recently unpacked version of the package."""
    prefix = f"debian:{package}="
    found = []
    for stamp in cache_dir("sources").glob("*/identity"):
        text = stamp.read_text().strip()
        if text.startswith(prefix):
            found.append((stamp.stat().st_mtime, text[len(prefix):]))
    return max(found)[1] if found else None


def local_tree(spec: Optional[str]) -> Optional[Path]:
    """The tree of a --source that is already on disk, unpacked: a
    directory, or the cached unpack of Debian's package. None when finding
    it would mean fetching or unpacking something."""
    package = debian_package(spec)
    if package is not None:
        return cached_debian_tree(package)
    path = Path(spec).expanduser()
    return path if path.is_dir() else None


def cached_debian_tree(package: str = DEFAULT_PACKAGE) -> Optional[Path]:
    """The newest cached unpack of Debian's package, or None; creates nothing."""
    from harness.paths import cache_root
    found = []
    for stamp in (cache_root() / "sources").glob("*/identity"):
        if stamp.read_text().startswith(f"debian:{package}=") and (stamp.parent / "tree").is_dir():
            found.append((stamp.stat().st_mtime, stamp.parent / "tree"))
    return max(found)[1] if found else None


def cached_tree(identity: str) -> Optional[Path]:
    """The cached unpack of the source with this identity (a tarball's, a
    Debian package's), or None; creates nothing."""
    from harness.paths import cache_root
    tree = cache_root() / "sources" / _slot_name(identity) / "tree"
    return tree if tree.is_dir() else None


def _unpack_debian(package: str, tmp: Path) -> Path:
    deb = debian.download(package, tmp / "deb")
    debian.unpack(deb, tmp / "pkg")
    tarballs = sorted((tmp / "pkg" / "usr" / "src").glob("linux-source-*.tar.*"))
    if not tarballs:
        raise HostError(f"{deb.name} holds no linux-source tarball")
    tree = _extract(tarballs[0], tmp / "extract")
    shutil.rmtree(tmp / "deb")
    shutil.rmtree(tmp / "pkg")
    return tree


# --- Tarballs ---------------------------------------------------------------------

def tarball_source(path: Path) -> Source:
    """A tarball check_source() accepted, unpacked into the cache once."""
    digest = file_sha256(path)
    identity = f"tarball:sha256:{digest}"
    tree = _cached_unpack(identity, lambda tmp: _extract(path, tmp / "extract"))
    return Source("tarball", identity, str(path), tree, _slot_name(identity))


def _extract(tarball: Path, dest: Path) -> Path:
    """Unpack with tar(1); return the single top directory (or dest)."""
    dest.mkdir(parents=True)
    proc = subprocess.run(["tar", "-xf", str(tarball), "-C", str(dest)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostError(f"tar -xf {tarball.name} failed: {proc.stderr.strip()}")
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


def _cached_unpack(identity: str, unpack) -> Path:
    """Unpack once per identity: `unpack(tmp)` returns the tree it made in tmp."""
    final = cache_dir("sources") / _slot_name(identity)

    def make(tmp: Path) -> None:
        print(f"build: fetching and unpacking {identity} (once; cached)", file=sys.stderr,
              flush=True)
        tmp.mkdir()
        unpack(tmp).rename(tmp / "tree")
        for child in list(tmp.iterdir()):
            if child.name != "tree":
                shutil.rmtree(child, ignore_errors=True)
        (tmp / "identity").write_text(identity + "\n")

    publish(final, make, complete=lambda entry: (entry / "tree").is_dir())
    return final / "tree"


# --- Local trees --------------------------------------------------------------------

def git_source(path: Path) -> Source:
    head = _git(path, "rev-parse", "HEAD").strip()
    dirty = _git(path, "diff", "HEAD", "--binary")
    identity = f"git:{head}"
    if dirty:
        identity += "+dirty:" + hashlib.sha256(dirty.encode()).hexdigest()[:16]
    return Source("git", identity, str(path), path, _slot_name(f"git:{path}"))


def dir_source(path: Path) -> Source:
    identity = "dir:" + _tree_stat_digest(path)
    return Source("dir", identity, str(path), path, _slot_name(f"dir:{path}"))


def _tree_stat_digest(path: Path) -> str:
    """Hash of every file's path, size and mtime: cheap, changes on any edit."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            full = os.path.join(root, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            rel = os.path.relpath(full, path)
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run git in `repo` with a fixed identity; HostError naming the subcommand if it fails."""
    cmd = ["git", "-C", str(repo), "-c", "user.name=damon-harness",
           "-c", "user.email=damon-harness@localhost", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise HostError(f"git {args[0]} in {repo} failed: {detail}")
    return proc


def _git(repo: Path, *args: str, check: bool = True) -> str:
    return git(repo, *args, check=check).stdout


# --- Syncing the work copy ------------------------------------------------------------

def sync(source: Source, work: Path, touch: Iterable[str] = ()) -> None:
    """Make `work` equal to the source's tree, rewriting only differing files.

    `touch` names files (relative paths) a previous patch series changed: a
    plain copy restores them with the source's old mtime, which would leave
    objects built from the patched content looking up to date, so they get a
    fresh mtime. Every other file keeps the source's mtime, so unchanged files
    never look newer than their objects.
    """
    if source.is_git:
        _sync_git(source, work)
    else:
        _sync_rsync(source.tree, work)
    now = time.time()
    for rel in touch:
        path = work / rel
        if path.is_file() and not path.is_symlink():
            os.utime(path, (now, now))


def _sync_rsync(tree: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    excludes = [arg for pat in (("/.git",) + _IN_TREE_OUTPUT) for arg in ("--exclude", pat)]
    cmd = ["rsync", "-a", "--delete", *excludes, f"{tree}/", f"{work}/"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostError(f"rsync of {tree} failed: {proc.stderr.strip()[-300:]}")


def _sync_git(source: Source, work: Path) -> None:
    if not (work / ".git").exists():
        work.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["git", "clone", "-q", "--local", "--no-checkout",
                               str(source.tree), str(work)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise HostError(f"git clone of {source.tree} failed: {proc.stderr.strip()}")
    head = _git(source.tree, "rev-parse", "HEAD").strip()
    _git(work, "fetch", "-q", str(source.tree), head)
    _git(work, "am", "--abort", check=False)
    _git(work, "checkout", "-q", "-f", "--detach", head)
    _git(work, "clean", "-q", "-fdx")
    dirty = _git(source.tree, "diff", "HEAD", "--binary")
    if dirty:
        proc = subprocess.run(["git", "-C", str(work), "apply", "--binary", "-"],
                              input=dirty, capture_output=True, text=True)
        if proc.returncode != 0:
            raise HostError(f"could not copy uncommitted changes: {proc.stderr.strip()}")
