"""A matrix on a real Dask scheduler with two real worker processes on
127.0.0.1, against the same matrix run serially: 2 scenarios x 2 repeats.

One worker is killed (SIGKILL, by its pid) while a VM runs on it. Every
result must still arrive, with the same verdicts and the same artefacts as
the serial run; the retry must be recorded with what the first attempt left;
and no QEMU may be left on the machine.

The scenarios are two negative controls cut to 8 s of sampling, with only
their `stays` checks: what those check holds whatever the timing, and the
two VMs share the host's two cores here. (With their `reaches` checks and
12 s, one was not reached in time once: that is a test of DAMON under load,
not of the runner.)
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from harness.dask_local import LocalCluster
from harness.hostshare import OWNER_ENV
from harness.paths import REPO_ROOT

# the scenarios keep only checks that hold whatever the timing
pytestmark = [pytest.mark.vm, pytest.mark.may_share_cores]

SCENARIOS = ("collapse-stat-control", "migration-nomatch-control")
SECONDS = 8
# Files a run may have or not whoever ran it: the runner's own records.
RUNNER_FILES = {"task.json", "task.log"}


@pytest.fixture
def quick(short_scenario, tmp_path):
    return lambda name: short_scenario(name, SECONDS, tmp_path, timed=False)


def harness_run(args, out: Path, results: Path, repeat: int = 2, **popen):
    env = {**os.environ, "DAMON_HARNESS_RESULTS": str(results)}
    return subprocess.Popen([sys.executable, "-m", "harness", "run", *args, "--repeat",
                             str(repeat),
                             "--out", str(out)], cwd=REPO_ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)


def runs_of(out: Path) -> dict:
    """{(scenario, n-th run of it): (verdict, its files)} from a suite's summary."""
    seen, runs = {}, {}
    for s in json.loads((out / "summary.json").read_text())["scenarios"]:
        seen[s["name"]] = seen.get(s["name"], 0) + 1
        run_dir = Path(s["run_dir"])
        files = {str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                 if p.is_file() and not str(p.relative_to(run_dir)).startswith("attempt-")}
        runs[(s["name"], seen[s["name"]])] = (s["verdict"], files - RUNNER_FILES, run_dir)
    return runs


def started_by_this_test(process: psutil.Process) -> bool:
    """The other test lane's guests run meanwhile; ours carry our owner."""
    try:
        return process.environ().get(OWNER_ENV) == os.environ.get(OWNER_ENV)
    except psutil.Error:
        return False


def qemus_since(start: float, grace: float = 10.0):
    """This test's QEMUs started since `start` still there after `grace` s: a
    killed worker's QEMU is SIGKILLed by the kernel (PDEATHSIG), but not at once."""
    deadline = time.monotonic() + grace
    while True:
        found = [p for p in psutil.process_iter(["name", "create_time", "status"])
                 if (p.info["name"] or "").startswith("qemu-system")
                 and p.info["create_time"] >= start and started_by_this_test(p)]
        if not found or time.monotonic() > deadline:
            return [(p.pid, p.info["status"]) for p in found]
        time.sleep(0.5)


