"""What a kernel tree says about DAMON's own tests: the selftests, their
config, the KUnit suites and cases, and where the tree's KTAP parser lives."""

import re
from pathlib import Path
from typing import Dict, List

SELFTEST_DIR = "tools/testing/selftests/damon"
SELFTEST_CONFIG = f"{SELFTEST_DIR}/config"
KUNIT_TOOL_DIR = "tools/testing/kunit"
KUNIT_PARSER_FILES = ("kunit_parser.py", "kunit_printer.py")
KUNIT_HEADERS = "mm/damon/tests"
SUITE = "damon"     # kselftest's collection name: "selftests: damon: NAME"

_TEST_PROGS = re.compile(r"^TEST_PROGS\s*\+?=\s*(.*?)\s*$", re.MULTILINE)
_CASES = re.compile(r"struct\s+kunit_case\s+(\w+)\s*\[\]\s*=\s*\{(.*?)\};", re.DOTALL)
_CASE = re.compile(r"KUNIT_CASE\w*\(\s*(\w+)")
_SUITE = re.compile(r"struct\s+kunit_suite\s+\w+\s*=\s*\{(.*?)\};", re.DOTALL)
_SUITE_NAME = re.compile(r"\.name\s*=\s*\"([^\"]+)\"")
_SUITE_CASES = re.compile(r"\.test_cases\s*=\s*(\w+)")


def selftest_names(makefile: str) -> List[str]:
    """The programs kselftest runs for DAMON, in its order (TEST_PROGS)."""
    names: List[str] = []
    for match in _TEST_PROGS.finditer(makefile.replace("\\\n", " ")):
        names += match.group(1).split()
    return names


def kunit_cases(headers: Dict[str, str]) -> Dict[str, List[str]]:
    """{suite name: [case, ...]} from the KUnit test headers' source text.
    A suite's case array is looked up in its own file: the headers reuse
    array names (damon_test_cases is in core-kunit.h and vaddr-kunit.h)."""
    suites: Dict[str, List[str]] = {}
    for text in headers.values():
        arrays = {m.group(1): _CASE.findall(m.group(2)) for m in _CASES.finditer(text)}
        for match in _SUITE.finditer(text):
            name = _SUITE_NAME.search(match.group(1))
            cases = _SUITE_CASES.search(match.group(1))
            if name and cases:
                suites[name.group(1)] = arrays.get(cases.group(1), [])
    return suites


def tree_selftest_names(tree: Path) -> List[str]:
    return selftest_names((tree / SELFTEST_DIR / "Makefile").read_text(errors="replace"))


def tree_kunit_cases(tree: Path) -> Dict[str, List[str]]:
    headers = {str(p): p.read_text(errors="replace")
               for p in sorted((tree / KUNIT_HEADERS).glob("*-kunit.h"))}
    return kunit_cases(headers)
