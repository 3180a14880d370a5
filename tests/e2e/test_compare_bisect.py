"""Patch validation on real kernels in real guests: `compare` runs both
sides and writes its reports, and `bisect` names the middle patch of a 3-patch
series that breaks a function a KUnit case covers (a KUnit step boots in
seconds, so this fits in make test). The bisect of the series that breaks
migration, by the migration scenario, runs in `make bench-compare`. The
series are controls kept under tests/controls/."""

import json
import subprocess
import sys

import pytest

from harness.paths import REPO_ROOT

pytestmark = pytest.mark.vm

CONTROLS = REPO_ROOT / "tests" / "controls"


def harness(*args, out):
    proc = subprocess.run([sys.executable, "-m", "harness", *args, "--out", str(out)],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    print(proc.stdout)
    return proc


def test_compare_runs_both_sides_and_writes_every_report(tmp_path):
    """The whole path on real guests, 1 run a side: too few to call anything,
    which is what it must say. The statistics' power is tested on captured
    runs (tests/unit/test_compare_analysis.py); a slowdown control that
    4 runs a side can tell from TCG noise is still open (issue 12)."""
    proc = harness("compare", "collapse", "--allow-same", "--repeat", "1", out=tmp_path)
    assert proc.returncode == 0
    data = json.loads((tmp_path / "compare.json").read_text())
    rows = {row["figure"]: row for row in data["rows"]}
    assert len(rows["pass rate"]["base"]) == len(rows["pass rate"]["patched"]) == 1
    assert rows["hot region becomes huge: time to reach"]["call"] == "NOT ENOUGH DATA"
    assert data["call"] != "REGRESSION" and data["timing"]["runs_s"] > 0
    assert (tmp_path / "collapse.png").is_file()
    assert (tmp_path / "base" / "collapse-1" / "result.json").is_file()
    assert (tmp_path / "patched" / "collapse-1" / "result.json").is_file()
    assert "NOT ENOUGH DATA" in (tmp_path / "compare.txt").read_text()
    table = (tmp_path / "compare.txt").read_text()
    again = subprocess.run([sys.executable, "-m", "harness", "compare", "--report-only",
                            str(tmp_path)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert again.returncode == 0 and again.stdout == table


def test_bisect_names_the_patch_that_breaks_a_kunit_case(tmp_path):
    proc = harness("bisect", "--patches", str(CONTROLS / "broken-commit-series"),
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
