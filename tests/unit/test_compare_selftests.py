"""Selftests and KUnit cases in a comparison, on the results of a real run
(tests/data/selftests/default-7.3.4): the same results on both sides change
nothing; a test that passes on base and fails on patched is a regression at
once, and it decides the comparison's call."""

import json
import shutil
from pathlib import Path

from harness.compare import analysis, selftests, stats

RUN = Path(__file__).parent.parent / "data" / "selftests" / "default-7.3.4"


def comparison(tmp_path: Path, patched_status: dict = None) -> Path:
    for side in ("base", "patched"):
        shutil.copytree(RUN, tmp_path / side / selftests.DIR)
    path = tmp_path / "patched" / selftests.DIR / "results.json"
    data = json.loads(path.read_text())
    for test in data["tests"]:
        test["status"] = (patched_status or {}).get(test["name"], test["status"])
    path.write_text(json.dumps(data))
    return tmp_path


def test_the_same_results_on_both_sides_are_no_change(tmp_path):
    rows = selftests.rows(comparison(tmp_path))
    assert len(rows) > 40
    assert {r.call.call for r in rows} == {stats.NO_CHANGE}


def test_a_test_passing_on_base_only_is_a_regression(tmp_path):
    rows = selftests.rows(comparison(tmp_path, {"damos_quota.py": "FAIL",
                                                "damos_test_commit_quota": "CRASH"}))
    regressions = sorted(r.figure for r in rows if r.call.call == stats.REGRESSION)
    assert regressions == ["kunit damon:damos_test_commit_quota",
                           "selftest damon:damos_quota.py"]
    assert analysis.overall(rows) == stats.REGRESSION
    assert "PASS -> FAIL" in next(r for r in rows if "damos_quota.py" in r.figure).call.reason


def test_a_comparison_without_tests_has_no_test_rows(tmp_path):
    assert selftests.rows(tmp_path) == []


def test_the_table_shows_each_sides_status(tmp_path):
    from harness.compare import report
    rows = selftests.rows(comparison(tmp_path, {"damos_quota.py": "FAIL"}))
    text = report.table(rows, {"base": "A", "patched": "B"}, 1, 10.0)
    line = next(l for l in text.splitlines() if "damos_quota.py" in l and "REGRESSION" in l)
    assert "PASS" in line and "FAIL" in line
