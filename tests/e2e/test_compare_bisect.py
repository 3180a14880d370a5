"""Patch validation on real kernels in real guests: `compare` runs both
sides and writes its reports, and `bisect` names the middle patch of a 3-patch
series that breaks a function a KUnit case covers (a KUnit step boots in
seconds, so this fits in make test). The bisect of the series that breaks
migration, by the migration scenario, runs in `make bench-compare`. The
series are controls kept under tests/controls/.

Both build on make test's shared kernel (tests/e2e/conftest.py): compare
takes it for both sides, and each bisect step is it plus a prefix of the
broken series, a rebuild of mm/damon/core.c."""

import json
import subprocess
import sys

import pytest

from harness.paths import REPO_ROOT

# the machinery: no verdict is called on 1 run, KUnit cases are not timed
pytestmark = [pytest.mark.vm, pytest.mark.may_share_cores, pytest.mark.built_kernel]

CONTROLS = REPO_ROOT / "tests" / "controls"


def harness(*args, out):
    proc = subprocess.run([sys.executable, "-m", "harness", *args, "--out", str(out)],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    print(proc.stdout)
    return proc


def test_compare_runs_both_sides_and_writes_every_report(tmp_path, shared_kernel_args,
                                                        short_scenario):
    """The whole path on real guests, 1 run a side of collapse cut to 12 s:
    too few to call anything, which is what it must say. The statistics'
    power is tested on captured runs (tests/unit/test_compare_analysis.py)."""
    collapse = short_scenario("collapse", 12, tmp_path)
    out = tmp_path / "out"
    proc = harness("compare", str(collapse), "--allow-same", "--repeat", "1",
                   *shared_kernel_args("--base-patches"), out=out)
    assert proc.returncode == 0
    data = json.loads((out / "compare.json").read_text())
    rows = {row["figure"]: row for row in data["rows"]}
    assert len(rows["pass rate"]["base"]) == len(rows["pass rate"]["patched"]) == 1
    assert rows["hot region becomes huge: time to reach"]["call"] == "NOT ENOUGH DATA"
    assert data["call"] != "REGRESSION" and data["timing"]["runs_s"] > 0
    assert (out / "collapse.png").is_file()
    assert (out / "base" / "collapse-1" / "result.json").is_file()
    assert (out / "patched" / "collapse-1" / "result.json").is_file()
    assert "NOT ENOUGH DATA" in (out / "compare.txt").read_text()
    table = (out / "compare.txt").read_text()
    again = subprocess.run([sys.executable, "-m", "harness", "compare", "--report-only",
                            str(out)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert again.returncode == 0 and again.stdout == table


def test_bisect_names_the_patch_that_breaks_a_kunit_case(tmp_path, shared_kernel_args):
    proc = harness("bisect", "--patches", str(CONTROLS / "broken-commit-series"),
                   *shared_kernel_args("--base-patches"),
                   "--kunit", "damos_test_commit_quota", out=tmp_path)
    assert proc.returncode == 0
    result = json.loads((tmp_path / "bisect.json").read_text())
    assert result["first_bad"] == 2
    assert result["patch"].startswith("0002-")
    assert [s["applied"] for s in result["steps"]] == [0, 3, 1, 2]


@pytest.mark.long
def test_compare_with_selftests_calls_a_broken_kunit_case_a_regression(tmp_path):
    """Both sides' test kernels run every DAMON selftest and KUnit case; the
    patched side carries the series that breaks damos_commit_quota. Two
    selftests runs of about 3 minutes: make test-long."""
    proc = harness("compare", "collapse", "--selftests", "--repeat", "1", "--patches",
                   str(CONTROLS / "broken-commit-series"), out=tmp_path)
    assert proc.returncode == 1
    data = json.loads((tmp_path / "compare.json").read_text())
    regressions = [r["figure"] for r in data["rows"] if r["call"] == "REGRESSION"]
    assert "kunit damon:damos_test_commit_quota" in regressions
    assert all(r.startswith("kunit ") or r.startswith("selftest ") for r in regressions)
    assert (tmp_path / "base" / "selftests" / "junit.xml").is_file()
