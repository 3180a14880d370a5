"""Tasks on a Dask cluster: each asks its worker for one VM.

Workers declare how many VMs their host may run at once as the resource
`VM` (dask worker ADDRESS --resources VM=1). A task carries its scenario,
its kernel (shipped as one tar, unpacked once per host: see
harness.kernel.shipping) and runs in a process of its own on the worker
(python -m harness.runner), in a directory under the worker's cache. Its
whole run directory comes back to the client's results directory, so reports
are the same as a serial run's.

The scheduler never imports harness: a task is a function pickled by value
(a local function, which distributed hands to cloudpickle) and bytes, so a
scheduler started as Dask documents it (`dask scheduler`) runs our tasks.
Every VM worker must import the same harness as the client (the same files:
harness.hashing.package_digest); one that does not is refused with how to
start it before anything is built, shipped or booted.

A worker that dies mid-run is the scheduler's to reschedule: with
distributed.scheduler.allowed-failures at 1, once. Every attempt announces
itself (an event on the scheduler: worker, host, directory), so the run
directory's task.json lists the attempts, and a task lost twice is reported
as an ERROR with both attempts and whatever files they left on this host.
"""

import io
import os
import pickle
import re
import shutil
import socket
import tarfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, Hashable, List, Optional, Sequence, Tuple

from harness.errors import InputError
from harness.runner import Collected, Task, judged, run_task_process, write_task_file

VM = "VM"
ATTEMPT_EVENT = "damon-harness-attempt"
CONNECT_TIMEOUT_S = 5


def connect(address: str):
    """A client of the scheduler at `address`, refused (exit 2) when nothing
    answers there or no worker declares a VM resource."""
    from distributed import Client
    _reachable(address)
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError("--cluster", f"no Dask scheduler answers at {address}: "
                                      f"{reason[:120]}") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except (TimeoutError, OSError):
        client.close()
        raise InputError("--cluster", f"the scheduler at {address} has no workers") from None
    if not vm_workers(client):
        client.close()
        raise InputError("--cluster", f"no worker at {address} declares a {VM} resource "
                                      f"(start workers with: {worker_command(address)})")
    try:
        check_workers_harness(client, address)
    except InputError:
        client.close()
        raise
    return client


def worker_command(address: str) -> str:
    """How to start a worker that runs this harness (the README's way)."""
    from harness.paths import REPO_ROOT
    return (f"cd {REPO_ROOT} && PYTHONPATH=. $(scripts/setup.sh) -m "
            f"distributed.cli.dask_worker {address} --resources {VM}=1")


def _harness_on_worker():
    """A function for client.run that a worker without harness can still
    unpickle (a local function is pickled by value): what harness it has."""
    def identity() -> str:
        try:
            from harness.hashing import package_digest
            return package_digest()
        except Exception as exc:  # noqa: BLE001 - whatever stops the import
            return f"cannot import harness ({exc})"
    return identity


