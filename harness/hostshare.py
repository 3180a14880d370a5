"""Who else used this host's cores while a guest ran.

Under TCG a guest's timing is only its own when the host's cores are: a
second guest or a kernel build beside it slows its vCPUs, and DAMON then
sees fewer accesses per sampling interval. Every guest and kernel build of
any harness process on this host (whatever its cache) appends a line to one
log when it starts and when it ends. A guest asks, when it stops, what
overlapped its life; its vm.json says so (`shared_cores`). The pytest plugin
reads the same log to say which tests' guests shared the cores.

An activity whose process died without saying it ended (SIGKILL) has no
known end: it counts as overlapping only the activities that started while
it was known to run, so a dead one does not haunt every later guest.
"""

import json
import os
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

OWNER_ENV = "DAMON_HARNESS_OWNER"   # who started an activity (the pytest plugin: a test)
LOG_ENV = "DAMON_HARNESS_HOST_LOG"  # another log, for tests of this module
KEEP_S = 24 * 3600                  # the log keeps a day of activities once it grows
PRUNE_AT_BYTES = 1 << 20


def log_path() -> Path:
    default = Path(tempfile.gettempdir()) / f"damon-harness-host-{os.getuid()}" / "activities"
    return Path(os.environ.get(LOG_ENV) or default)


@dataclass
class Activity:
    id: str
    kind: str           # "guest" or "kernel build"
    what: str           # a run directory, a kernel's key
    pid: int
    owner: str
    start: float
    end: Optional[float] = None     # None: still running, or its process died

    def describe(self) -> str:
        owner = f" ({self.owner})" if self.owner else ""
        return f"{self.kind} {self.what}{owner}"

    def overlaps(self, other: "Activity", now: float) -> bool:
        """Whether the two ran at the same time; one with no known end runs
        until now if its process lives, else it only covers starts it saw."""
        mine_end = self.end or now
        if other.end is not None or _alive(other.pid):
            return other.start < mine_end and self.start < (other.end or now)
        return self.start <= other.start < mine_end


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _append(record: dict) -> None:
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write of a short line to an O_APPEND file: lines of several
    # processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)


def activities() -> List[Activity]:
    """Every activity in the log, a start and its end paired."""
    found = {}
    try:
        lines = log_path().read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue            # a line cut by a full disk; the rest still counts
        if rec.get("event") == "start":
            found[rec["id"]] = Activity(rec["id"], rec["kind"], rec["what"], rec["pid"],
                                        rec.get("owner", ""), rec["t"])
        elif rec.get("event") == "end" and rec.get("id") in found:
            found[rec["id"]].end = rec["t"]
    return list(found.values())


def overlapping(activity: Activity, among: Optional[List[Activity]] = None) -> List[Activity]:
    """The other activities that ran while `activity` did."""
    now = time.time()
    return [a for a in (activities() if among is None else among)
            if a.id != activity.id and activity.overlaps(a, now)]


class Occupancy:
    """One guest or build, on the log from begin() to finish()."""

    def __init__(self, kind: str, what: str):
        self.activity = Activity(uuid.uuid4().hex[:12], kind, what, os.getpid(),
                                 os.environ.get(OWNER_ENV, ""), 0.0)

    def begin(self) -> None:
        _prune()
        self.activity.start = time.time()
        a = self.activity
        _append({"event": "start", "id": a.id, "kind": a.kind, "what": a.what, "pid": a.pid,
                 "owner": a.owner, "t": a.start})

    def finish(self) -> List[Activity]:
        """Ends it; what overlapped it."""
        if self.activity.end is None:
            self.activity.end = time.time()
            _append({"event": "end", "id": self.activity.id, "t": self.activity.end})
        return overlapping(self.activity)


@contextmanager
def occupying(kind: str, what: str) -> Iterator[Occupancy]:
    occupancy = Occupancy(kind, what)
    occupancy.begin()
    try:
        yield occupancy
    finally:
        occupancy.finish()


def _prune() -> None:
    """Once the log passes PRUNE_AT_BYTES, keep the last day of it. Two
    processes pruning at once each write a whole file and rename it: the
    log loses at most the lines appended meanwhile."""
    path = log_path()
    try:
        if path.stat().st_size < PRUNE_AT_BYTES:
            return
        lines = path.read_text().splitlines()
    except OSError:
        return
    cutoff = time.time() - KEEP_S
    kept = [line for line in lines if _time_of(line) >= cutoff]
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    os.replace(tmp, path)


def _time_of(line: str) -> float:
    try:
        return float(json.loads(line).get("t", 0))
    except (ValueError, TypeError, AttributeError):
        return 0.0
