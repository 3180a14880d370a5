"""The kernel's own DAMON tests, run by the harness on make test's shared
kernel (Debian's 7.3 source with our DAMON_HUGEPAGE series; the default
fragments, KUnit, debug info, kmemleak and DAMON_HUGEPAGE: see
tests/e2e/conftest.py) plus the selftests' own config, which only adds
DAMON_DEBUG_SANITY: one compile of mm/damon/. Every selftest and every KUnit suite is an item
here, so CI's JUnit shows each one; tests/selftests/expected.yaml says what
each must give on this kernel, and why when that is not PASS.

The timed selftests are in test_damon_selftests_timed.py, the controls
that break the kernel on purpose in test_damon_selftests_controls.py: files
of their own, so that test lanes run them beside this file's long guest.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.paths import REPO_ROOT

# The controls' and KUnit's verdicts do not depend on timing, nor do those
# of the selftests here (UNTIMED): they run in a guest of their own that may
# share the host's cores; the others, in test_damon_selftests_timed.py, in one
# that runs alone. The untimed guest takes about 200 s (sysfs.sh and sysfs.py
# alone take two minutes under TCG; 280 s in all), so its file starts first
# in its group.
pytestmark = [pytest.mark.vm, pytest.mark.built_kernel, pytest.mark.may_share_cores,
              pytest.mark.takes_seconds(280)]

EXPECTED = yaml.safe_load((REPO_ROOT / "tests/selftests/expected.yaml").read_text())


def allowed(name: str) -> list:
    status = EXPECTED["selftests"][name]["status"]
    return status if isinstance(status, list) else [status]


# A timed test sleeps and then checks what DAMON did meanwhile, so a guest
# slowed by another could FAIL it; one that may FAIL here anyway gives a
# verdict no slower guest can break, so it need not run alone.
TIMED = [name for name, want in EXPECTED["selftests"].items()
         if want.get("timed") and "FAIL" not in allowed(name)]
UNTIMED = [name for name in EXPECTED["selftests"] if name not in TIMED]


def harness(*args, out: Path) -> dict:
    """Run the real CLI; its results.json, with the exit status added."""
    proc = subprocess.run([sys.executable, "-m", "harness", *args, "--out", str(out)],
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    print(proc.stdout)
    results = json.loads((out / "results.json").read_text())
    results["exit_status"] = proc.returncode
    results["out"] = out
    return results


def by_name(results: dict, kind: str) -> dict:
    return {(t["suite"], t["name"]): t for t in results["tests"] if t["kind"] == kind}


def only(names):
    return [arg for name in names for arg in ("--test", name)]


@pytest.fixture(scope="session")
def untimed_run(tmp_path_factory, shared_kernel_args):
    return harness("selftests", "--kunit", *shared_kernel_args(), *only(UNTIMED),
                   out=tmp_path_factory.mktemp("selftests-untimed"))


@pytest.mark.parametrize("name", UNTIMED)
def test_selftest(untimed_run, record_property, name):
    check_selftest(untimed_run, record_property, name)


def check_selftest(run: dict, record_property, name: str) -> None:
    got = by_name(run, "selftest")[("damon", name)]
    record_property("selftest_status", got["status"])
    status = got["status"]
    if status == "FLAKY":       # PASSed on the retry: said so, in CI's output too
        record_property("flaky", got["reason"])
        status = "PASS"
    assert status in allowed(name), f"{got['reason']}\n{got['output']}"


def check_tree_and_ran(run: dict, names: list) -> None:
    """The run found every test of the tree in expected.yaml, in its order,
    and ran exactly `names`: with the timed file's, every test runs once."""
    assert run["in_tree"] == list(EXPECTED["selftests"])
    assert sorted(t["name"] for t in run["tests"] if t["kind"] == "selftest") == sorted(names)


@pytest.mark.parametrize("suite", list(EXPECTED["kunit"]))
def test_kunit_suite(untimed_run, suite):
    cases = {name: t for (s, name), t in by_name(untimed_run, "kunit").items() if s == suite}
    assert len(cases) == EXPECTED["kunit"][suite]["cases"]
    bad = {name: f"{t['status']} {t['reason']}" for name, t in cases.items()
           if t["status"] != "PASS"}
    assert bad == {}


def test_the_runs_kcidb_file_validates_with_kcidb_io(untimed_run):
    from kcidb_io.schema import V4_5
    doc = json.loads((untimed_run["out"] / "kcidb.json").read_text())
    V4_5.validate(doc)
    assert len(doc["tests"]) == len(untimed_run["tests"]) and len(doc["builds"]) == 1


def test_every_test_of_the_tree_has_an_expectation(untimed_run):
    check_tree_and_ran(untimed_run, UNTIMED)
    assert {t["suite"] for t in untimed_run["tests"] if t["kind"] == "kunit"} == \
        set(EXPECTED["kunit"])
