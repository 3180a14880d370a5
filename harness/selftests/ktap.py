"""KTAP, read with the kernel tree's own parser (tools/testing/kunit/
kunit_parser.py, copied into the test tools), turned into per-test results.

The tree's parser gives the structure: tests, nested subtests, SKIP
directives, each test's log, and a test it expected but never saw (the
output stopped). What it does not keep, kselftest's "# TIMEOUT" directive,
is read from the result line here.
"""

import importlib.util
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from harness.selftests.results import Status, TestResult
from harness.selftests.tree import SUITE

_PARSERS: Dict[Path, "TreeParser"] = {}
_SELFTEST_PREFIX = f"selftests: {SUITE}: "
_DIRECTIVE = re.compile(r"^not ok \d+ selftests: \S+: (\S+) # (.*)$", re.MULTILINE)
_KUNIT_FAILED = re.compile(r"(EXPECTATION|ASSERTION) FAILED")


class TreeParser:
    """The tree's kunit_parser module and the null printer it wants."""

    def __init__(self, parser_dir: Path):
        printer = _load(f"_tree_kunit_printer_{len(_PARSERS)}",
                        parser_dir / "kunit_printer.py")
        saved = sys.modules.get("kunit_printer")
        sys.modules["kunit_printer"] = printer     # kunit_parser imports it by name
        try:
            self.module = _load(f"_tree_kunit_parser_{len(_PARSERS)}",
                                parser_dir / "kunit_parser.py")
        finally:
            if saved is None:
                sys.modules.pop("kunit_printer", None)
            else:
                sys.modules["kunit_printer"] = saved
        self.quiet = printer.null_printer
        self.status = self.module.TestStatus

    def parse(self, text: str):
        """The main Test for the KTAP somewhere in `text`. Blank lines are
        dropped: a serial console ends lines with CR CR LF, which reads as
        one or two blank lines after each, and they break the parser's
        header matching."""
        lines = [line for line in text.replace("\r", "\n").split("\n") if line.strip()]
        return self.module.parse_run_tests(lines, self.quiet)


def load_parser(parser_dir: Path) -> TreeParser:
    parser_dir = Path(parser_dir).resolve()
    if parser_dir not in _PARSERS:
        _PARSERS[parser_dir] = TreeParser(parser_dir)
    return _PARSERS[parser_dir]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module      # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _status(parser: TreeParser, test) -> Status:
    names = parser.status
    return {names.SUCCESS: Status.PASS, names.FAILURE: Status.FAIL,
            names.SKIPPED: Status.SKIP}.get(test.status, Status.CRASH)


def _log(lines: Sequence[str]) -> str:
    return "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                     for line in lines)


def _unseen(test) -> bool:
    """A subtest the parser only knows from the plan: output stopped before it."""
    return test.name == ""


def selftest_results(parser, text: str, expected: Sequence[str],
                     ended: Optional[str] = None) -> List[TestResult]:
    """One result per expected selftest, in order, from run_kselftest.sh's
    output. `ended` is why the output stops early (a crash, a hang): the test
    that was running gets it, and the ones after it are NOT RUN."""
    main = parser.parse(text)
    directives = {m.group(1): m.group(2).strip() for m in _DIRECTIVE.finditer(text)}
    seen = {}
    for test in main.subtests:
        if not _unseen(test):
            seen[test.name.strip()[len(_SELFTEST_PREFIX):]] = test
    partial = next((t for t in main.subtests if _unseen(t)), None)
    results, interrupted = [], False
    for number, name in enumerate(expected, 1):
        test = seen.get(name)
        if test is not None:
            directive = directives.get(name, "")
            status = Status.TIMEOUT if directive.startswith("TIMEOUT") else _status(parser, test)
            reason = (directive.removeprefix("TIMEOUT").strip() or test.skip_reason
                      or _last_words(test, status))
            results.append(TestResult("selftest", SUITE, name, status, reason, _log(test.log),
                                      number))
        elif not interrupted:
            interrupted = True
            output = _log(partial.log) if partial is not None else ""
            results.append(TestResult("selftest", SUITE, name, Status.CRASH,
                                      ended or "its output stopped before its result line",
                                      output, number))
        else:
            results.append(TestResult("selftest", SUITE, name, Status.NOTRUN,
                                      "an earlier test did not finish", "", number))
    return results


def _last_words(test, status: Status) -> str:
    """Why a test skipped or failed, when no directive said: KUnit's first
    failed expectation, or else the test's last line of output."""
    if status not in (Status.SKIP, Status.FAIL):
        return ""
    lines = [line.lstrip("# ").strip() for line in test.log if line.strip("# ").strip()]
    failed = [line for line in lines if _KUNIT_FAILED.search(line)]
    return (failed or lines[-1:] or [""])[0][:200]


def kunit_results(parser, text: str, expected: Dict[str, List[str]],
                  ended: Optional[str] = None) -> List[TestResult]:
    """One result per KUnit case of every expected suite, from a console log."""
    main = parser.parse(text)
    suites = {t.name: t for t in main.subtests if not _unseen(t)}
    results = []
    for suite_name, cases in expected.items():
        suite = suites.get(suite_name)
        if suite is None:
            reason = ended or ("KUnit printed no KTAP" if not main.subtests
                               else "the suite did not run or its output stopped")
            results += [TestResult("kunit", suite_name, case, Status.NOTRUN, reason)
                        for case in cases]
            continue
        results += _suite_cases(parser, suite, suite_name, cases, ended)
    return results


def _suite_cases(parser, suite, suite_name: str, cases: List[str],
                 ended: Optional[str]) -> List[TestResult]:
    seen = {t.name: t for t in suite.subtests if not _unseen(t)}
    stopped = any(_unseen(t) for t in suite.subtests) or suite.counts.errors > 0
    results, first_missing = [], True
    for number, case in enumerate(cases, 1):
        test = seen.get(case)
        if test is not None:
            status = _status(parser, test)
            results.append(TestResult("kunit", suite_name, case, status,
                                      test.skip_reason or _last_words(test, status),
                                      _log(test.log), number))
        elif stopped and first_missing:
            first_missing = False
            results.append(TestResult("kunit", suite_name, case, Status.CRASH,
                                      ended or "the suite stopped before this case's result",
                                      _log(suite.log), number))
        else:
            results.append(TestResult("kunit", suite_name, case, Status.NOTRUN,
                                      "the suite stopped early" if stopped
                                      else "not in the suite's output", "", number))
    return results


def kunit_complete(parser, text: str) -> bool:
    """True once the top-level KTAP plan is fulfilled: every suite reported."""
    if "KTAP version" not in text and "TAP version" not in text:
        return False
    main = parser.parse(text)
    return (main.expected_count is not None and main.counts.errors == 0
            and len(main.subtests) == main.expected_count
            and not any(_unseen(t) for t in main.subtests))
