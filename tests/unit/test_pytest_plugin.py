"""The pytest plugin lets a kernel build's progress past output capture."""

from harness.paths import REPO_ROOT

pytest_plugins = ["pytester"]

INNER = '''
import sys
from harness.kernel.build import Builder
from harness.pytest_plugin import shown

def test_progress(request):
    print("CAPTURED-LINE", file=sys.stderr)
    builder = Builder.__new__(Builder)
    builder.out = None                  # build_kernel's default
    with shown(request.config):
        builder.say("LIVE-LINE")
    assert False, "fail, so that the captured output is reported"
'''


def test_build_progress_reaches_the_terminal_while_captured(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    pytester.makepyfile(INNER)
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin")
    result.assert_outcomes(failed=1)
    assert "build: LIVE-LINE" in result.stderr.str()
    report = result.stdout.str()
    # The report quotes the test's source, so match what was printed.
    assert "Captured stderr call" in report and "build: LIVE-LINE" not in report


LANES = '''
import os, time, pytest
from harness.hostshare import occupying

def span(name):
    with occupying("guest", name):
        started = time.time()
        time.sleep(0.6)
        ended = time.time()
    with open(os.environ["SPANS"], "a") as out:
        out.write(f"{name} {started} {ended}\\n")

@pytest.mark.vm
def test_alone_1(): span("alone-1")

@pytest.mark.vm
@pytest.mark.may_share_cores
def test_share_1(): span("share-1")

@pytest.mark.vm
@pytest.mark.may_share_cores
def test_share_2(): span("share-2")

@pytest.mark.vm
def test_alone_2(): span("alone-2")

@pytest.mark.vm
@pytest.mark.may_share_cores
def test_share_3(): span("share-3")

@pytest.mark.vm
@pytest.mark.may_share_cores
def test_share_4(): span("share-4")
'''


def test_a_test_that_runs_alone_never_meets_another_and_the_end_says_who_shared(
        pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.setenv("DAMON_HARNESS_HOST_LOG", str(tmp_path / "host" / "log"))
    monkeypatch.setenv("SPANS", str(tmp_path / "spans"))
    pytester.makepyfile(LANES)
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin", "-n", "2",
                                           "--dist", "load")
    result.assert_outcomes(passed=6)
    spans = {}
    for line in (tmp_path / "spans").read_text().splitlines():
        name, start, end = line.split()
        spans[name] = (float(start), float(end))
    for alone in ("alone-1", "alone-2"):
        a0, a1 = spans[alone]
        assert all(e <= a0 or s >= a1 for name, (s, e) in spans.items() if name != alone)
    out = result.stdout.str()
    assert "guests and the host's cores" in out and "6 tests booted guests" in out
    assert "RAN ALONE YET SHARED" not in out
    overlapped = [n for n in spans if any(
        s < spans[n][1] and spans[n][0] < e for m, (s, e) in spans.items() if m != n)]
    for name in overlapped:
        assert f"test_{name.replace('-', '_')}: beside 1 x guest of" in out


ORDER = '''
import pytest

@pytest.mark.vm
def test_alone(): pass

@pytest.mark.vm
@pytest.mark.may_share_cores
@pytest.mark.built_kernel
def test_shares_on_a_built_kernel(): pass

@pytest.mark.vm
@pytest.mark.may_share_cores
def test_shares_on_debian(): pass

@pytest.mark.vm
@pytest.mark.may_share_cores
@pytest.mark.takes_seconds(200)
def test_shares_on_debian_for_long(): pass

def test_unit(): pass

@pytest.mark.vm
@pytest.mark.starts_early
def test_builds(): pass
'''


def test_the_build_starts_first_the_longest_of_a_group_next_and_the_tests_alone_last(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    pytester.makepyfile(ORDER)
    pytester.makeconftest('''
def pytest_collection_modifyitems(items):
    from harness.pytest_plugin import start_rank
    items.sort(key=start_rank)
''')
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin", "--collect-only",
                                           "-q")
    names = [line.split("::")[1] for line in result.stdout.lines if "::" in line]
    assert names == ["test_builds", "test_unit", "test_shares_on_debian_for_long",
                     "test_shares_on_debian", "test_shares_on_a_built_kernel", "test_alone"]


def make_test_lanes() -> list:
    """make test's pytest-xdist options (Makefile's LANES)."""
    for line in (REPO_ROOT / "Makefile").read_text().splitlines():
        if line.startswith("LANES ="):
            return line.split("=", 1)[1].split()
    raise AssertionError("no LANES in the Makefile")


def test_make_tests_lanes_keep_the_start_order_of_whole_files(pytester, monkeypatch, tmp_path):
    # xdist's loadfile sorts files by their number of tests unless told
    # not to: the early build's file, of one test, would start last.
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.setenv("DAMON_HARNESS_HOST_LOG", str(tmp_path / "host" / "log"))
    started = tmp_path / "started"
    record = f"def _start(n): open({str(started)!r}, 'a').write(n + chr(10))\n"
    pytester.makepyfile(
        test_a_many=record + "".join(f"def test_{i}(): _start('many')\n" for i in range(4)),
        test_b_build=record + "import pytest\n@pytest.mark.vm\n@pytest.mark.starts_early\n"
                              "def test_builds(): _start('build')\n")
    pytester.makeconftest('''
def pytest_collection_modifyitems(items):
    from harness.pytest_plugin import start_rank
    items.sort(key=start_rank)
''')
    lanes = ["1" if arg == "2" else arg for arg in make_test_lanes()]
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin", *lanes)
    result.assert_outcomes(passed=5)
    assert started.read_text().split()[0] == "build"


FLAKY = '''
def test_passed_on_a_retry(record_property):
    record_property("flaky", "attempt 1: FAIL x | attempt 2: PASS x")

def test_passed(): pass
'''


def test_a_test_that_passed_only_on_a_retry_is_listed_as_flaky(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.setenv("DAMON_HARNESS_HOST_LOG", str(tmp_path / "host" / "log"))
    pytester.makepyfile(FLAKY)
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin", "-n", "2",
                                           f"--junitxml={tmp_path / 'junit.xml'}")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "FLAKY: passed only on a retry, so not a PASS" in out
    assert "FLAKY test_a_test_that_passed_only_on_a_retry_is_listed_as_flaky.py::" \
           "test_passed_on_a_retry: attempt 1: FAIL x | attempt 2: PASS x" in out
    assert out.count("  FLAKY ") == 1
    assert 'name="flaky"' in (tmp_path / "junit.xml").read_text()