def check_workers_harness(client, address: str) -> None:
    """InputError naming the first VM worker whose harness is not ours."""
    from harness.hashing import package_digest
    ours = package_digest()
    workers = sorted(vm_workers(client))
    try:
        theirs = client.run(_harness_on_worker(), workers=workers)
    except Exception as exc:  # noqa: BLE001 - a worker that cannot even run the check
        raise InputError("--cluster", f"the workers at {address} cannot run the harness's "
                                      f"check ({_first_line(exc)}); start them with: "
                                      f"{worker_command(address)}") from None
    for worker in workers:
        if theirs.get(worker) != ours:
            found = theirs.get(worker, "no answer")
            what = found if found.startswith("cannot") else f"another harness ({found})"
            raise InputError("--cluster", f"worker {worker} {what}; start it with: "
                                          f"{worker_command(address)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()[:160]


_ADDRESS = re.compile(r"^(?:tcp://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def _reachable(address: str) -> None:
    """A tcp://HOST:PORT that accepts a connection; checked with a plain socket
    so that a wrong address costs one line, not a client's retries."""
    m = _ADDRESS.match(address)
    if not m:
        raise InputError("--cluster", f"{address!r} is not a scheduler address "
                                      f"(e.g. tcp://lab1:8786)")
    host, port = m.group(1).strip("[]"), int(m.group(2))
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise InputError("--cluster", f"no Dask scheduler answers at {address}: "
                                      f"{exc.strerror or exc}") from None


def vm_workers(client) -> Dict[str, int]:
    """{worker address: how many VMs it may run at once}."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return {addr: int(w.get("resources", {}).get(VM, 0)) for addr, w in workers.items()
            if w.get("resources", {}).get(VM, 0) >= 1}


class DaskRunner:
    def __init__(self, client, accel: str = "auto"):
        self.client = client
        self.accel = accel
        self.address = client.scheduler.address

    def describe(self, tasks: Sequence[Task]) -> str:
        workers = vm_workers(self.client)
        hosts = {addr.rsplit(":", 1)[0] for addr in workers}
        line = (f"dask {self.address}: {len(workers)} workers with {sum(workers.values())} "
                f"VM slots on {len(hosts)} host(s)")
        if len(hosts) < sum(workers.values()):
            line += "; VMs of one host ran at once and may have SHARED its cores " \
                    "(timing figures under TCG are sensitive to that)"
        return line

    def run(self, tasks: Sequence[Task], echo=print,
            after: Optional[Callable[[Task, object], None]] = None) -> Dict[Hashable, list]:
        from distributed import as_completed
        self.how = self.describe(tasks) + _keep_replicas(self.client)
        echo(self.how)
        futures = {}
        for task, (shipped, ident, blob) in zip(tasks, self._ship_kernels(tasks)):
            key = f"damon-{task.run_dir.name}-{uuid.uuid4().hex[:8]}"
            payload = pickle.dumps((shipped, self.accel, ident))
            future = self.client.submit(_task_function(), payload, blob, key=key,
                                        resources={VM: 1}, pure=False)
            futures[future] = task
        collected = Collected(tasks, echo, after)
        for future in as_completed(futures, loop=self.client.loop):
            task = futures[future]
            result, attempts = self._collect(task, future)
            collected.add(task, result)
            if len(attempts) > 1:
                echo(f"  {task.run_dir.name}: {len(attempts)} attempts: " + "; ".join(
                    f"{a['worker']} ({a['outcome']})" for a in attempts))
        return collected.by_cell()

    def _ship_kernels(self, tasks: Sequence[Task]) -> List[tuple]:
        """The tasks, each with its kernel resolved here (built or fetched
        once per spec) and shipped: (content id, tar scattered to the cluster)."""
        from harness.kernel import shipping
        resolved, shipped, out = {}, {}, []
        for task in tasks:
            kernel = task.kernel
            if kernel is None:
                spec = task.work.kernel_key()
                if spec not in resolved:
                    resolved[spec] = task.work.kernel()
                kernel = resolved[spec]
            if id(kernel) not in shipped:
                # On every worker: a tar held by one alone is lost with it, and
                # every task that needs it is cancelled, not rescheduled.
                shipped[id(kernel)] = (shipping.kernel_id(kernel), self.client.scatter(
                    shipping.pack(kernel), broadcast=True))
            out.append((replace(task, kernel=kernel), *shipped[id(kernel)]))
        return out

    def _collect(self, task: Task, future) -> Tuple[object, List[dict]]:
        """(the task's result, every attempt at it); its run directory is
        unpacked here; the result is an ERROR when the task was lost."""
        from distributed import KilledWorker
        try:
            archive, last = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost scheduler...
            attempts = self._attempts(future.key, done=None)
            if attempts and not isinstance(exc, KilledWorker):
                attempts[-1]["outcome"] = f"raised {type(exc).__name__}"
            task.run_dir.mkdir(parents=True, exist_ok=True)
            _keep_leftovers(attempts, task.run_dir)
            write_task_file(task, {"runner": self.how, "attempts": attempts,
                                   "lost": f"{type(exc).__name__}: {exc}"})
            return task.work.lost(task.run_dir, f"{_tried(attempts)}: {_first_line(exc)}"
                                  " (the whole reason is in task.json)"), attempts
        finally:
            future.release()
        _unpack(archive, task.run_dir)
        attempts = self._attempts(future.key, done=last)
        _keep_leftovers(attempts, task.run_dir)
        write_task_file(task, {"runner": self.how, "attempts": attempts})
        return judged(task), attempts

    def _attempts(self, key: str, done: Optional[dict]) -> List[dict]:
        """Every attempt at `key`, in order; all but `done` died with their worker."""
        time.sleep(0.2)     # a dying worker's last event may still be on its way
        started = [msg for _, msg in self.client.get_events(ATTEMPT_EVENT)
                   if msg.get("key") == key]
        for a in started:
            a["outcome"] = "finished" if done and a["dir"] == done["dir"] else \
                "its worker died"
        return started


def _tried(attempts: List[dict]) -> str:
    if not attempts:
        return "no result: no attempt started on a worker"
    return (f"no result from {len(attempts)} attempt(s) "
            f"({', '.join(a['worker'] for a in attempts)})")


def _keep_replicas(client) -> str:
    """Stops the scheduler's active memory manager, which would drop the
    shipped kernels' extra copies (it keeps one per waiting task, so the last
    task's kernel lives on one worker, and dies with it)."""
    if not client.amm.running():
        return ""
    client.amm.stop()
    return "; its active memory manager is now stopped, so every worker keeps the kernels"


def _task_function():
    """What a task runs, as the scheduler sees it: a local function (so
    pickled by value) of bytes; harness is imported on the worker only."""
    def run_payload(payload: bytes, blob: bytes):
        import pickle as unpickle
        from harness.dask_runner import attempt as run_attempt
        return run_attempt(*unpickle.loads(payload), blob)
    return run_payload


def attempt(task: Task, accel: str, ident: str, blob: bytes):
    """On a worker: run the task in a directory of this host's cache and send
    back (its run directory as a tar, where it ran)."""
    from distributed import get_worker
    from harness.kernel.shipping import unpacked
    from harness.paths import cache_dir, cache_root
    worker = get_worker()
    where = cache_root() / "dask-attempts" / f"{task.run_dir.name}-{uuid.uuid4().hex[:8]}"
    info = {"key": worker.get_current_task(), "worker": worker.address,
            "host": os.uname().nodename, "pid": os.getpid(), "dir": str(where)}
    worker.log_event(ATTEMPT_EVENT, info)     # first: whatever fails next, it is on record
    cache_dir("dask-attempts")
    local = replace(task, kernel=unpacked(task.kernel, ident, blob),
                    run_dir=where / task.run_dir.name)
    run_task_process(local, accel, log=None)
    archive = _pack(local.run_dir)
    shutil.rmtree(where, ignore_errors=True)
    return archive, info


def _pack(run_dir: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(str(run_dir), arcname=".")
    return buf.getvalue()


def _unpack(archive: bytes, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(run_dir, filter="data")


def _keep_leftovers(attempts: List[dict], run_dir: Path) -> None:
    """What a died attempt left, when it is on this host: moved beside the
    run as attempt-N; else its task.json entry says where it is."""
    for n, a in enumerate(attempts, 1):
        left = Path(a["dir"]) / run_dir.name
        if a["outcome"] != "finished" and a["host"] == os.uname().nodename and left.is_dir():
            (left / "overlay.qcow2").unlink(missing_ok=True)    # the guest's scratch disk
            shutil.move(str(left), str(run_dir / f"attempt-{n}"))
            shutil.rmtree(a["dir"], ignore_errors=True)
            a["kept_as"] = f"attempt-{n}"
