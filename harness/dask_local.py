"""A Dask scheduler and workers as processes on this host: for the tests,
the benchmark, and trying the cluster mode without lab machines."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

from harness.vm.process import die_with_parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dask_command() -> str:
    """The `dask` command of this Python environment."""
    return str(Path(sys.executable).parent / "dask")


def without_harness(env: dict) -> dict:
    """env for a process that must not find harness: no PYTHONPATH."""
    return {k: v for k, v in env.items() if k != "PYTHONPATH"}


class LocalCluster:
    """`workers` worker processes, each declaring `vms` VMs (0: none), with
    no nanny, so a worker's pid is the process that runs its tasks."""

    def __init__(self, workers: int = 2, vms: int = 1, log_dir: Optional[Path] = None,
                 allowed_failures: int = 1, env: Optional[dict] = None,
                 host: str = "127.0.0.1", dask_scheduler: bool = False):
        """dask_scheduler: started as Dask documents it (`dask scheduler`),
        in the log directory and without PYTHONPATH: it cannot import harness."""
        self.port = free_port()
        self.address = f"tcp://{host}:{self.port}"
        self.log_dir = Path(log_dir or "/tmp")
        self.env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES":
                    str(allowed_failures), **(env or {})}
        where = ["--host", host, "--port", str(self.port), "--no-dashboard"]
        if dask_scheduler:
            self.scheduler = self._start("scheduler", [dask_command(), "scheduler", *where],
                                         env=without_harness(self.env), cwd=self.log_dir)
        else:
            self.scheduler = self._start("scheduler", [
                sys.executable, "-m", "distributed.cli.dask_scheduler", *where])
        resources = ["--resources", f"VM={vms}"] if vms else []
        self.workers: List[subprocess.Popen] = []
        for i in range(workers):
            self.add_worker(f"worker-{i}", [
                sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"w{i}",
                *resources])

    def add_worker(self, name: str, argv: List[str], env: Optional[dict] = None,
                   cwd: Optional[Path] = None) -> subprocess.Popen:
        """A worker started by `argv` (here, or over ssh), logged as `name`."""
        self.workers.append(self._start(name, argv, env, cwd))
        return self.workers[-1]

    def _log(self, name: str) -> Path:
        return self.log_dir / f"dask-{name.replace('/', '_')}.log"

    def last_line(self, name: str) -> str:
        """The last line a process wrote, for a message."""
        lines = self._log(name).read_text(errors="replace").strip().splitlines()
        return lines[-1].strip()[:200] if lines else "(nothing)"

    def _start(self, name: str, argv: List[str], env: Optional[dict] = None,
               cwd: Optional[Path] = None) -> subprocess.Popen:
        with open(self._log(name), "wb") as log:
            return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env or self.env, cwd=cwd,
                                    preexec_fn=die_with_parent)

    def wait(self, timeout: float = 30.0) -> "LocalCluster":
        from distributed import Client
        with Client(self.address, timeout=f"{timeout}s", set_as_default=False) as client:
            if self.workers:
                client.wait_for_workers(len(self.workers), timeout=timeout)
        return self

    def stop(self) -> None:
        for proc in self.workers + [self.scheduler]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.workers + [self.scheduler]:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self):
        return self.wait()

    def __exit__(self, *exc):
        self.stop()
