"""Cache listing and pruning on a throwaway cache root."""

import fcntl
import os
import sys
import time

import pytest

from harness import cache

OLD = time.time() - 40 * cache.DAY_S


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path))
    return tmp_path


def make(path, age=None, data=b"x" * 5000):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".img", ".lock") or path.parent.name == "workloads":
        path.write_bytes(data)
    else:
        path.mkdir()
        (path / "payload").write_bytes(data)
    if age is not None:
        os.utime(path, (age, age))
    return path


def kinds(found):
    return sorted((e.kind, e.path.name) for e in found)


def test_entries_skip_request_links_locks_and_kept_caches(root):
    make(root / "kernels" / "abc")
    (root / "kernels" / "requests").mkdir()
    make(root / "kernels" / "debian" / "linux-image-7.2")
    make(root / "images" / "bookworm-1")
    make(root / "images" / "bookworm-1.lock")
    make(root / "sources" / "linux-7.3")
    assert kinds(cache.entries()) == [("debian-kernels", "linux-image-7.2"),
                                      ("images", "bookworm-1"), ("kernels", "abc")]


def test_prune_removes_only_entries_unused_long_enough(root):
    old = make(root / "kernels" / "old", OLD)
    new = make(root / "kernels" / "new")
    disk = make(root / "modules-disks" / "7.3-x.img", OLD)
    gone = cache.prune(30)
    assert kinds(gone) == [("kernels", "old"), ("modules-disks", "7.3-x.img")]
    assert not old.exists() and not disk.exists() and new.exists()


def test_dry_run_removes_nothing(root):
    old = make(root / "workloads" / "hotcold-1", OLD)
    assert kinds(cache.prune(30, dry_run=True)) == [("workloads", "hotcold-1")]
    assert old.exists()


def test_mark_used_saves_an_entry(root):
    entry = make(root / "images" / "bookworm-1", OLD)
    cache.mark_used(entry)
    assert cache.prune(30) == []


def test_read_only_image_and_its_lock_are_removed(root):
    image = make(root / "images" / "bookworm-1", OLD)
    lock = make(root / "images" / "bookworm-1.lock")
    (image / "payload").chmod(0o444)
    image.chmod(0o555)
    os.utime(image, (OLD, OLD))
    cache.prune(30)
    assert not image.exists() and not lock.exists()


def test_request_link_to_a_pruned_kernel_is_dropped(root):
    make(root / "kernels" / "old", OLD)
    kept = make(root / "kernels" / "new")
    (kept / "metadata.json").write_text("{}")
    requests = root / "kernels" / "requests"
    requests.mkdir()
    (requests / "r-old").write_text("old\n")
    (requests / "r-new").write_text("new\n")
    cache.prune(30)
    assert sorted(p.name for p in requests.iterdir()) == ["r-new"]


def test_running_venv_and_locked_build_tree_are_kept(root, monkeypatch):
    venv = make(root / "venv-abc", OLD)
    monkeypatch.setattr(sys, "prefix", str(venv))
    tree = make(root / "work" / "slot1", OLD)
    with open(tree / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        os.utime(tree, (OLD, OLD))
        assert cache.prune(30) == []
    assert venv.exists() and tree.exists()


def test_disk_usage_counts_blocks_not_apparent_size(root):
    sparse = root / "sparse.img"
    with open(sparse, "wb") as handle:
        handle.truncate(1 << 30)
    assert cache.disk_usage(sparse) < 1 << 20


def test_human_sizes():
    assert cache.human(512) == "512 B"
    assert cache.human(3 * 1024 * 1024) == "3.0 MiB"
    assert cache.human(5 << 40) == "5120.0 GiB"
