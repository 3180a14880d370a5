"""DAMON's selftests and KUnit results: the tree readers, the KTAP reading
with the kernel tree's own parser, and the reports.

tests/data/selftests/<run>/ holds what a real run left: the kselftest
runner's output (kselftest.ktap), the console's KUnit part (kunit.log) and
the run's results.json. Reading them again must give the run's results.
"""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness.selftests import ktap, runner, tree
from harness.selftests.results import Status, TestResult, exit_status, junit_xml, mail_block, \
    summary_line

RUNS = sorted(p for p in (Path(__file__).parent.parent / "data" / "selftests").iterdir()
              if p.is_dir())
EXPECTED = ["sysfs.sh", "sysfs.py", "damos_quota.py"]


@pytest.fixture(scope="module")
def parser():
    """The kernel tree's own KTAP parser (Debian's 7.3 source, cached)."""
    from harness.kernel import source as ksource
    root = ksource.cached_debian_tree() or ksource.resolve(None).tree
    return ktap.load_parser(root / tree.KUNIT_TOOL_DIR)


def test_every_expected_selftest_result_but_pass_says_why():
    expected = yaml.safe_load((Path(__file__).parent.parent / "selftests" / "expected.yaml")
                              .read_text())["selftests"]
    unexplained = [name for name, want in expected.items()
                   if want["status"] != "PASS" and not want.get("why")]
    assert unexplained == []


def test_selftest_names_follow_the_makefile_order():
    makefile = ("TEST_GEN_FILES += access_memory\nTEST_FILES = _common.sh\n"
                "TEST_PROGS += a.sh\nTEST_PROGS += b.py c.py\n# comment\n"
                "TEST_PROGS += d.sh \\\n\te.py\n")
    assert tree.selftest_names(makefile) == ["a.sh", "b.py", "c.py", "d.sh", "e.py"]


def test_kunit_cases_are_read_per_file_when_array_names_repeat():
    core = ("static struct kunit_case damon_test_cases[] = {\n KUNIT_CASE(a),\n"
            " KUNIT_CASE(b),\n {},\n};\nstatic struct kunit_suite damon_test_suite = {\n"
            " .name = \"damon\",\n .test_cases = damon_test_cases,\n};\n")
    vaddr = core.replace("KUNIT_CASE(a),\n KUNIT_CASE(b)", "KUNIT_CASE(c)").replace(
        '"damon"', '"damon-operations"')
    assert tree.kunit_cases({"core.h": core, "vaddr.h": vaddr}) == {
        "damon": ["a", "b"], "damon-operations": ["c"]}


def _selftests_output(*results: str, tail: str = "") -> str:
    lines = ["TAP version 13", f"1..{len(EXPECTED)}"]
    for name, result in zip(EXPECTED, results):
        lines += ["# timeout set to 45", f"# selftests: damon: {name}", f"# output of {name}",
                  result.format(name=name)]
    return "\n".join(lines) + "\n" + tail


def test_pass_skip_and_timeout_are_told_apart(parser):
    text = _selftests_output("ok 1 selftests: damon: {name}",
                             "ok 2 selftests: damon: {name} # SKIP",
                             "not ok 3 selftests: damon: {name} # TIMEOUT 45 seconds")
    got = ktap.selftest_results(parser, text, EXPECTED)
    assert [r.status for r in got] == [Status.PASS, Status.SKIP, Status.TIMEOUT]
    assert got[1].reason == "output of sysfs.py"
    assert "output of damos_quota.py" in got[2].output


def test_a_run_that_stops_names_the_running_test_and_the_ones_not_run(parser):
    text = _selftests_output("ok 1 selftests: damon: {name}")
    text += "# timeout set to 45\n# selftests: damon: sysfs.py\n# half way\n"
    got = ktap.selftest_results(parser, text, EXPECTED, "CRASH: kernel panic")
    assert [(r.name, r.status) for r in got] == [
        ("sysfs.sh", Status.PASS), ("sysfs.py", Status.CRASH), ("damos_quota.py", Status.NOTRUN)]
    assert got[1].reason == "CRASH: kernel panic" and "half way" in got[1].output


def test_a_test_that_ended_just_before_the_crash_is_read_from_the_console(parser):
    # The last poll saw sysfs.sh start; its result line, and sysfs.py's
    # start, reached only the console before sysfs.py crashed the guest.
    polled = _selftests_output().rstrip("\n") + "\n# timeout set to 45\n# selftests: damon: sysfs.sh\n"
    console = ("kselftest: Running tests in damon\n"
               f"[   9.1] {runner.KMSG_TAG}# selftests: damon: sysfs.sh\n"
               f"[  12.0] {runner.KMSG_TAG}ok 1 selftests: damon: sysfs.sh\n"
               f"[  12.1] {runner.KMSG_TAG}# selftests: damon: sysfs.py\n"
               "[  12.5] kernel BUG at ../src/mm/damon/sysfs-schemes.c:3111!\n")
    text = runner.with_console_results(polled, console)
    got = ktap.selftest_results(parser, text, EXPECTED, "CRASH: kernel BUG")
    assert [r.status for r in got] == [Status.PASS, Status.CRASH, Status.NOTRUN]
    assert runner.with_console_results(text, console) == text


