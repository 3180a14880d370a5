"""The kernel's own DAMON tests, run by the harness on make test's shared
kernel (Debian's 7.3 source with our DAMON_HUGEPAGE series; the default
fragments, KUnit, debug info, kmemleak and DAMON_HUGEPAGE: see
tests/e2e/conftest.py) plus the selftests' own config, which only adds
DAMON_DEBUG_SANITY: one compile of mm/damon/. Every selftest and every KUnit suite is an item
here, so CI's JUnit shows each one; tests/selftests/expected.yaml says what
each must give on this kernel, and why when that is not PASS.

Two controls break the kernel on purpose. break-damos-commit-quota.patch
breaks one function: the KUnit case and the selftest that cover it must
FAIL, with their output in the report, and nothing else may.
crash-on-tried-regions.patch hits BUG(): the selftest running then must end
in CRASH with the console's report, and the ones after it in NOT RUN.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.paths import REPO_ROOT

pytestmark = pytest.mark.vm
# The controls' verdicts do not depend on timing; the default run's do (some
# selftests time DAMON), so its items run alone.
may_share = pytest.mark.may_share_cores

EXPECTED = yaml.safe_load((REPO_ROOT / "tests/selftests/expected.yaml").read_text())
CONTROL = REPO_ROOT / "tests/controls/break-damos-commit-quota.patch"
CRASH = REPO_ROOT / "tests/controls/crash-on-tried-regions.patch"


def harness(*args, out: Path) -> dict:
    """Run the real CLI; its results.json, with the exit status added."""
    proc = subprocess.run([sys.executable, "-m", "harness", *args, "--out", str(out)],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    print(proc.stdout)
    results = json.loads((out / "results.json").read_text())
    results["exit_status"] = proc.returncode
    return results


def by_name(results: dict, kind: str) -> dict:
    return {(t["suite"], t["name"]): t for t in results["tests"] if t["kind"] == kind}


@pytest.fixture(scope="session")
def default_run(tmp_path_factory, shared_kernel_args):
    # --retries 1: some selftests time DAMON (damos_apply_interval.py failed
    # 1 of 4 runs under TCG here); a retry is reported with both attempts.
    return harness("selftests", "--kunit", "--retries", "1", *shared_kernel_args(),
                   out=tmp_path_factory.mktemp("selftests"))


@pytest.mark.parametrize("name", list(EXPECTED["selftests"]))
def test_selftest(default_run, name):
    want = EXPECTED["selftests"][name]
    got = by_name(default_run, "selftest")[("damon", name)]
    assert got["status"] == want["status"], f"{got['reason']}\n{got['output']}"


@pytest.mark.parametrize("suite", list(EXPECTED["kunit"]))
def test_kunit_suite(default_run, suite):
    cases = {name: t for (s, name), t in by_name(default_run, "kunit").items() if s == suite}
    assert len(cases) == EXPECTED["kunit"][suite]["cases"]
    bad = {name: f"{t['status']} {t['reason']}" for name, t in cases.items()
           if t["status"] != "PASS"}
    assert bad == {}


def test_every_test_of_the_tree_has_an_expectation(default_run):
    assert [t["name"] for t in default_run["tests"] if t["kind"] == "selftest"] == \
        list(EXPECTED["selftests"])
    assert {t["suite"] for t in default_run["tests"] if t["kind"] == "kunit"} == \
        set(EXPECTED["kunit"])


@may_share
def test_the_broken_commit_fails_the_kunit_case_and_the_selftest(tmp_path, shared_kernel_args):
    run = harness("selftests", "--kunit", *shared_kernel_args(), "--patches", str(CONTROL),
                  "--test", "sysfs.py",
                  "--test", "damos_quota.py", out=tmp_path)
    assert run["exit_status"] == 1
    selftests = by_name(run, "selftest")
    assert selftests[("damon", "sysfs.py")]["status"] == "FAIL"
    assert "weight_age" in selftests[("damon", "sysfs.py")]["output"]
    assert selftests[("damon", "damos_quota.py")]["status"] == "PASS"
    kunit = by_name(run, "kunit")
    failed = {name for (_, name), t in kunit.items() if t["status"] != "PASS"}
    assert failed == {"damos_test_commit_quota"}
    assert "weight_age" in kunit[("damon", "damos_test_commit_quota")]["output"]


@may_share
def test_a_crash_keeps_the_console_and_lists_the_tests_not_run(tmp_path, shared_kernel_args):
    run = harness("selftests", *shared_kernel_args(), "--patches", str(CRASH),
                  "--test", "sysfs.py",
                  "--test", "damos_tried_regions.py", "--test", "sysfs_refresh.py", out=tmp_path)
    assert run["exit_status"] == 4
    got = {t["name"]: t for t in run["tests"]}
    assert [t["status"] for t in run["tests"]] == ["PASS", "CRASH", "NOT RUN"]
    crashed = got["damos_tried_regions.py"]
    assert crashed["reason"].startswith("CRASH")
    assert "kernel BUG at" in crashed["output"] and "sysfs-schemes.c" in crashed["output"]


@may_share
def test_kunit_alone_stops_when_the_plan_is_complete(tmp_path, shared_kernel_args):
    run = harness("kunit", *shared_kernel_args(), out=tmp_path)
    assert run["exit_status"] == 0
    assert {t["status"] for t in run["tests"]} == {"PASS"}
    assert len(run["tests"]) == sum(s["cases"] for s in EXPECTED["kunit"].values())
    assert run["timing"]["boot_to_plan_complete_s"] > 0
