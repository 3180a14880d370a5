"""Patch validation on real kernels in real guests: `compare` catches a
slowdown that still passes, and `bisect` names the middle patch of a 3-patch
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


def test_compare_calls_a_slower_collapse_a_regression_although_it_passes(tmp_path):
    proc = harness("compare", "collapse", "--patches", str(CONTROLS / "slow-collapse.patch"),
                   "--repeat", "4", out=tmp_path)
    data = json.loads((tmp_path / "compare.json").read_text())
    rows = {row["figure"]: row for row in data["rows"]}
    assert rows["pass rate"]["base"] == [True] * 4 and rows["pass rate"]["patched"] == [True] * 4
    reach = rows["hot region becomes huge: time to reach"]
    assert reach["call"] == "REGRESSION", reach["reason"]
    assert data["call"] == "REGRESSION" and proc.returncode == 1
    assert (tmp_path / "collapse.png").is_file()
    assert len(list((tmp_path / "base").iterdir())) == 4
    assert "REGRESSION" in (tmp_path / "compare.txt").read_text()


def test_bisect_names_the_patch_that_breaks_a_kunit_case(tmp_path):
    proc = harness("bisect", "--patches", str(CONTROLS / "broken-commit-series"),
                   "--kunit", "damos_test_commit_quota", out=tmp_path)
    assert proc.returncode == 0
    result = json.loads((tmp_path / "bisect.json").read_text())
    assert result["first_bad"] == 2
    assert result["patch"].startswith("0002-")
    assert [s["applied"] for s in result["steps"]] == [0, 3, 1, 2]
