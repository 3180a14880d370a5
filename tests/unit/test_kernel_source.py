import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.kernel import source as ks

MAKEFILE = "VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION = -rc1\nNAME = x\n"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path / "cache"))


def kernel_tree(path: Path) -> Path:
    (path / "mm" / "damon").mkdir(parents=True)
    (path / "Makefile").write_text(MAKEFILE)
    (path / "Kconfig").write_text("config X\n\tbool\n")
    (path / "arch" / "x86").mkdir(parents=True)
    (path / "arch" / "x86" / "Kconfig").write_text("config X86\n\tdef_bool y\n")
    (path / "mm" / "damon" / "core.c").write_text("int x;\n")
    return path


def test_kernel_version(tmp_path):
    assert ks.kernel_version(kernel_tree(tmp_path)) == "7.3.4-rc1"


def test_resolve_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="--source: no such file or directory"):
        ks.resolve(str(tmp_path / "missing"))
    with pytest.raises(InputError, match="not a kernel source tree"):
        ks.resolve(str(tmp_path))
    (tmp_path / "f.txt").write_text("hello")
    with pytest.raises(InputError, match="not a tarball"):
        ks.resolve(str(tmp_path / "f.txt"))


def test_dir_identity_follows_edits_slot_does_not(tmp_path):
    tree = kernel_tree(tmp_path / "linux")
    first = ks.resolve(str(tree))
    assert first.kind == "dir" and first.identity == ks.resolve(str(tree)).identity
    later = time.time() + 5
    os.utime(tree / "mm/damon/core.c", (later, later))
    second = ks.resolve(str(tree))
    assert second.identity != first.identity and second.slot == first.slot


def test_rsync_sync_restores_patched_files_with_fresh_mtime(tmp_path):
    tree = kernel_tree(tmp_path / "linux")
    (tree / ".config").write_text("CONFIG_IN_TREE=y\n")
    old = time.time() - 3600
    for path in (tree / "Makefile", tree / "mm/damon/core.c"):
        os.utime(path, (old, old))
    work = tmp_path / "work"
    ks.sync(ks.resolve(str(tree)), work)
    assert (work / "mm/damon/core.c").read_text() == "int x;\n"
    assert not (work / ".config").exists()
    assert abs((work / "Makefile").stat().st_mtime - old) < 1
    (work / "mm/damon/core.c").write_text("patched\n")
    (work / "extra.c").write_text("new\n")
    before = time.time()
    ks.sync(ks.resolve(str(tree)), work, touch=["mm/damon/core.c", "gone.c"])
    assert (work / "mm/damon/core.c").read_text() == "int x;\n"
    assert (work / "mm/damon/core.c").stat().st_mtime >= before - 1
    assert abs((work / "Makefile").stat().st_mtime - old) < 1
    assert not (work / "extra.c").exists()
    assert (tree / ".config").exists()


def test_tarball_is_unpacked_once_and_keyed_by_content(tmp_path):
    tree = kernel_tree(tmp_path / "linux-7.3")
    ball = tmp_path / "linux.tar.gz"
    with tarfile.open(ball, "w:gz") as tar:
        tar.add(tree, arcname="linux-7.3")
    src = ks.resolve(str(ball))
    assert src.kind == "tarball" and src.identity.startswith("tarball:sha256:")
    assert (src.tree / "Makefile").read_text() == MAKEFILE
    again = ks.resolve(str(ball))
    assert again.tree == src.tree and again.slot == src.slot
    assert not list(src.tree.parent.parent.glob(".unpack-*"))


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                           *args], check=True, capture_output=True, text=True).stdout


def test_git_tree_copy_carries_uncommitted_changes(tmp_path):
    tree = kernel_tree(tmp_path / "linux")
    git(tree, "init", "-q")
    git(tree, "add", ".")
    git(tree, "commit", "-q", "-m", "base")
    clean = ks.resolve(str(tree))
    assert clean.kind == "git" and "+dirty" not in clean.identity
    (tree / "mm/damon/core.c").write_text("int y;\n")
    dirty = ks.resolve(str(tree))
    assert "+dirty:" in dirty.identity and dirty.slot == clean.slot
    work = tmp_path / "work"
    ks.sync(dirty, work)
    assert (work / "mm/damon/core.c").read_text() == "int y;\n"
    assert git(tree, "status", "--porcelain").strip() == "M mm/damon/core.c"


def test_debian_source_falls_back_to_cached_unpack_when_offline(tmp_path, monkeypatch):
    from harness.errors import HostError
    from harness.paths import cache_dir

    def offline(*args, **kwargs):
        raise HostError("apt-get update failed: offline")

    monkeypatch.setattr(ks.debian, "update", offline)
    with pytest.raises(HostError, match="offline"):
        ks.debian_source("linux-source-7.3")
    identity = "debian:linux-source-7.3=7.3.4-1"
    slot = cache_dir("sources") / ks._slot_name(identity)
    kernel_tree(slot / "tree")
    (slot / "identity").write_text(identity + "\n")
    src = ks.debian_source("linux-source-7.3")
    assert src.identity == identity and src.tree == slot / "tree"


def test_debian_version_names_its_package_and_an_unknown_one_is_refused(tmp_path):
    assert ks.debian_package(None) == "linux-source-7.3"
    assert ks.debian_package("debian:6.1") == "linux-source-6.1"
    assert ks.debian_package("debian:6.12") == "linux-source-6.12"
    assert ks.debian_package(str(tmp_path)) is None
    with pytest.raises(InputError, match=r"--source: Debian has no linux-source for debian:5\.10 "
                                         r"\(known: debian:6\.1, debian:6\.12, debian:7\.2"):
        ks.check_source("debian:5.10")
    assert ks.check_source("debian:6.1") is None        # fetched by the build, not here
    assert not (tmp_path / "cache").exists()


def test_a_cached_debian_version_is_its_local_tree(tmp_path):
    from harness.paths import cache_dir
    slot = cache_dir("sources") / "x"
    kernel_tree(slot / "tree")
    (slot / "identity").write_text("debian:linux-source-6.1=6.1.192-1\n")
    assert ks.local_tree("debian:6.1") == slot / "tree"
    assert ks.local_tree("debian:6.12") is None
