"""What `selftests` and `kunit` share: their kernel arguments, the run
directory, and the reports."""

import sys
import time
from pathlib import Path
from typing import Sequence

from harness.commands.build import fragments_from
from harness.paths import check_results_dir, checked_out
from harness.selftests import results as sresults
from harness.selftests.kernel import TEST_FRAGMENTS, TestKernel, prepare, validate
from harness.selftests.results import Status, TestResult


def add_kernel_arguments(parser) -> None:
    parser.add_argument("--kernel", metavar="PATH",
                        help="run on this kernel image; the tests still come from "
                             "--source/--patches, which must be the kernel's")
    parser.add_argument("--modules", metavar="DIR", help="the --kernel's modules tree")
    parser.add_argument("--source", metavar="PATH|TARBALL|debian:VERSION",
                        help="kernel tree or tarball, or Debian's linux-source-VERSION "
                             "(6.1, 6.12, 7.2, 7.3; default: debian:7.3)")
    parser.add_argument("--patches", metavar="DIR|MBOX", action="append", default=[],
                        help="patch series for kernel and tests; may be repeated")
    parser.add_argument("--config", metavar="FRAGMENT", action="append", default=None,
                        help="config fragment (default: "
                             f"{' '.join(f.removesuffix('.config') for f in TEST_FRAGMENTS)} "
                             "and the selftests' own config); +NAME adds to the defaults")
    parser.add_argument("--accel", choices=["auto", "kvm", "tcg"], default="auto")
    parser.add_argument("--out", metavar="DIR", help="where the reports go "
                                                     "(default: a new results directory)")


def prepared(args, tests: Sequence[str] = (), selftests: bool = True,
             kunit: bool = False) -> (TestKernel, Path):
    """Check every input, then build or find the kernel and the test tools."""
    fragments = fragments_from(args.config, TEST_FRAGMENTS)
    out = checked_out(args.out, results=False)
    given = validate(args.source, args.patches, fragments, args.kernel, args.modules, tests,
                     selftests, kunit)
    check_results_dir()
    started = time.monotonic()
    test_kernel = prepare(args.source, args.patches, fragments, given, tests)
    test_kernel.build_s = round(time.monotonic() - started, 1)
    return test_kernel, out


def report(results: Sequence[TestResult], run_dir: Path, label: str, extra: dict) -> int:
    """Writes the reports, says them, and gives the exit status."""
    sresults.write_reports(results, run_dir, label, extra)
    return said(results, run_dir, label)


def said(results: Sequence[TestResult], run_dir: Path, label: str) -> int:
    """The mail block, the summary and where the reports are; the exit status."""
    paths = sresults.report_paths(run_dir)
    print(sresults.mail_block(results), end="")
    print(sresults.summary_line(label, results))
    print(f"reports: {paths['junit']} {paths['json']} {paths['mail']} {paths['kcidb']}", file=sys.stderr)
    if any(r.status == Status.CRASH for r in results):
        return 4
    return sresults.exit_status(results)
