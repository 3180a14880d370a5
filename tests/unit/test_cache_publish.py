"""cache.publish: one entry however many callers race, nothing left on failure."""

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from harness import cache


def listing(directory: Path):
    return sorted(p.name for p in directory.iterdir())


def slow_file_maker(calls: list, delay: float = 0.2):
    def make(tmp: Path) -> None:
        calls.append(tmp)
        time.sleep(delay)
        tmp.write_text("built\n")
    return make


def test_publish_makes_a_file_entry_once(tmp_path):
    calls = []
    final = tmp_path / "entry.bin"
    assert cache.publish(final, slow_file_maker(calls, 0)) == final
    assert cache.publish(final, slow_file_maker(calls, 0)) == final
    assert final.read_text() == "built\n" and len(calls) == 1
    assert listing(tmp_path) == ["entry.bin", "entry.bin.lock"]


def test_publish_makes_a_directory_entry(tmp_path):
    def make(tmp: Path) -> None:
        (tmp / "sub").mkdir(parents=True)
        (tmp / "metadata.json").write_text("{}")
    final = cache.publish(tmp_path / "k", make, lambda p: (p / "metadata.json").is_file())
    assert listing(final) == ["metadata.json", "sub"]


def test_concurrent_threads_make_one_entry(tmp_path):
    calls = []
    final = tmp_path / "entry"
    threads = [threading.Thread(target=cache.publish, args=(final, slow_file_maker(calls)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and final.read_text() == "built\n"
    assert listing(tmp_path) == ["entry", "entry.lock"]


def _publish_in_child(final: str, log: str) -> None:
    def make(tmp: Path) -> None:
        with open(log, "a") as handle:
            handle.write("made\n")
        time.sleep(0.3)
        tmp.write_text("built\n")
    cache.publish(Path(final), make)


def test_concurrent_processes_make_one_entry(tmp_path):
    final, log = tmp_path / "entry", tmp_path / "log"
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_publish_in_child, args=(str(final), str(log)))
                for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(30)
    assert [child.exitcode for child in children] == [0, 0, 0]
    assert log.read_text() == "made\n" and final.read_text() == "built\n"


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt(), SystemExit(143)])
def test_a_failing_make_leaves_nothing_behind(tmp_path, failure):
    def make(tmp: Path) -> None:
        (tmp / "half" / "done").mkdir(parents=True)
        (tmp / "half" / "file").write_text("x")
        (tmp / "half").chmod(0o555)
        raise failure
    with pytest.raises(type(failure)):
        cache.publish(tmp_path / "entry", make)
    assert listing(tmp_path) == ["entry.lock"]


def test_an_incomplete_entry_is_replaced(tmp_path):
    final = tmp_path / "k"
    (final / "leftover").mkdir(parents=True)

    def make(tmp: Path) -> None:
        tmp.mkdir()
        (tmp / "metadata.json").write_text("{}")
    cache.publish(final, make, lambda p: (p / "metadata.json").is_file())
    assert listing(final) == ["metadata.json"]


def test_a_killed_publishers_temporary_is_cleared(tmp_path):
    stale = tmp_path / ".entry.99999.tmp"
    stale.write_text("half")
    cache.publish(tmp_path / "entry", slow_file_maker([], 0))
    assert listing(tmp_path) == ["entry", "entry.lock"]


def test_listing_skips_publish_temporaries_and_locks(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMON_HARNESS_CACHE", str(tmp_path))
    (tmp_path / "workloads").mkdir()
    cache.publish(tmp_path / "workloads" / "hotcold-1", slow_file_maker([], 0))
    (tmp_path / "workloads" / ".hotcold-2.123.tmp").write_text("in progress")
    assert [e.path.name for e in cache.entries()] == ["hotcold-1"]
