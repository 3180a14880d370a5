"""The host's log of guests and builds: who overlapped whom."""

import json
import os
import subprocess
import sys

import pytest

from harness import hostshare
from harness.hostshare import Activity, activities, occupying, overlapping


@pytest.fixture(autouse=True)
def own_log(tmp_path, monkeypatch):
    monkeypatch.setenv(hostshare.LOG_ENV, str(tmp_path / "log"))
    monkeypatch.setenv(hostshare.OWNER_ENV, "test-a")
    return tmp_path / "log"


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_guest_sees_a_build_that_ran_beside_it_and_not_one_after_it():
    with occupying("guest", "run-1") as guest:
        with occupying("kernel build", "k1"):
            pass
    with occupying("kernel build", "k2"):
        pass
    assert [a.describe() for a in guest.finish()] == ["kernel build k1 (test-a)"]


def test_ends_are_paired_with_starts_and_the_owner_is_kept():
    with occupying("guest", "run-1"):
        pass
    [a] = activities()
    assert a.kind == "guest" and a.owner == "test-a" and a.end >= a.start > 0


def test_a_running_activity_of_a_live_process_overlaps_until_now():
    mine = Activity("m", "guest", "r", os.getpid(), "", start=100.0, end=200.0)
    running = Activity("o", "guest", "s", os.getpid(), "", start=150.0)
    later = Activity("l", "guest", "t", os.getpid(), "", start=250.0)
    assert overlapping(mine, [mine, running, later]) == [running]


def test_a_dead_process_without_an_end_counts_only_where_it_was_seen_starting():
    pid = dead_pid()
    before = Activity("b", "guest", "x", pid, "", start=50.0)
    during = Activity("d", "guest", "y", pid, "", start=150.0)
    mine = Activity("m", "guest", "r", os.getpid(), "", start=100.0, end=200.0)
    assert overlapping(mine, [before, during, mine]) == [during]


def test_a_cut_line_is_skipped_and_the_rest_still_counts(own_log):
    with occupying("guest", "run-1"):
        pass
    with open(own_log, "a") as log:
        log.write('{"event": "start", "id": "cut')
    assert [a.what for a in activities()] == ["run-1"]


def test_the_log_keeps_a_day_once_it_grows(own_log, monkeypatch):
    monkeypatch.setattr(hostshare, "PRUNE_AT_BYTES", 10)
    old = {"event": "start", "id": "old", "kind": "guest", "what": "w", "pid": 1,
           "owner": "", "t": 1.0}
    own_log.parent.mkdir(parents=True, exist_ok=True)
    own_log.write_text(json.dumps(old) + "\n")
    with occupying("guest", "new"):
        pass
    assert [a.what for a in activities()] == ["new"]
