"""Two controls break the kernel on purpose, and KUnit runs alone, on the
shared kernel of test_damon_selftests.py. break-damos-commit-quota.patch
breaks one function: the KUnit case and the selftest that cover it must
FAIL, with their output in the report, and nothing else may.
crash-on-tried-regions.patch hits BUG(): the selftest running then must end
in CRASH with the console's report, and the ones after it in NOT RUN."""

import pytest

from harness.paths import REPO_ROOT
from tests.e2e.test_damon_selftests import EXPECTED, by_name, harness, only

# Their verdicts do not depend on timing.
pytestmark = [pytest.mark.vm, pytest.mark.built_kernel, pytest.mark.may_share_cores]

CONTROL = REPO_ROOT / "tests/controls/break-damos-commit-quota.patch"
CRASH = REPO_ROOT / "tests/controls/crash-on-tried-regions.patch"


def test_the_broken_commit_fails_the_kunit_case_and_the_selftest(tmp_path, shared_kernel_args):
    # reclaim.sh is the bystander that must still PASS: untimed, so the
    # verdict holds with the host's cores shared (damos_quota.py was, timed).
    run = harness("selftests", "--kunit", *shared_kernel_args(), "--patches", str(CONTROL),
                  *only(["sysfs.py", "reclaim.sh"]), out=tmp_path)
    assert run["exit_status"] == 1
    selftests = by_name(run, "selftest")
    assert selftests[("damon", "sysfs.py")]["status"] == "FAIL"
    assert "weight_age" in selftests[("damon", "sysfs.py")]["output"]
    assert selftests[("damon", "reclaim.sh")]["status"] == "PASS"
    kunit = by_name(run, "kunit")
    failed = {name for (_, name), t in kunit.items() if t["status"] != "PASS"}
    assert failed == {"damos_test_commit_quota"}
    assert "weight_age" in kunit[("damon", "damos_test_commit_quota")]["output"]


def test_a_crash_keeps_the_console_and_lists_the_tests_not_run(tmp_path, shared_kernel_args):
    # reclaim.sh never asks for tried regions: it PASSes before the crash
    # whatever the timing. (sysfs.py, here before, asks for them too and
    # crashed once with the cores shared, when DAMON had regions by then.)
    run = harness("selftests", *shared_kernel_args(), "--patches", str(CRASH),
                  *only(["reclaim.sh", "damos_tried_regions.py", "sysfs_refresh.py"]),
                  out=tmp_path)
    assert run["exit_status"] == 4
    got = {t["name"]: t for t in run["tests"]}
    assert [t["status"] for t in run["tests"]] == ["PASS", "CRASH", "NOT RUN"]
    crashed = got["damos_tried_regions.py"]
    assert crashed["reason"].startswith("CRASH")
    assert "kernel BUG at" in crashed["output"] and "sysfs-schemes.c" in crashed["output"]


def test_kunit_alone_stops_when_the_plan_is_complete(tmp_path, shared_kernel_args):
    run = harness("kunit", *shared_kernel_args(), out=tmp_path)
    assert run["exit_status"] == 0
    assert {t["status"] for t in run["tests"]} == {"PASS"}
    assert len(run["tests"]) == sum(s["cases"] for s in EXPECTED["kunit"].values())
    assert run["timing"]["boot_to_plan_complete_s"] > 0