def kill_a_worker_while_its_vm_runs(cluster: LocalCluster, harness, timeout=240) -> int:
    """SIGKILLs a worker once its guest has written to its console. (A fixed
    3 s after QEMU started was not enough with the other lane's guest on
    the cores: the killed attempt's console.log was still empty.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and harness.poll() is None:
        for worker in [w for w in cluster.workers if w.poll() is None]:
            if console_has_output(worker.pid):
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait(10)
                return worker.pid
        time.sleep(0.5)
    return 0     # no VM ever ran: the assertions below say what went wrong


def console_has_output(worker_pid: int) -> bool:
    """Whether a guest that a process below the worker runs has a console.log
    with something in it (the host's log of guests says where it is)."""
    from harness.hostshare import activities
    try:
        pids = {k.pid for k in psutil.Process(worker_pid).children(recursive=True)}
    except psutil.Error:
        return False
    for guest in activities():
        if guest.kind == "guest" and guest.end is None and guest.pid in pids:
            console = Path(guest.what) / "console.log"
            if console.is_file() and console.stat().st_size > 0:
                return True
    return False


@pytest.mark.takes_seconds(175)
def test_a_dask_matrix_matches_a_serial_one_and_a_killed_worker_loses_nothing(tmp_path, quick):
    started = time.time()
    paths = [str(quick(name)) for name in SCENARIOS]
    serial = harness_run(paths, tmp_path / "serial", tmp_path / "serial-runs")
    serial_out = serial.communicate()[0]
    print(serial_out)
    assert serial.returncode == 0
    (tmp_path / "logs").mkdir()
    with LocalCluster(workers=2, vms=1, log_dir=tmp_path / "logs") as cluster:
        dask = harness_run(paths + ["--cluster", cluster.address], tmp_path / "dask",
                           tmp_path / "dask-runs")
        killed = kill_a_worker_while_its_vm_runs(cluster, dask)
        dask_out = dask.communicate(timeout=900)[0]
    print(dask_out)
    assert killed, "no worker ever ran a VM"
    assert dask.returncode == serial.returncode
    assert "2 workers with 2 VM slots" in dask_out
    summary = {side: json.loads((tmp_path / side / "summary.json").read_text())["runner"]
               for side in ("serial", "dask")}
    from kcidb_io.schema import V4_5
    V4_5.validate(json.loads((tmp_path / "serial" / "kcidb.json").read_text()))
    assert summary["serial"].startswith("local: 1 job(s) at once")
    assert summary["dask"].startswith(f"dask {cluster.address}: 2 workers")

    ours, theirs = runs_of(tmp_path / "dask"), runs_of(tmp_path / "serial")
    assert set(ours) == set(theirs) and len(ours) == 4
    for cell in theirs:
        assert ours[cell][0] == theirs[cell][0] == "PASS", cell
        assert ours[cell][1] == theirs[cell][1], f"{cell}: files differ"

    tasks = [json.loads((run_dir / "task.json").read_text()) for _, _, run_dir in ours.values()]
    retried = [t for t in tasks if len(t["attempts"]) > 1]
    assert len(retried) == 1, tasks
    first, second = retried[0]["attempts"]
    assert first["outcome"] == "its worker died" and first["pid"] == killed
    assert second["outcome"] == "finished" and second["pid"] != killed
    kept = [run_dir for _, _, run_dir in ours.values() if (run_dir / "attempt-1").is_dir()]
    assert len(kept) == 1 and (kept[0] / "attempt-1" / "console.log").stat().st_size > 0
    assert f"{kept[0].name}: 2 attempts" in dask_out
    assert all(len(t["attempts"]) == 1 for t in tasks if t not in retried)
    assert not qemus_since(started), "a QEMU outlived the test"


def test_a_task_lost_on_two_workers_is_an_error_with_both_attempts_kept(tmp_path, quick):
    """Its worker is killed under it twice: allowed-failures=1 gives up, and
    the task is reported once, as an ERROR, with what each attempt left."""
    started = time.time()
    path = str(quick(SCENARIOS[0]))
    (tmp_path / "logs").mkdir()
    with LocalCluster(workers=2, vms=1, log_dir=tmp_path / "logs") as cluster:
        run = harness_run([path, "--cluster", cluster.address], tmp_path / "out",
                          tmp_path / "runs", repeat=1)
        killed = [kill_a_worker_while_its_vm_runs(cluster, run) for _ in range(2)]
        out = run.communicate(timeout=300)[0]
    print(out)
    assert all(killed) and killed[0] != killed[1], killed
    assert run.returncode != 0
    [summary] = json.loads((tmp_path / "out" / "summary.json").read_text())["scenarios"]
    assert summary["verdict"] == "ERROR" and "no result from 2 attempt(s)" in summary["message"]
    run_dir = Path(summary["run_dir"])
    task = json.loads((run_dir / "task.json").read_text())
    assert [a["pid"] for a in task["attempts"]] == killed
    assert all(a["outcome"] == "its worker died" for a in task["attempts"])
    assert "KilledWorker" in task["lost"]
    for n in (1, 2):
        assert (run_dir / f"attempt-{n}" / "console.log").stat().st_size > 0
    assert f"{run_dir.name}: 2 attempts" in out
    assert not qemus_since(started), "a QEMU outlived the test"


def scheduler_finds_harness(address: str) -> bool:
    from distributed import Client

    def finds() -> bool:        # local: pickled by value, as the runner's tasks are
        import importlib.util
        return importlib.util.find_spec("harness") is not None
    with Client(address, set_as_default=False) as client:
        return client.run_on_scheduler(finds)


def test_a_scheduler_started_as_dask_documents_it_runs_a_scenario(tmp_path, quick):
    """`dask scheduler` outside the checkout (it cannot import harness) and a
    worker started as the README says: the scenario PASSes."""
    started = time.time()
    path = quick(SCENARIOS[0])
    (tmp_path / "logs").mkdir()
    with LocalCluster(workers=1, vms=1, log_dir=tmp_path / "logs",
                      dask_scheduler=True) as cluster:
        assert not scheduler_finds_harness(cluster.address)
        run = harness_run([str(path), "--cluster", cluster.address], tmp_path / "out",
                          tmp_path / "runs", repeat=1)
        out = run.communicate(timeout=300)[0]
    print(out)
    assert run.returncode == 0, out
    [result] = json.loads((tmp_path / "out" / "summary.json").read_text())["scenarios"]
    assert result["verdict"] == "PASS"
    assert not qemus_since(started), "a QEMU outlived the test"


# ------------------------------------------------------------ over ssh

@pytest.fixture
def sshd(tmp_path):
    """An sshd of our own on 127.0.0.1, a free port, taking one key of our
    own for root; ended when the test ends. -> (destination, ssh options)."""
    from harness.dask_local import free_port
    d = tmp_path / "sshd"
    d.mkdir()
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                       check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    port = free_port()
    (d / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_key'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}", f"PidFile {d / 'sshd.pid'}",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no"]) + "\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)     # sshd's privilege separation
    with open(d / "sshd.log", "wb") as log:
        daemon = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        options = ["-i", str(d / "client_key"), "-o", "StrictHostKeyChecking=no",
                   "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        yield f"root@127.0.0.1:{port}", options, d / "sshd.log"
    finally:
        daemon.terminate()
        daemon.wait(10)


def dask_workers_of(port: int):
    return [p for p in psutil.process_iter(["cmdline"])
            if "distributed.cli.dask_worker" in " ".join(p.info["cmdline"] or [])
            and f":{port}" in " ".join(p.info["cmdline"] or [])]


def test_a_cluster_started_over_ssh_runs_the_matrix_and_ends_with_the_harness(tmp_path, sshd,
                                                                             quick):
    """--cluster FILE: the scheduler here, a worker started by ssh through a
    real sshd; its VM runs the scenario, and nothing is left afterwards."""
    destination, options, sshd_log = sshd
    started = time.time()
    path = quick(SCENARIOS[0])
    env = {k: v for k, v in os.environ.items() if k == "DAMON_HARNESS_CACHE"}
    lab = tmp_path / "lab.yaml"
    lab.write_text(yaml.safe_dump({"hosts": {destination: 1}, "ssh": options,
                                   "scheduler_host": "127.0.0.1", "env": env}))
    run = harness_run([str(path), "--cluster", str(lab)], tmp_path / "out", tmp_path / "runs",
                      repeat=1)
    out = run.communicate(timeout=600)[0]
    print(out)
    assert run.returncode == 0
    assert f"starting a worker on {destination} over ssh" in out
    assert b"Accepted publickey for root" in sshd_log.read_bytes()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    [result] = summary["scenarios"]
    assert result["verdict"] == "PASS"
    assert summary["runner"].startswith("dask tcp://127.0.0.1:") and "1 workers" in summary["runner"]
    port = int(re.search(r"tcp://127\.0\.0\.1:(\d+)", summary["runner"]).group(1))
    deadline = time.monotonic() + 15
    while dask_workers_of(port) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not dask_workers_of(port), "the ssh worker outlived the harness"
    assert not qemus_since(started), "a QEMU outlived the test"