def test_a_crash_before_the_first_poll_is_read_from_the_console_alone(parser):
    # As the crash control gave: reclaim.sh took under a second, and the
    # next test crashed the guest before the runner's output was read once.
    console = "".join(f"[  9.{i}] {runner.KMSG_TAG}{line}\n" for i, line in enumerate([
        "TAP version 13", "1..3", "# selftests: damon: sysfs.sh",
        "ok 1 selftests: damon: sysfs.sh", "# selftests: damon: sysfs.py"]))
    text = runner.with_console_results("", console + "kernel BUG at x.c:1!\n")
    got = ktap.selftest_results(parser, text, EXPECTED, "CRASH: kernel BUG")
    assert [r.status for r in got] == [Status.PASS, Status.CRASH, Status.NOTRUN]


def test_the_guest_mirrors_the_lines_the_console_is_read_for():
    import subprocess
    lines = ["TAP version 13", "1..2", "# timeout set to 45", "# selftests: damon: a.sh",
             "# its output", "ok 1 selftests: damon: a.sh", "not ok 2 selftests: damon: b.py"]
    grep = subprocess.run(["grep", "-E", runner.MIRRORED], input="\n".join(lines) + "\n",
                          capture_output=True, text=True).stdout.splitlines()
    assert grep == [lines[0], lines[1], lines[3], lines[5], lines[6]]


def test_no_output_at_all_is_a_crash_of_the_first_test(parser):
    got = ktap.selftest_results(parser, "", EXPECTED, "HANG: guest stopped answering")
    assert [r.status for r in got] == [Status.CRASH, Status.NOTRUN, Status.NOTRUN]


KUNIT = """[    1.0] KTAP version 1
[    1.0] 1..2
[    1.1]     KTAP version 1
[    1.1]     # Subtest: damon
[    1.1]     # module: damon
[    1.1]     1..3
[    1.2]     ok 1 damon_test_a
[    1.2]     # damon_test_b: EXPECTATION FAILED at mm/damon/tests/core-kunit.h:9
[    1.2]     Expected x == y, but
[    1.2]     not ok 2 damon_test_b
[    1.3]     ok 3 damon_test_c # SKIP not on this arch
[    1.3] # damon: pass:1 fail:1 skip:1 total:3
[    1.3] not ok 1 damon
[    1.4]     KTAP version 1
[    1.4]     # Subtest: damon-sysfs
[    1.4]     1..1
[    1.4]     ok 1 damon_sysfs_test_add_targets
[    1.4] ok 2 damon-sysfs
"""
KUNIT_CASES = {"damon": ["damon_test_a", "damon_test_b", "damon_test_c"],
               "damon-sysfs": ["damon_sysfs_test_add_targets"]}


def test_kunit_cases_are_read_from_nested_ktap(parser):
    got = ktap.kunit_results(parser, KUNIT, KUNIT_CASES)
    assert [(r.suite, r.name, r.status) for r in got] == [
        ("damon", "damon_test_a", Status.PASS), ("damon", "damon_test_b", Status.FAIL),
        ("damon", "damon_test_c", Status.SKIP),
        ("damon-sysfs", "damon_sysfs_test_add_targets", Status.PASS)]
    assert "EXPECTATION FAILED" in got[1].output
    assert got[2].reason == "not on this arch"
    assert ktap.kunit_complete(parser, KUNIT)


def test_a_suite_that_stops_early_crashes_with_its_missing_cases_named(parser):
    cut = KUNIT[:KUNIT.index("[    1.3]     ok 3")] + "[    1.3] BUG: kernel NULL pointer\n"
    assert not ktap.kunit_complete(parser, cut)
    got = ktap.kunit_results(parser, cut, KUNIT_CASES, "CRASH: bug")
    assert [(r.name, r.status) for r in got] == [
        ("damon_test_a", Status.PASS), ("damon_test_b", Status.FAIL),
        ("damon_test_c", Status.CRASH), ("damon_sysfs_test_add_targets", Status.NOTRUN)]
    assert got[2].reason == "CRASH: bug"


def test_a_console_without_ktap_leaves_every_case_not_run(parser):
    got = ktap.kunit_results(parser, "[    0.0] Linux version 7.3.4\n", KUNIT_CASES)
    assert {r.status for r in got} == {Status.NOTRUN}
    assert not ktap.kunit_complete(parser, "[    0.0] Linux version 7.3.4\n")


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_reading_a_real_run_again_gives_its_results(parser, run):
    recorded = json.loads((run / "results.json").read_text())
    tests = [t for t in recorded["tests"] if t["kind"] == "selftest"]
    cases = {}
    for t in recorded["tests"]:
        if t["kind"] == "kunit":
            cases.setdefault(t["suite"], []).append(t["name"])
    got = ktap.selftest_results(parser, (run / "kselftest.ktap").read_text(),
                                [t["name"] for t in tests])
    got += ktap.kunit_results(parser, (run / "kunit.log").read_text(), cases)
    # This capture predates per-test seconds; reading KTAP again cannot time.
    assert [r.to_dict() for r in got] == [{"seconds": 0.0, **t} for t in recorded["tests"]]


