"""A Dask cluster started for one run over SSH: the scheduler on this
machine, one worker per host, each started by the system's ssh (so
~/.ssh/config, agents and jump hosts apply) in the host's checkout.

    --cluster ssh://lab1,me@lab2:2222     one VM at a time on each host
    --cluster lab.yaml                    a cluster file (ClusterFile below)

Every host needs the harness checked out (the same commit; by default at
this machine's path); its scripts/setup.sh gives the worker its Python.
The processes end with the harness: the scheduler and the ssh clients die
with it (PDEATHSIG), and each remote worker with its ssh session (a pty:
the remote sshd hangs it up) or, failing that, 60 s after the scheduler.
"""

import re
import shlex
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from harness.errors import InputError
from harness.paths import REPO_ROOT
from harness.schema import At, Context, integer, key, list_of, mapping, read, string_map, text

SSH_SCHEME = "ssh://"
DEATH_TIMEOUT_S = 60
_DESTINATION = re.compile(r"^(?:[A-Za-z0-9._-]+@)?(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])"
                          r"(?::\d{1,5})?$")


def _hosts(raw, at: At, ctx) -> Dict[str, int]:
    raw = mapping(raw, at, raw if isinstance(raw, dict) else ())
    if not raw:
        raise at.error("must name at least one host")
    return {_destination(host, at / str(host)): integer(1, 64)(vms, at / str(host), ctx)
            for host, vms in raw.items()}


def _destination(host, at: At) -> str:
    if not isinstance(host, str) or not _DESTINATION.match(host):
        raise at.error(f"{host!r} is not an ssh destination ([user@]host[:port])")
    return host


@dataclass
class ClusterFile:
    """What a cluster file says, e.g.

        hosts: {lab1: 2, me@lab2:2222: 1}    # ssh destination: VMs it may run at once
        checkout: /home/me/damon-harness     # on every host (default: this one's path)
        ssh: [-i, ~/.ssh/lab]                # more ssh options
        scheduler_host: build1.lab           # how the hosts reach this machine
        env: {DAMON_HARNESS_CACHE: /scratch/dh}   # for the workers
    """
    hosts: Dict[str, int] = key(_hosts, required=True)
    checkout: str = key(text, default=str(REPO_ROOT))
    ssh: List[str] = key(list_of(text), factory=list)
    scheduler_host: str = key(text, default="")
    env: Dict[str, str] = key(string_map(r"^[A-Za-z_][A-Za-z0-9_]*$"), factory=dict)


def cluster_spec(value: str) -> Optional[ClusterFile]:
    """The cluster --cluster asks to start; None for a running scheduler's address."""
    if value.startswith(SSH_SCHEME):
        hosts = value[len(SSH_SCHEME):].split(",")
        at = At("--cluster")
        return ClusterFile(hosts={_destination(h, at): 1 for h in hosts})
    path = Path(value)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        from harness.yamlfile import load_yaml
        return read(ClusterFile, load_yaml(path, path.name), At(path.name),
                    Context(base_dir=path.parent))
    return None


def worker_command(spec: ClusterFile, host: str, vms: int, scheduler: str) -> List[str]:
    """ssh HOST 'cd CHECKOUT && ... dask_worker SCHEDULER --resources VM=N'."""
    env = {"PYTHONPATH": spec.checkout, **spec.env}     # setup.sh's too: it finds the cache
    remote = (f"cd {shlex.quote(spec.checkout)} && export "
              + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
              + " && python=$(scripts/setup.sh) && exec \"$python\""
              f" -m distributed.cli.dask_worker {shlex.quote(scheduler)}"
              f" --nthreads 1 --no-nanny --no-dashboard --resources VM={vms}"
              f" --name {shlex.quote(host)} --death-timeout {DEATH_TIMEOUT_S}")
    return ["ssh", "-tt", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15",
            *spec.ssh, SSH_SCHEME + host, remote]


def start(spec: ClusterFile, log_dir: Path, timeout: float = 300.0):
    """The scheduler here and a worker on each host, all joined; a host
    whose worker does not join is refused (exit 2) with what ssh said."""
    from harness.dask_local import LocalCluster
    bind = spec.scheduler_host or socket.getfqdn()
    cluster = LocalCluster(workers=0, log_dir=log_dir, host=bind)
    scheduler = cluster.address
    for host, vms in spec.hosts.items():
        cluster.add_worker(host, worker_command(spec, host, vms, scheduler))
    try:
        _joined(cluster, list(spec.hosts), timeout)
    except InputError:
        cluster.stop()
        raise
    return cluster


def _joined(cluster, hosts: List[str], timeout: float) -> None:
    from distributed import Client
    deadline = time.monotonic() + timeout
    try:
        client = Client(cluster.address, timeout="30s", set_as_default=False)
    except (OSError, TimeoutError):
        raise InputError("--cluster", f"the scheduler did not start at {cluster.address}: "
                                      f"{cluster.last_line('scheduler')}") from None
    with client:
        while True:
            names = {w.get("name") for w in client.scheduler_info(n_workers=-1)["workers"]
                     .values()}
            missing = [h for h in hosts if h not in names]
            if not missing:
                return
            for host, proc in zip(hosts, cluster.workers):
                if host in missing and proc.poll() is not None:
                    raise InputError("--cluster", f"no worker on {host}: ssh exited "
                                                  f"{proc.returncode}: {cluster.last_line(host)}")
            if time.monotonic() > deadline:
                raise InputError("--cluster", f"no worker joined from {', '.join(missing)} "
                                              f"within {timeout:.0f} s")
            time.sleep(0.5)
