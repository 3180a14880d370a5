"""A selftests run as a runner's work: judged again from the results.json a
real run wrote (tests/data/selftests/default-7.3.4), ERROR-like when lost,
and named by its inputs."""

import json
import shutil
from pathlib import Path

from harness.kernel.artifact import Kernel
from harness.runner import interleaved
from harness.selftests import kernel as skernel, tools as stools
from harness.selftests.results import Status
from harness.selftests.work import SelftestsWork

RUN = Path(__file__).parent.parent / "data" / "selftests" / "default-7.3.4"


def _work(tests, tmp_path, **kw) -> SelftestsWork:
    tools = stools.TestTools(tmp_path / "tools", {"source": {"identity": "debian:7.3.4"},
                                                  "patches": [], "selftests": list(tests),
                                                  "kunit_cases": {}})
    kernel = Kernel(tmp_path / "bzImage", None, "7.3.4", {"kind": "test"})
    return SelftestsWork(skernel.TestKernel(kernel, tools, None), tests, **kw)


def test_a_real_run_is_judged_again_from_its_directory(tmp_path):
    shutil.copy(RUN / "results.json", tmp_path / "results.json")
    saved = json.loads((RUN / "results.json").read_text())
    work = _work([t["name"] for t in saved["tests"] if t["kind"] == "selftest"], tmp_path)
    run = work.judged(tmp_path)
    assert [r.to_dict() for r in run.results] == [{"seconds": 0.0, **t} for t in saved["tests"]]
    assert run.extra["kernel"]["release"] == "7.3.4"
    assert work.summary_line(run) == saved["summary"]
    assert work.judged(tmp_path / "nosuch") is None


def test_a_lost_run_reports_every_test_not_run_and_says_why(tmp_path):
    work = _work(["sysfs.py", "damos_quota.py"], tmp_path)
    lost = work.lost(tmp_path / "run", "no result from 2 attempt(s)")
    assert [(r.name, r.status) for r in lost.results] == [
        ("sysfs.py", Status.NOTRUN), ("damos_quota.py", Status.NOTRUN)]
    again = work.judged(tmp_path / "run")
    assert again.results == lost.results and "2 NOT RUN" in work.summary_line(again)
    assert all(r.reason == "no result from 2 attempt(s)" for r in again.results)


def test_its_inputs_name_what_decides_the_run(tmp_path):
    cells = [("a", _work(["sysfs.py"], tmp_path), None, ""),
             ("b", _work(["sysfs.py"], tmp_path, retries=1), None, ""),
             ("c", _work(["sysfs.py"], tmp_path), None, "")]
    a, b, c = (t.inputs()["work"] for t in interleaved(cells, 1, lambda k, r: tmp_path / k))
    assert a == c != b


def test_a_host_without_the_tests_build_says_so_for_every_test(tmp_path):
    """Another host gets the kernel shipped, not the selftests' build."""
    work = _work(["sysfs.py"], tmp_path)
    [result] = work.run(None, "tcg", tmp_path / "run").results
    assert result.status == Status.NOTRUN and "not on this host" in result.reason
    assert work.judged(tmp_path / "run").results == [result]