def _results():
    return [TestResult("selftest", "damon", "sysfs.sh", Status.PASS, number=1),
            TestResult("selftest", "damon", "sysfs.py", Status.FAIL, "exit=1", "boom", 2),
            TestResult("selftest", "damon", "x.py", Status.SKIP, "no drgn", "", 3),
            TestResult("kunit", "damon", "damon_test_a", Status.PASS, number=1),
            TestResult("kunit", "damon", "damon_test_b", Status.CRASH, "CRASH: oops", "", 2)]


def test_the_mail_block_reads_like_kselftest_output():
    assert mail_block(_results()).splitlines() == [
        "ok 1 selftests: damon: sysfs.sh",
        "not ok 2 selftests: damon: sysfs.py",
        "ok 3 selftests: damon: x.py # SKIP no drgn",
        "# kunit damon: pass:1 fail:0 skip:0 total:2",
        "not ok 2 damon_test_b # CRASH"]


def test_junit_has_one_testcase_per_test_with_its_outcome():
    root = ET.fromstring(junit_xml(_results(), "selftests"))
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == [r.name for r in _results()]
    assert cases[1].find("failure") is not None and cases[2].find("skipped") is not None
    assert cases[4].find("error") is not None


def test_summary_and_exit_status():
    assert summary_line("selftests", _results()) == \
        "selftests: FAIL: 5 tests: 2 PASS, 1 FAIL, 1 SKIP, 1 CRASH"
    assert exit_status(_results()) == 1
    assert exit_status(_results()[:1]) == 0


def test_a_test_that_passes_only_on_a_retry_is_flaky_and_keeps_every_attempt():
    from harness.selftests.runner import merge_attempt
    first = [TestResult("selftest", "damon", "a.py", Status.PASS, number=1),
             TestResult("selftest", "damon", "b.py", Status.FAIL, "exit=1", "not tried", 2),
             TestResult("selftest", "damon", "c.py", Status.TIMEOUT, "180 seconds", "slow", 3)]
    retry = [TestResult("selftest", "damon", "b.py", Status.PASS, "", "fine", 1),
             TestResult("selftest", "damon", "c.py", Status.NOTRUN, "", "", 2)]
    merged = merge_attempt(first, retry, 2)
    assert [(r.name, r.status, r.number, r.attempts) for r in merged] == [
        ("a.py", Status.PASS, 1, 1), ("b.py", Status.FLAKY, 2, 2), ("c.py", Status.TIMEOUT, 3, 1)]
    assert merged[1].reason == "attempt 1: FAIL exit=1"
    assert "not tried" in merged[1].output and "fine" in merged[1].output
    assert mail_block(merged).splitlines()[1] == \
        "ok 2 selftests: damon: b.py # FLAKY # 2 attempts (attempt 1: FAIL exit=1)"
    assert summary_line("selftests", merged[:2]) == "selftests: FLAKY: 2 tests: 1 PASS, 1 FLAKY"
    assert exit_status(merged[:2]) == 0
    case = ET.fromstring(junit_xml(merged[:2], "selftests")).find(".//testcase[@name='b.py']")
    assert case.get("status") == "FLAKY" and case.find("failure") is None


def test_each_selftest_takes_the_time_since_the_previous_result_line():
    from harness.selftests.runner import durations
    seen = {"a.sh": 12.0, "b.py": 30.5, "d.py": 40.0}
    assert durations(["a.sh", "b.py", "c.py", "d.py"], seen, started=10.0) == \
        [2.0, 18.5, 0.0, 9.5]


def test_a_run_that_ends_between_two_reads_of_a_poll_keeps_its_last_result(tmp_path, monkeypatch):
    # CI once lost reclaim.sh's result line: the runner ended after the poll
    # had read the output and before it read the status. Here `cat` ends the
    # run right after it first shows the output, every time.
    import subprocess
    output, status = tmp_path / "out", tmp_path / "rc"
    output.write_text("TAP version 13\n1..1\n# selftests: damon: a.sh\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "cat").write_text(
        f"#!/bin/bash\n/bin/cat \"$@\" || exit 1\n"
        f"if [ \"$1\" = {output} ] && [ ! -e {status} ]; then\n"
        f"  echo 'ok 1 selftests: damon: a.sh' >> {output}; echo 0 > {status}; fi\n")
    (bindir / "cat").chmod(0o755)

    class Guest:
        def run(self, command, timeout):
            return subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                  env={"PATH": f"{bindir}:/usr/bin:/bin"})

    monkeypatch.setattr(runner, "OUTPUT", str(output))
    monkeypatch.setattr(runner, "STATUS", str(status))
    monkeypatch.setattr(runner, "POLL_S", 0)
    polled, ended, done_at = runner._poll(Guest(), float("inf"), tmp_path, tmp_path / "kept")
    assert ended is None and "ok 1 selftests: damon: a.sh" in polled and "a.sh" in done_at
