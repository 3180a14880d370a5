"""The Dask runner's bookkeeping on a real scheduler and worker, without a
VM: a task whose attempt fails is an ERROR that names the attempt, and its
run directory says why. (A matrix of VMs on Dask is tests/e2e/test_dask.py.)"""

import json

from harness import runner
from harness.dask_local import LocalCluster
from harness.dask_runner import DaskRunner, connect
from harness.kernel.artifact import Kernel
from harness.scenario import load_scenario
from harness.paths import REPO_ROOT
from harness.verdict import Verdict


def test_a_task_with_no_result_is_an_error_that_names_its_attempt(tmp_path):
    (tmp_path / "bzImage").write_bytes(b"not a kernel")
    kernel = Kernel(tmp_path / "bzImage", None, "0.0.0", {"kind": "test"})
    sc = load_scenario(str(REPO_ROOT / "tests" / "scenarios" / "collapse.yaml"),
                       check_kernel=False)
    [task] = runner.interleaved([("k", sc, kernel, "")], 1, lambda *_: tmp_path / "run")
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
