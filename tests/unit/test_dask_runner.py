"""The Dask runner's bookkeeping on a real scheduler and worker, without a
VM: a task whose attempt fails is an ERROR that names the attempt, and its
run directory says why. (A matrix of VMs on Dask is tests/e2e/test_dask.py.)"""

import json
import os
import subprocess
import sys

from harness import runner
from harness.dask_local import LocalCluster, dask_command, without_harness
from harness.dask_runner import DaskRunner, connect
from harness.kernel.artifact import Kernel
from harness.scenario import load_scenario
from harness.paths import REPO_ROOT
from harness.verdict import Verdict


def _failing_task(tmp_path):
    """A task whose attempt raises on the worker (its cache is a file)."""
    (tmp_path / "bzImage").write_bytes(b"not a kernel")
    kernel = Kernel(tmp_path / "bzImage", None, "0.0.0", {"kind": "test"})
    sc = load_scenario(str(REPO_ROOT / "tests" / "scenarios" / "collapse.yaml"),
                       check_kernel=False)
    return runner.interleaved([("k", sc, kernel, "")], 1, lambda *_: tmp_path / "run")


def test_a_task_with_no_result_is_an_error_that_names_its_attempt(tmp_path):
    [task] = _failing_task(tmp_path)
    in_the_way = tmp_path / "a-file-where-the-cache-goes"
    in_the_way.write_text("")
    (tmp_path / "logs").mkdir()
    with LocalCluster(workers=1, vms=1, log_dir=tmp_path / "logs",
                      env={"DAMON_HARNESS_CACHE": str(in_the_way)}) as cluster:
        client = connect(cluster.address)
        lines = []
        try:
            results = DaskRunner(client, "tcg").run([task], echo=lines.append)
        finally:
            client.close()
    [result] = results["k"]
    assert result.verdict == Verdict.ERROR
    assert "no result from 1 attempt(s)" in result.message and "InputError" in result.message
    record = json.loads((tmp_path / "run" / "task.json").read_text())
    [attempt] = record["attempts"]
    assert attempt["outcome"] == "raised InputError" and attempt["host"]
    assert "InputError" in record["lost"] and record["inputs"]["kernel"] != "default"
    assert lines[0].startswith(f"dask {cluster.address}: 1 workers with 1 VM slots")
    assert len(lines) == 2 and "ERROR" in lines[1] and record["runner"] == lines[0]


def test_a_scheduler_started_as_dask_documents_it_runs_our_tasks(tmp_path):
    """`dask scheduler`, outside the checkout and without PYTHONPATH, cannot
    import harness: the task must reach the worker all the same (here it
    fails on the worker, as in the test above, which proves it ran there)."""
    [task] = _failing_task(tmp_path)
    in_the_way = tmp_path / "a-file-where-the-cache-goes"
    in_the_way.write_text("")
    (tmp_path / "logs").mkdir()
    with LocalCluster(workers=1, vms=1, log_dir=tmp_path / "logs", dask_scheduler=True,
                      env={"DAMON_HARNESS_CACHE": str(in_the_way)}) as cluster:
        client = connect(cluster.address)
        try:
            results = DaskRunner(client, "tcg").run([task], echo=lambda line: None)
        finally:
            client.close()
    [result] = results["k"]
    assert result.verdict == Verdict.ERROR and "InputError" in result.message
    assert "deserialization" not in result.message and "\n" not in result.message
    record = json.loads((tmp_path / "run" / "task.json").read_text())
    assert record["attempts"][0]["outcome"] == "raised InputError"


def test_a_worker_that_cannot_import_harness_is_refused_before_anything_runs(tmp_path):
    """Both started as Dask documents them (`dask scheduler`, `dask worker
    ... --resources VM=1`), outside the checkout: exit 2, one line naming
    the worker and how to start it, and nothing built, booted or cached."""
    (tmp_path / "logs").mkdir()
    cache = tmp_path / "cache"
    with LocalCluster(workers=0, log_dir=tmp_path / "logs", dask_scheduler=True) as cluster:
        cluster.add_worker("plain", [dask_command(), "worker", cluster.address, "--nthreads",
                                     "1", "--no-dashboard", "--resources", "VM=1"],
                           env=without_harness(os.environ), cwd=tmp_path / "logs")
        cluster.wait()
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DAMON_HARNESS_CACHE": str(cache),
               "DAMON_HARNESS_RESULTS": str(tmp_path / "results")}
        proc = subprocess.run([sys.executable, "-m", "harness", "run", "collapse", "--cluster",
                               cluster.address], env=env, capture_output=True, text=True,
                              timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "cannot import harness (No module named 'harness')" in lines[0]
    assert lines[0].endswith(f"PYTHONPATH=. $(scripts/setup.sh) -m distributed.cli.dask_worker "
                             f"{cluster.address} --resources VM=1")
    assert cluster.address.split("//")[1].split(":")[0] in lines[0]
    assert not cache.exists() or not any(cache.iterdir())
    assert not (tmp_path / "results").exists()
